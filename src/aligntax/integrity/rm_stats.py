"""Reward-model reliability statistics: strict-win accuracy, intervals, position and length bias.

Accuracy is RewardBench's: a pair counts only when the chosen answer scores *strictly* higher;
a tie is wrong (an RM that scores everything 0 gets 0, not 0.5).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Sequence

from aligntax.integrity.pairs import BIAS, PreferencePair
from aligntax.integrity.reward import PairScore


def strict_wins(scores: Sequence[PairScore]) -> list[float]:
    return [1.0 if s.chosen > s.rejected else 0.0 for s in scores]


def wilson(successes: float, n: int, confidence: float = 0.95) -> dict[str, float]:
    """Wilson score interval of a proportion (well behaved at 0, 1 and small n)."""
    if n == 0:
        return {"value": float("nan"), "low": float("nan"), "high": float("nan"), "method": "wilson"}
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return {"value": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half), "method": "wilson"}


def _bootstrap(values: list[float], iterations: int, seed: int, confidence: float) -> dict[str, Any]:
    from aligntax.ablate.stats import bootstrap_ci

    return bootstrap_ci([values], iterations=iterations, seed=seed, confidence=confidence).to_dict()


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    n = len(x)
    if n < 3:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


def length_bias(pairs: Sequence[PreferencePair], scores: Sequence[PairScore], confidence: float = 0.95) -> dict[str, Any]:
    """Does the score difference follow the length difference (characters)? Correlations, and
    accuracy split by whether the chosen answer is the shorter or the longer one."""
    d_len = [float(len(p.chosen) - len(p.rejected)) for p in pairs]
    d_score = [s.chosen - s.rejected for s in scores]
    wins = strict_wins(scores)
    shorter = [w for w, d in zip(wins, d_len) if d < 0]
    longer = [w for w, d in zip(wins, d_len) if d > 0]
    return {
        "pearson_score_diff_vs_length_diff": pearson(d_score, d_len),
        "spearman_score_diff_vs_length_diff": pearson(_ranks(d_score), _ranks(d_len)),
        "accuracy_chosen_shorter": {**wilson(sum(shorter), len(shorter), confidence), "n": len(shorter)},
        "accuracy_chosen_longer": {**wilson(sum(longer), len(longer), confidence), "n": len(longer)},
    }


def position_bias(scores: Sequence[PairScore], confidence: float = 0.95) -> dict[str, Any] | None:
    """For generative judges: how often the first position wins, and agreement under swap."""
    verdicts = [v for s in scores for v in s.extra.get("verdicts", [])]
    if not verdicts:
        return None
    parsed = [v for v in verdicts if v["verdict"] is not None]
    first = sum(1 for v in parsed if v["verdict"] == "A")
    swapped = [s.extra["verdicts"] for s in scores if len(s.extra.get("verdicts", [])) == 2]
    both = [vs for vs in swapped if all(v["picked_chosen"] is not None for v in vs)]
    agree = sum(1 for vs in both if vs[0]["picked_chosen"] == vs[1]["picked_chosen"])
    out: dict[str, Any] = {
        "unparsed_rate": 1 - len(parsed) / len(verdicts),
        "first_position_rate": {**wilson(first, len(parsed), confidence), "n": len(parsed)},
    }
    if swapped:
        out["agreement_under_swap"] = {**wilson(agree, len(both), confidence), "n": len(both)}
    else:  # random order: accuracy when the chosen answer was shown first vs second
        for label, shown_first in (("accuracy_chosen_first", True), ("accuracy_chosen_second", False)):
            hits = [float(bool(v["picked_chosen"])) for v in verdicts if v["chosen_first"] is shown_first]
            out[label] = {**wilson(sum(hits), len(hits), confidence), "n": len(hits)}
    return out


def subset_report(pairs: Sequence[PreferencePair], scores: Sequence[PairScore], *, iterations: int = 2000,
                  seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    n = len(pairs)
    ties = sum(1 for s in scores if s.chosen == s.rejected)
    kind = pairs[0].kind if pairs else "accuracy"
    out: dict[str, Any] = {"kind": kind, "n": n, "tie_rate": ties / n if n else float("nan")}
    if kind == BIAS:
        prefers_rewrite = [1.0 if s.rejected > s.chosen else 0.0 for s in scores]
        out["rewrite_preference_rate"] = {**wilson(sum(prefers_rewrite), n, confidence),
                                          "bootstrap": _bootstrap(prefers_rewrite, iterations, seed, confidence) if n else None}
        out["original_preference_rate"] = wilson(sum(strict_wins(scores)), n, confidence)
        out["mean_score_gain_of_rewrite"] = sum(s.rejected - s.chosen for s in scores) / n if n else None
    else:
        wins = strict_wins(scores)
        out["accuracy"] = {**wilson(sum(wins), n, confidence),
                           "bootstrap": _bootstrap(wins, iterations, seed, confidence) if n else None}
    out["length_bias"] = length_bias(pairs, scores, confidence)
    position = position_bias(scores, confidence)
    if position is not None:
        out["position_bias"] = position
    return out
