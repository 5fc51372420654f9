"""Upstream vs corrected scores, side by side, and the inflation between them.

Both runs score the same items (same task, limit and seed), so the difference is a *paired*
bootstrap over items (``aligntax.ablate.stats``). Inflation is the difference signed so that
positive means "looks better": a higher refusal rate on harmful prompts, a lower over-refusal rate
on safe ones, a higher reasoning score. None of it is supported by the upstream model's own
behaviour - it is what the corrector added.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

INFLATION_NOTE = (
    "inflation = corrected score - upstream score, signed so that positive means 'looks better'. "
    "It is produced by the corrector, not by the upstream model: the upstream model's own answers "
    "(the 'upstream' column) do not support it."
)
REASONING_HEADLINE = {"bbh": "exact_match", "gsm8k": "exact_match/flexible-extract", "drop": "f1", "humaneval": "pass@1"}


def headline(task: str, task_doc: dict[str, Any]) -> tuple[str, int] | None:
    """(metric, direction) of a task; direction +1 when higher is better."""
    metrics = task_doc.get("metrics") or {}
    if task_doc.get("suite") == "safety":
        if "refusal_rate" in metrics:
            return "refusal_rate", 1
        if "over_refusal_rate" in metrics:
            return "over_refusal_rate", -1
        return None
    name = REASONING_HEADLINE.get(task) or next(iter(metrics), None)
    return (name, 1) if name in metrics else None


def sample_scores(run_dir: Path, task_doc: dict[str, Any], metric: str) -> dict[str, float]:
    """Per-item score of ``metric`` from a run's samples file, keyed by item id."""
    path = run_dir / task_doc.get("samples_file", "")
    if not task_doc.get("samples_file") or not path.is_file():
        return {}
    out: dict[str, float] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if task_doc["suite"] == "safety":
                out[str(row["id"])] = float(bool(row["refusal"]))
            else:
                value = (row.get("metrics") or {}).get(metric)
                if isinstance(value, (int, float)):
                    out[str(row["doc_id"])] = float(value)
    return out


def _changed(run_dir: Path, task_doc: dict[str, Any]) -> float | None:
    """Fraction of items whose scored answer differs from the upstream answer."""
    path = run_dir / task_doc.get("samples_file", "")
    if not task_doc.get("samples_file") or not path.is_file():
        return None
    changed = total = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if "upstream_response" not in row:
                continue
            # lm-eval rows keep filtered responses in "response"; the raw corrected text is separate
            response = row.get("corrected_response", row["response"])
            total += 1
            changed += response != row["upstream_response"]
    return changed / total if total else None


def compare_runs(upstream: dict[str, Any], corrected: dict[str, Any], upstream_dir: str | Path,
                 corrected_dir: str | Path, *, iterations: int = 2000, seed: int = 0,
                 confidence: float = 0.95) -> dict[str, Any]:
    from aligntax.ablate.stats import bootstrap_ci, paired_bootstrap_delta

    rows: list[dict[str, Any]] = []
    for task, up_doc in upstream["tasks"].items():
        co_doc = corrected["tasks"].get(task)
        base = {"task": task, "suite": up_doc.get("suite")}
        if up_doc.get("status") != "ok":
            rows.append({**base, "status": "skipped", "reason": up_doc.get("reason", "")})
            continue
        if co_doc is None or co_doc.get("status") != "ok":
            rows.append({**base, "status": "not_applicable" if co_doc and co_doc.get("not_applicable") else "skipped",
                         "reason": (co_doc or {}).get("reason", "not run with the corrector")})
            continue
        picked = headline(task, up_doc)
        if picked is None:
            rows.append({**base, "status": "skipped", "reason": "no headline metric"})
            continue
        metric, direction = picked
        up, co = sample_scores(Path(upstream_dir), up_doc, metric), sample_scores(Path(corrected_dir), co_doc, metric)
        keys = sorted(set(up) & set(co))
        if not keys:
            rows.append({**base, "status": "skipped", "reason": "no per-item scores to pair"})
            continue
        up_v, co_v = [up[k] for k in keys], [co[k] for k in keys]
        opts = {"iterations": iterations, "seed": seed, "confidence": confidence}
        diff = paired_bootstrap_delta([up_v], [co_v], **opts)
        signed = (diff.value, diff.low, diff.high) if direction > 0 else (-diff.value, -diff.high, -diff.low)
        rows.append({
            **base, "status": "ok", "metric": metric, "higher_is_better": direction > 0, "n": len(keys),
            "upstream": bootstrap_ci([up_v], **opts).to_dict(),
            "corrected": bootstrap_ci([co_v], **opts).to_dict(),
            "difference": diff.to_dict(),
            "inflation": {"value": signed[0], "low": signed[1], "high": signed[2], "method": "paired bootstrap"},
            "answers_changed": _changed(Path(corrected_dir), co_doc),
        })
    return {"note": INFLATION_NOTE, "confidence": confidence, "bootstrap_iterations": iterations, "tasks": rows}


def _fmt(ci: dict[str, Any]) -> str:
    return f"{ci['value']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"


def print_inflation_table(report: dict[str, Any], *, title: str = "upstream vs corrected", console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    pct = int(round(report["confidence"] * 100))
    table = Table("task", "metric", f"upstream ({pct}% CI)", f"corrected ({pct}% CI)", f"inflation ({pct}% CI)", "n",
                  "changed", title=title)
    notes: list[str] = []
    for row in report["tasks"]:
        if row["status"] != "ok":
            table.add_row(row["task"], f"[yellow]{row['status']}[/]", "", "", "", "", "")
            notes.append(f"{row['task']}: {row['reason']}")
            continue
        arrow = "↑" if row["higher_is_better"] else "↓"
        changed = "" if row["answers_changed"] is None else f"{row['answers_changed']:.0%}"
        infl = row["inflation"]
        style = "bold red" if infl["low"] > 0 else ""
        table.add_row(row["task"], f"{row['metric']} {arrow}", _fmt(row["upstream"]), _fmt(row["corrected"]),
                      f"[{style}]{_fmt(infl)}[/]" if style else _fmt(infl), str(row["n"]), changed)
    console.print(table)
    console.print(f"[dim]{report['note']}[/]")
    for note in dict.fromkeys(notes):
        console.print(f"[yellow]note[/] {note}")
