"""``results.csv`` + ``report.html`` from one or more ablation directories.

``build_report`` is what ``aligntax ablate`` calls after its runs and what ``aligntax report DIR…``
calls on existing directories (several directories merge into one report). The page is
self-contained: inline CSS and SVG, no scripts, no network; Jinja2 autoescapes every value.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aligntax import __version__
from aligntax.ablate.table import Aggregate, aggregate, collect, write_csv

TEMPLATE = "report.html.j2"


@dataclass
class ReportResult:
    html: Path
    csv: Path
    rows: list[Aggregate]
    reference: str


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pct(interval, unit: str = "%") -> dict[str, Any]:
    """A delta as text: relative ``%`` for scores, percentage points ``pp`` for safety rates."""
    if interval is None or math.isnan(interval.value):
        return {"text": "–", "ci": "", "sign": 0}
    ci = "" if math.isnan(interval.low) else f"[{interval.low * 100:+.1f}, {interval.high * 100:+.1f}]"
    significant = not math.isnan(interval.low) and (interval.low > 0 or interval.high < 0)
    return {"text": f"{interval.value * 100:+.1f}{unit if unit == '%' else ' ' + unit}", "ci": ci,
            "sign": (1 if interval.value > 0 else -1) if significant else 0}


def _table(rows: list[Aggregate], variants: list[str]) -> dict[str, Any]:
    """The paper's table: one line per benchmark (headline metric), one column group per variant."""
    lines = []
    keys = list(dict.fromkeys((a.task, a.metric) for a in rows if a.headline))
    keys.sort(key=lambda k: (k[0] == "ALL", k[0]))
    for task, metric in keys:
        cells = {a.variant: a for a in rows if (a.task, a.metric) == (task, metric)}
        first = next(iter(cells.values()))
        label = task if task != "ALL" else {"mean": "reasoning mean", "harmful_refusal_rate": "safety: harmful (pooled)",
                                            "over_refusal_rate": "safety: over-refusal"}.get(metric, metric)
        direction = "lower is better" if metric == "over_refusal_rate" else ""
        lines.append({
            "label": label, "metric": metric, "n": first.n, "direction": direction, "pooled": task == "ALL",
            "cells": [{
                "value": _fmt(cells[v].score.value) if v in cells else "–",
                "ci": (f"[{_fmt(cells[v].score.low)}, {_fmt(cells[v].score.high)}]"
                       if v in cells and not math.isnan(cells[v].score.low) else ""),
                "delta": (_pct(None) if v not in cells else
                          _pct(cells[v].delta, "pp") if first.suite == "safety" else _pct(cells[v].rel_delta)),
            } for v in variants],
        })
    return {"variants": variants, "lines": lines}


def build_report(dirs: list[str | Path], out_dir: str | Path | None = None, *, reference: str | None = None,
                 iterations: int | None = None, seed: int | None = None, confidence: float | None = None,
                 title: str | None = None) -> ReportResult:
    """Write ``results.csv`` and ``report.html`` into ``out_dir`` (default: the first directory)."""
    import jinja2
    from markupsafe import Markup

    from aligntax.ablate.plots import delta_plot, dose_plot, frontier_plot

    collected = collect(dirs, reference)
    boot = collected.meta[0].get("bootstrap") or {}
    iterations = iterations or boot.get("iterations", 2000)
    seed = boot.get("seed", 0) if seed is None else seed
    confidence = confidence or boot.get("confidence", 0.95)
    rows = aggregate(collected, iterations=iterations, seed=seed, confidence=confidence)
    out = Path(out_dir or dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(out / "results.csv", collected, rows)

    env = jinja2.Environment(loader=jinja2.PackageLoader("aligntax.ablate", "templates"),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined)
    plots = {"delta": delta_plot(rows, collected.reference), "dose": dose_plot(rows), "frontier": frontier_plot(rows)}
    variants = [v for v in collected.variant_order if any(a.variant == v for a in rows)]
    seeds_per_variant = {v: sorted({s.seed for s in collected.scores if s.variant == v and s.seed is not None})
                         for v in variants}
    html = env.get_template(TEMPLATE).render(
        title=title or " + ".join(m["experiment"] for m in collected.meta),
        generated=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        version=__version__,
        meta=collected.meta,
        reference=collected.reference,
        table=_table(rows, variants),
        seeds=seeds_per_variant,
        doses={v: collected.doses.get(v) for v in variants},
        plots={k: Markup(v) if v else None for k, v in plots.items()},
        bootstrap={"iterations": iterations, "seed": seed, "confidence": confidence},
        any_normal=any(a.score.method == "normal" for a in rows),
        sources=[str(Path(d)) for d in dirs],
    )
    html_path = out / "report.html"
    tmp = out / ".report.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(html_path)
    return ReportResult(html_path, csv_path, rows, collected.reference)
