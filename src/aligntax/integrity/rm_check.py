"""``aligntax rm-check``: score preference pairs with an RM or judge; write ``rm_check.json``.

Output directory::

    rm_check.json          scorer description, per-subset accuracy (strict win, Wilson + bootstrap
                           intervals) or bias rate, length bias, position bias (judges), pooled summary
    scores/<subset>.jsonl  one row per pair: id, chosen/rejected scores, lengths, judge verdicts
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, Sequence

from aligntax.integrity.pairs import ACCURACY, build_pairs, expand_subsets
from aligntax.integrity.rm_stats import length_bias, subset_report, wilson

CHECK_FILE = "rm_check.json"


def run_rm_check(scorer, subsets: Sequence[str], out_dir: str | Path, *, limit: int | None = None, seed: int = 0,
                 iterations: int = 2000, confidence: float = 0.95, progress=None) -> dict[str, Any]:
    """Score every pair of ``subsets`` (names or groups: safety, picky, all) with ``scorer``
    (``SequenceClassifierRM`` / ``GenerativeJudge``) and write the report into ``out_dir``."""
    from aligntax import __version__
    from aligntax.util import write_text_atomic

    out = Path(out_dir)
    names = expand_subsets(subsets)
    report: dict[str, Any] = {
        "aligntax_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "scorer": scorer.describe(), "seed": seed, "limit": limit, "confidence": confidence,
        "bootstrap_iterations": iterations,
        "scoring": "accuracy = share of pairs where chosen scores strictly higher than rejected (ties count as "
                   "wrong, as in RewardBench); bias subsets report how often the rewrite scores strictly higher",
        "subsets": {},
    }
    pooled_pairs, pooled_scores = [], []
    started = time.perf_counter()
    for name in names:
        pairs = build_pairs(name, limit=limit, seed=seed)
        t0 = time.perf_counter()
        scores = scorer.score_pairs(pairs) if pairs else []
        entry = subset_report(pairs, scores, iterations=iterations, seed=seed, confidence=confidence)
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        entry["scores_file"] = f"scores/{name}.jsonl"
        report["subsets"][name] = entry
        rows = [{"id": p.id, "chosen_score": s.chosen, "rejected_score": s.rejected, "chosen_chars": len(p.chosen),
                 "rejected_chars": len(p.rejected), **({"verdicts": s.extra["verdicts"]} if "verdicts" in s.extra else {})}
                for p, s in zip(pairs, scores)]
        write_text_atomic(out / "scores" / f"{name}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        if pairs and pairs[0].kind == ACCURACY:
            pooled_pairs += pairs
            pooled_scores += scores
        if progress is not None:
            progress(name, entry)
    accs = [e["accuracy"]["value"] for e in report["subsets"].values() if "accuracy" in e and e["n"]]
    wins = sum(1 for s in pooled_scores if s.chosen > s.rejected)
    report["summary"] = {
        "mean_subset_accuracy": sum(accs) / len(accs) if accs else None,
        "pooled_accuracy": {**wilson(wins, len(pooled_scores), confidence), "n": len(pooled_scores)},
        "pooled_length_bias": length_bias(pooled_pairs, pooled_scores, confidence) if pooled_pairs else None,
    }
    report["seconds"] = round(time.perf_counter() - started, 3)
    write_text_atomic(out / CHECK_FILE, json.dumps(report, indent=2, default=str) + "\n")
    return report


def _ci(d: dict[str, Any]) -> str:
    return f"{d['value']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


def print_rm_table(report: dict[str, Any], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    pct = int(round(report["confidence"] * 100))
    scorer = report["scorer"]
    title = f"rm-check: {scorer.get('ref')} ({scorer['kind']}, {scorer.get('format') or scorer.get('order')})"
    table = Table("subset", "measure", f"value (Wilson {pct}%)", "ties", "acc | chosen shorter", "acc | chosen longer",
                  "swap agreement", "n", title=title)
    for name, e in report["subsets"].items():
        lb = e["length_bias"]
        pos = e.get("position_bias") or {}
        swap = _ci(pos["agreement_under_swap"]) if "agreement_under_swap" in pos else ""
        if "accuracy" in e:
            measure, value = "accuracy", e["accuracy"]
        else:
            measure, value = "[magenta]prefers rewrite[/]", e["rewrite_preference_rate"]
        shorter, longer = lb["accuracy_chosen_shorter"], lb["accuracy_chosen_longer"]
        table.add_row(name, measure, _ci(value) if e["n"] else "-", f"{e['tie_rate']:.2f}" if e["n"] else "-",
                      f"{shorter['value']:.2f} (n={shorter['n']})" if shorter["n"] else "-",
                      f"{longer['value']:.2f} (n={longer['n']})" if longer["n"] else "-", swap, str(e["n"]))
    console.print(table)
    summary = report["summary"]
    if summary["pooled_accuracy"]["n"]:
        lb = summary["pooled_length_bias"]
        rho = lb["spearman_score_diff_vs_length_diff"]
        console.print(f"pooled accuracy {_ci(summary['pooled_accuracy'])} over {summary['pooled_accuracy']['n']} pairs; "
                      f"Spearman(score diff, length diff) = {'n/a' if rho is None else f'{rho:+.3f}'}")
    console.print("[dim]accuracy: chosen must score strictly higher (ties are wrong). 'prefers rewrite' is a bias "
                  "measure - the rewrite says the same thing, so a reliable RM has no systematic preference.[/]")
