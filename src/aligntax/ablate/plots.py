"""The report's figures, as inline SVG strings (matplotlib, Agg backend - no display, no files).

* ``delta_plot``: relative delta (%) vs the reference per benchmark, one bar per variant, CI whiskers.
* ``dose_plot``: score vs % of the tagged (aligned) rows kept, from variants that carry a dose.
* ``frontier_plot``: mean reasoning score vs harmful-refusal rate and vs over-refusal rate.
"""

from __future__ import annotations

import io
import math
import re
from typing import Sequence

from aligntax.ablate.table import POOLED_HARMFUL, POOLED_OVER, REASONING_MEAN, Aggregate


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _svg(fig) -> str:
    plt = _pyplot()
    buf = io.StringIO()
    # text as <text> (escaped by matplotlib), fixed ids and no date: the same data gives the same bytes
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "aligntax"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined into HTML


def _label(a: Aggregate) -> str:
    return f"{a.task}" if a.task != "ALL" else f"{a.suite}:{a.metric}"


def _err(interval, scale: float = 1.0) -> tuple[float, float]:
    if interval is None or math.isnan(interval.low) or math.isnan(interval.high):
        return 0.0, 0.0
    return max(0.0, (interval.value - interval.low) * scale), max(0.0, (interval.high - interval.value) * scale)


def delta_plot(rows: Sequence[Aggregate], reference: str) -> str | None:
    cells = [a for a in rows if a.headline and a.rel_delta is not None and a.task != "ALL"]
    if not cells:
        return None
    plt = _pyplot()
    benchmarks = list(dict.fromkeys(_label(a) for a in cells))
    variants = list(dict.fromkeys(a.variant for a in cells))
    width = 0.8 / len(variants)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(benchmarks) * max(1, len(variants)) ** 0.5), 3.8))
    for i, variant in enumerate(variants):
        by_bench = {_label(a): a for a in cells if a.variant == variant}
        xs = [b + (i - (len(variants) - 1) / 2) * width for b in range(len(benchmarks))]
        vals, lows, highs = [], [], []
        for bench in benchmarks:
            a = by_bench.get(bench)
            value = a.rel_delta.value * 100 if a and not math.isnan(a.rel_delta.value) else float("nan")
            lo, hi = _err(a.rel_delta, 100) if a else (0.0, 0.0)
            vals.append(value)
            lows.append(lo)
            highs.append(hi)
        ax.bar(xs, vals, width, yerr=[lows, highs], capsize=2, label=variant)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(benchmarks)), benchmarks, rotation=30, ha="right")
    ax.set_ylabel(f"% change vs {reference}")
    ax.set_title("Relative delta per benchmark (95% CI, paired bootstrap)")
    ax.legend(fontsize=8, ncol=min(4, len(variants)))
    return _svg(fig)


def dose_plot(rows: Sequence[Aggregate]) -> str | None:
    dosed = [a for a in rows if a.headline and a.dose is not None]
    if len({a.dose for a in dosed}) < 2:
        return None
    plt = _pyplot()
    benchmarks = list(dict.fromkeys(_label(a) for a in dosed))
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for bench in benchmarks:
        points = sorted((a for a in dosed if _label(a) == bench), key=lambda a: a.dose)
        xs = [a.dose * 100 for a in points]
        ys = [a.score.value for a in points]
        errs = list(zip(*[_err(a.score) for a in points]))
        ax.errorbar(xs, ys, yerr=[list(errs[0]), list(errs[1])], marker="o", capsize=3, label=bench)
    ax.set_xlabel("% of aligned rows kept")
    ax.set_ylabel("score")
    ax.set_title("Dose-response (95% CI over items and seeds)")
    ax.legend(fontsize=8)
    return _svg(fig)


def frontier_plot(rows: Sequence[Aggregate]) -> str | None:
    def pick(suite_metric: tuple[str, str]) -> dict[str, Aggregate]:
        return {a.variant: a for a in rows if a.task == "ALL" and (a.suite, a.metric) == suite_metric}

    reasoning, harmful, over = pick(REASONING_MEAN), pick(POOLED_HARMFUL), pick(POOLED_OVER)
    panels = [(name, safety) for name, safety in (("harmful-prompt refusal rate (higher = safer)", harmful),
                                                   ("over-refusal rate on safe prompts (lower = more helpful)", over))
              if set(safety) & set(reasoning)]
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.0), squeeze=False)
    for ax, (xlabel, safety) in zip(axes[0], panels):
        for variant in [v for v in reasoning if v in safety]:
            x, y = safety[variant].score, reasoning[variant].score
            xerr, yerr = _err(x), _err(y)
            ax.errorbar([x.value], [y.value], xerr=[[xerr[0]], [xerr[1]]], yerr=[[yerr[0]], [yerr[1]]], marker="o",
                        capsize=3)
            ax.annotate(variant, (x.value, y.value), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean reasoning score")
    fig.suptitle("Reasoning vs safety")
    return _svg(fig)
