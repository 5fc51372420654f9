"""From eval outputs to the paper's table: per-run scores, per-variant aggregates with CIs, deltas.

``collect`` reads one or more ablation directories (their ``ablation.json`` + each eval step's
``results.json`` and ``samples/*.jsonl``); ``aggregate`` turns the runs into one row per
variant x benchmark x metric with a bootstrap CI and the paired-bootstrap delta (absolute and
relative %) against the reference variant; ``write_csv`` writes both kinds of row.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aligntax.ablate.stats import Interval, bootstrap_ci, normal_ci, paired_bootstrap_delta
from aligntax.errors import InputError

SAFETY_ITEM_FIELD = {"refusal_rate": "refusal", "over_refusal_rate": "refusal", "partial_refusal_rate": "partial_refusal"}
POOLED_HARMFUL = ("safety", "harmful_refusal_rate")
POOLED_OVER = ("safety", "over_refusal_rate")
REASONING_MEAN = ("reasoning", "mean")


def headline_metric(task: str, metrics: dict[str, Any]) -> str | None:
    from aligntax.evals.runner import HEADLINE

    for key in (HEADLINE.get(task), "refusal_rate", "over_refusal_rate"):
        if key and key in metrics:
            return key
    return next(iter(metrics), None)


@dataclass
class Score:
    """One run's score on one task and metric, with its per-item values when they were logged."""

    variant: str
    seed: int | None
    dose: float | None
    task: str
    metric: str
    suite: str
    value: float
    stderr: float | None
    n: int
    headline: bool
    items: dict[str, float] | None = field(default=None, repr=False)


@dataclass
class Collected:
    reference: str
    scores: list[Score]
    doses: dict[str, float | None]
    meta: list[dict[str, Any]]  # one ablation.json per directory (without the runs)
    variant_order: list[str]


def _item_values(suite: str, metric: str, rows: list[dict[str, Any]]) -> dict[str, float] | None:
    out: dict[str, float] = {}
    for row in rows:
        key = str(row.get("id") if row.get("id") is not None else row.get("doc_id"))
        if suite == "safety":
            if metric == "empty_answer_rate":
                value = float(not str(row.get("response") or "").strip())
            elif metric in SAFETY_ITEM_FIELD:
                value = float(bool(row.get(SAFETY_ITEM_FIELD[metric])))
            else:
                return None
        else:
            raw = (row.get("metrics") or {}).get(metric)
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                return None
            value = float(raw)
        if key in out:
            return None  # ids are not unique: items cannot be paired
        out[key] = value
    return out or None


def _read_eval_dir(path: Path, variant: str, seed: int | None, dose: float | None) -> list[Score]:
    results_file = path / "results.json"
    if not results_file.is_file():
        raise InputError(f"{results_file} is missing (was the eval step interrupted? re-run `aligntax ablate`)")
    results = json.loads(results_file.read_text(encoding="utf-8"))
    scores = []
    for task, entry in results["tasks"].items():
        if entry.get("status") != "ok":
            continue
        rows = None
        # run_eval drops samples_file from results.json when it reuses a checkpointed task: fall back
        # to the conventional location.
        samples = path / (entry.get("samples_file") or f"samples/{task.replace(':', '__').replace('/', '_')}.jsonl")
        if samples.is_file():
            with samples.open(encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
        headline = headline_metric(task, entry["metrics"])
        for metric, m in entry["metrics"].items():
            items = _item_values(entry["suite"], metric, rows) if rows else None
            # Per-item values must reproduce the reported number, or they are not what it measures.
            if items is not None and not math.isclose(float(np.mean(list(items.values()))), m["value"], abs_tol=1e-6):
                items = None
            scores.append(Score(variant, seed, dose, task, metric, entry["suite"], float(m["value"]), m["stderr"],
                                int(m["n"]), metric == headline, items))
    return scores


def collect(dirs: list[str | Path], reference: str | None = None) -> Collected:
    """Read ablation directories; a variant name seen in two directories with different runs is
    prefixed with its directory's name."""
    scores: list[Score] = []
    doses: dict[str, float | None] = {}
    meta, order = [], []
    seen: dict[str, Path] = {}
    for d in map(Path, dirs):
        index_file = d / "ablation.json"
        if not index_file.is_file():
            raise InputError(f"{d} is not an ablation directory (no ablation.json); run `aligntax ablate` first")
        index = json.loads(index_file.read_text(encoding="utf-8"))
        meta.append({k: v for k, v in index.items() if k != "runs"})
        for run in index["runs"]:
            name = run["variant"]
            if name in seen and seen[name] != d:
                name = f"{d.name}/{name}"
            seen.setdefault(name, d)
            doses[name] = run.get("dose")
            if name not in order:
                order.append(name)
            for rel in run["evals"]:
                scores.extend(_read_eval_dir(d / rel, name, run.get("seed"), run.get("dose")))
    ref = reference or meta[0]["reference"]
    if ref not in order:
        raise InputError(f"reference variant {ref!r} has no results; variants: {', '.join(order)}")
    return Collected(ref, scores, doses, meta, order)


@dataclass
class Aggregate:
    variant: str
    dose: float | None
    task: str
    metric: str
    suite: str
    headline: bool
    n: int
    seeds: int
    score: Interval
    delta: Interval | None = None  # candidate - reference
    rel_delta: Interval | None = None  # (candidate - reference) / reference


def _pooled(scores: list[Score]) -> list[Score]:
    """Pooled safety rates (items of every harmful source together) and the mean reasoning score
    (each task's items weighted so the item mean is the mean of the task means)."""
    out = []
    keyed: dict[tuple[str, int | None], list[Score]] = {}
    for s in scores:
        if s.headline:
            keyed.setdefault((s.variant, s.seed), []).append(s)
    for (variant, seed), group in keyed.items():
        for (suite, metric), members in ((POOLED_HARMFUL, [s for s in group if s.metric == "refusal_rate"]),
                                         (POOLED_OVER, [s for s in group if s.metric == "over_refusal_rate"])):
            if not members:
                continue
            n = sum(s.n for s in members)
            value = sum(s.value * s.n for s in members) / n
            items = None
            if all(s.items for s in members):
                items = {f"{s.task}:{k}": v for s in members for k, v in s.items.items()}  # type: ignore[union-attr]
            out.append(Score(variant, seed, members[0].dose, "ALL", metric, suite, value, None, n, True, items))
        reasoning = [s for s in group if s.suite == "reasoning"]
        if reasoning:
            value = float(np.mean([s.value for s in reasoning]))
            items = None
            if all(s.items for s in reasoning):
                total, t = sum(len(s.items) for s in reasoning), len(reasoning)  # type: ignore[arg-type]
                items = {f"{s.task}:{k}": v * total / (t * len(s.items))  # type: ignore[arg-type]
                         for s in reasoning for k, v in s.items.items()}  # type: ignore[union-attr]
            out.append(Score(variant, seed, reasoning[0].dose, "ALL", "mean", "reasoning", value, None,
                             sum(s.n for s in reasoning), True, items))
    return out


def aggregate(collected: Collected, *, iterations: int = 2000, seed: int = 0, confidence: float = 0.95) -> list[Aggregate]:
    scores = collected.scores + _pooled(collected.scores)
    cells: dict[tuple[str, str], dict[str, list[Score]]] = {}
    for s in scores:
        cells.setdefault((s.task, s.metric), {}).setdefault(s.variant, []).append(s)
    rows: list[Aggregate] = []
    kw = {"iterations": iterations, "seed": seed, "confidence": confidence}
    for (task, metric), by_variant in cells.items():
        runs_ref = by_variant.get(collected.reference)
        # items every run of every variant scored: the ones a paired comparison can use
        common = None
        if all(r.items for runs in by_variant.values() for r in runs):
            common = sorted(set.intersection(*(set(r.items) for runs in by_variant.values() for r in runs)))  # type: ignore[arg-type]
        for variant in collected.variant_order:
            runs = by_variant.get(variant)
            if not runs:
                continue
            runs = sorted(runs, key=lambda r: (r.seed is None, r.seed or 0))
            value = float(np.mean([r.value for r in runs]))
            matrix = [[r.items[k] for k in common] for r in runs] if common else None  # type: ignore[index]
            if matrix:
                ci = bootstrap_ci(matrix, **kw)
                ci = Interval(value, ci.low, ci.high, ci.method)
            else:
                pooled_se = math.sqrt(sum((r.stderr or 0) ** 2 for r in runs)) / len(runs) if all(
                    r.stderr is not None for r in runs) else None
                ci = normal_ci(value, pooled_se, confidence)
            row = Aggregate(variant, collected.doses.get(variant), task, metric, runs[0].suite, runs[0].headline,
                            runs[0].n, len(runs), ci)
            if runs_ref and variant != collected.reference:
                ref_value = float(np.mean([r.value for r in runs_ref]))
                delta, rel = value - ref_value, ((value - ref_value) / ref_value if ref_value else float("nan"))
                if matrix:
                    ref_matrix = [[r.items[k] for k in common] for r in runs_ref]  # type: ignore[index]
                    d = paired_bootstrap_delta(ref_matrix, matrix, **kw)
                    r = paired_bootstrap_delta(ref_matrix, matrix, relative=True, **kw)
                    row.delta, row.rel_delta = Interval(delta, d.low, d.high), Interval(rel, r.low, r.high)
                else:
                    row.delta = Interval(delta, float("nan"), float("nan"), "none")
                    row.rel_delta = Interval(rel, float("nan"), float("nan"), "none")
            rows.append(row)
    return rows


CSV_COLUMNS = ["row", "variant", "dose", "seed", "task", "metric", "suite", "headline", "value", "stderr", "n",
               "ci_low", "ci_high", "ci_method", "delta", "delta_low", "delta_high", "rel_delta_pct",
               "rel_delta_pct_low", "rel_delta_pct_high"]


def _num(x: float | None, scale: float = 1.0) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(round(x * scale, 10))


def write_csv(path: Path, collected: Collected, rows: list[Aggregate]) -> Path:
    """``run`` rows: one per variant x seed x task x metric, exactly as in results.json;
    ``aggregate`` rows: mean over seeds with CI and deltas against the reference (seed = ``all``)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for s in collected.scores:
            w.writerow({"row": "run", "variant": s.variant, "dose": _num(s.dose), "seed": "" if s.seed is None else s.seed,
                        "task": s.task, "metric": s.metric, "suite": s.suite, "headline": int(s.headline),
                        "value": _num(s.value), "stderr": _num(s.stderr), "n": s.n})
        for a in rows:
            w.writerow({"row": "aggregate", "variant": a.variant, "dose": _num(a.dose), "seed": "all", "task": a.task,
                        "metric": a.metric, "suite": a.suite, "headline": int(a.headline), "value": _num(a.score.value),
                        "n": a.n, "ci_low": _num(a.score.low), "ci_high": _num(a.score.high), "ci_method": a.score.method,
                        "delta": _num(a.delta.value) if a.delta else "",
                        "delta_low": _num(a.delta.low) if a.delta else "",
                        "delta_high": _num(a.delta.high) if a.delta else "",
                        "rel_delta_pct": _num(a.rel_delta.value, 100) if a.rel_delta else "",
                        "rel_delta_pct_low": _num(a.rel_delta.low, 100) if a.rel_delta else "",
                        "rel_delta_pct_high": _num(a.rel_delta.high, 100) if a.rel_delta else ""})
    tmp.replace(path)
    return path
