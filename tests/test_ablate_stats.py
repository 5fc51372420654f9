"""Bootstrap CIs against known distributions: width and coverage for Bernoulli items, the seed
level of the hierarchy, paired deltas where item difficulty cancels, and reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aligntax.ablate.stats import bootstrap_ci, normal_ci, paired_bootstrap_delta, point_estimate


def test_bernoulli_ci_matches_the_binomial_standard_error():
    rng = np.random.default_rng(1)
    items = (rng.random(2000) < 0.3).astype(float)
    ci = bootstrap_ci([items], iterations=2000, seed=0)
    p = items.mean()
    half = 1.96 * math.sqrt(p * (1 - p) / items.size)
    assert ci.value == pytest.approx(p)
    assert ci.low < p < ci.high
    assert (ci.high - ci.low) / 2 == pytest.approx(half, rel=0.1)


def test_coverage_of_the_true_mean_is_close_to_95_percent():
    rng = np.random.default_rng(7)
    hits = 0
    trials = 200
    for t in range(trials):
        items = (rng.random(300) < 0.6).astype(float)
        ci = bootstrap_ci([items], iterations=400, seed=t)
        hits += ci.low <= 0.6 <= ci.high
    assert 0.88 <= hits / trials <= 0.99


def test_seed_variance_widens_the_interval():
    rng = np.random.default_rng(3)
    base = (rng.random(500) < 0.5).astype(float)
    # three training seeds that shift every item's score: the seed level must show in the CI
    shifted = [np.clip(base + offset, 0, 1) for offset in (-0.2, 0.0, 0.2)]
    same = [base, base, base]
    wide = bootstrap_ci(shifted, iterations=1000, seed=0)
    narrow = bootstrap_ci(same, iterations=1000, seed=0)
    assert (wide.high - wide.low) > 1.5 * (narrow.high - narrow.low)
    assert point_estimate(shifted) == pytest.approx(np.mean(shifted))


def test_same_seed_same_interval_and_different_seed_differs():
    items = np.random.default_rng(0).random(100)
    a = bootstrap_ci([items], iterations=500, seed=11)
    assert a == bootstrap_ci([items], iterations=500, seed=11)
    assert a != bootstrap_ci([items], iterations=500, seed=12)


def test_paired_delta_cancels_item_difficulty():
    rng = np.random.default_rng(5)
    difficulty = rng.random(400)  # widely varying per-item scores
    reference = [difficulty]
    candidate = [difficulty + 0.05]
    d = paired_bootstrap_delta(reference, candidate, iterations=1000, seed=0)
    assert d.value == pytest.approx(0.05) and d.low == pytest.approx(0.05) and d.high == pytest.approx(0.05)
    r = paired_bootstrap_delta(reference, candidate, iterations=1000, seed=0, relative=True)
    assert r.value == pytest.approx(0.05 / difficulty.mean())
    # unpaired CIs of the two means overlap heavily although the paired delta is clearly positive
    a, b = bootstrap_ci(reference, seed=0), bootstrap_ci(candidate, seed=0)
    assert a.high > b.low


def test_paired_delta_of_identical_variants_is_zero_and_noise_straddles_zero():
    rng = np.random.default_rng(9)
    items = (rng.random(300) < 0.4).astype(float)
    zero = paired_bootstrap_delta([items], [items], iterations=500, seed=0)
    assert (zero.value, zero.low, zero.high) == (0.0, 0.0, 0.0)
    flipped = items.copy()
    flip = rng.choice(300, 6, replace=False)
    flipped[flip] = 1 - flipped[flip]  # a few items change both ways: no real effect
    d = paired_bootstrap_delta([items], [flipped], iterations=1000, seed=0)
    assert d.low <= 0 <= d.high


def test_paired_delta_with_several_seeds_and_a_real_effect():
    rng = np.random.default_rng(2)
    ref = [(rng.random(600) < 0.40).astype(float) for _ in range(3)]
    cand = [(rng.random(600) < 0.55).astype(float) for _ in range(3)]
    d = paired_bootstrap_delta(ref, cand, iterations=1000, seed=0)
    assert 0.0 < d.low < d.value < d.high
    assert d.value == pytest.approx(np.mean(cand) - np.mean(ref))


def test_input_errors_and_normal_fallback():
    with pytest.raises(ValueError, match="same items"):
        bootstrap_ci([[1.0, 0.0], [1.0]])
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap_delta([[1.0, 0.0]], [[1.0, 0.0, 1.0]])
    with pytest.raises(ValueError):
        bootstrap_ci([])
    n = normal_ci(0.5, 0.1)
    assert (n.low, n.high) == (pytest.approx(0.5 - 0.196, abs=1e-3), pytest.approx(0.5 + 0.196, abs=1e-3))
    assert normal_ci(0.5, None).method == "none"
