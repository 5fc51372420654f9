"""Bootstrap confidence intervals over evaluation items and training seeds.

A score for one variant is the mean over its training seeds of the mean over items. Its CI
resamples both sources of noise, hierarchically: draw seeds with replacement, then items with
replacement within each drawn seed (independently per draw). A delta between two variants is a
*paired* bootstrap: both variants were evaluated on the same items, so each iteration draws one
set of item indices and applies it to both (item difficulty cancels), with seeds drawn
independently per variant. Percentile intervals; every function takes a seed and is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Interval:
    value: float  # the point estimate (mean over seeds of the item mean)
    low: float
    high: float
    method: str = "bootstrap"  # bootstrap | normal (no per-item data) | none (a single value)

    def to_dict(self) -> dict[str, float | str]:
        return {"value": self.value, "low": self.low, "high": self.high, "method": self.method}


def _matrix(per_seed: Sequence[ArrayLike]) -> np.ndarray:
    """Seeds x items; every seed must score the same items (the eval seed is shared)."""
    rows = [np.asarray(r, dtype=float) for r in per_seed]
    if not rows or any(r.ndim != 1 or r.size == 0 for r in rows):
        raise ValueError("need at least one seed with at least one item score")
    if len({r.size for r in rows}) != 1:
        raise ValueError(f"every seed must score the same items, got sizes {[r.size for r in rows]}")
    return np.vstack(rows)


def point_estimate(per_seed: Sequence[ArrayLike]) -> float:
    return float(_matrix(per_seed).mean())


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _seed_weights(rng: np.random.Generator, iterations: int, k: int) -> np.ndarray:
    """iterations x k: how often each seed was drawn, divided by k (rows sum to 1)."""
    picks = rng.integers(0, k, size=(iterations, k))
    counts = np.zeros((iterations, k))
    np.add.at(counts, (np.arange(iterations)[:, None], picks), 1.0)
    return counts / k


def bootstrap_ci(per_seed: Sequence[ArrayLike], *, iterations: int = 2000, seed: int = 0,
                 confidence: float = 0.95) -> Interval:
    """CI of the mean score; ``per_seed[s][i]`` is item i's score under training seed s."""
    scores = _matrix(per_seed)
    k, n = scores.shape
    rng = np.random.default_rng(seed)
    draws = np.empty(iterations)
    # Chunked so memory stays bounded (iterations x k x n indices at most per chunk).
    chunk = max(1, min(iterations, 4_000_000 // max(1, k * n)))
    for start in range(0, iterations, chunk):
        m = min(chunk, iterations - start)
        seeds = rng.integers(0, k, size=(m, k))
        items = rng.integers(0, n, size=(m, k, n))
        draws[start:start + m] = scores[seeds[:, :, None], items].mean(axis=(1, 2))
    low, high = _percentiles(draws, confidence)
    return Interval(float(scores.mean()), low, high)


def paired_bootstrap_delta(reference: Sequence[ArrayLike], candidate: Sequence[ArrayLike], *,
                           iterations: int = 2000, seed: int = 0, confidence: float = 0.95,
                           relative: bool = False) -> Interval:
    """CI of ``mean(candidate) - mean(reference)`` (or that difference / mean(reference) when
    ``relative``). Column i of both must be the same item."""
    ref, cand = _matrix(reference), _matrix(candidate)
    if ref.shape[1] != cand.shape[1]:
        raise ValueError(f"paired bootstrap needs the same items: {ref.shape[1]} vs {cand.shape[1]}")
    n = ref.shape[1]
    rng = np.random.default_rng(seed)
    draws = np.empty(iterations)
    chunk = max(1, min(iterations, 4_000_000 // max(1, n * (ref.shape[0] + cand.shape[0]))))
    for start in range(0, iterations, chunk):
        m = min(chunk, iterations - start)
        w_ref = _seed_weights(rng, m, ref.shape[0])
        w_cand = _seed_weights(rng, m, cand.shape[0])
        items = rng.integers(0, n, size=(m, n))
        # seed-weighted item scores, then the same item draw for both variants
        ref_means = np.take_along_axis(w_ref @ ref, items, axis=1).mean(axis=1)
        cand_means = np.take_along_axis(w_cand @ cand, items, axis=1).mean(axis=1)
        diff = cand_means - ref_means
        if relative:
            with np.errstate(divide="ignore", invalid="ignore"):
                diff = diff / ref_means
        draws[start:start + m] = diff
    point = float(cand.mean() - ref.mean())
    if relative:
        base = float(ref.mean())
        point = point / base if base else float("nan")
        draws = draws[np.isfinite(draws)]
        if draws.size == 0:
            return Interval(point, float("nan"), float("nan"))
    low, high = _percentiles(draws, confidence)
    return Interval(point, low, high)


def normal_ci(value: float, stderr: float | None, confidence: float = 0.95) -> Interval:
    """Fallback when per-item scores are not available: value +- z * stderr."""
    if stderr is None:
        return Interval(value, float("nan"), float("nan"), "none")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return Interval(value, value - z * stderr, value + z * stderr, "normal")
