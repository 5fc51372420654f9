"""``report.html``: one self-contained page (inline SVG plots, inline CSS and JS, no network)
rendered with Jinja2 (autoescape on: the data holds HTML and scripts) from
``templates/report.html.j2``.

The page applies a filter from the URL hash on load, e.g. ``report.html#filter=refusal`` or
``#filter=aligned&source=data.jsonl&q=openai``.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from typing import Any

import jinja2
import matplotlib
import matplotlib.ticker
from markupsafe import Markup

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from aligntax.audit.samples import ReportSampler  # noqa: E402
from aligntax.audit.summary import SummaryBuilder  # noqa: E402

MAX_SOURCES_PLOTTED = 25
_SVG_START = re.compile(r"<svg\b")
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>", re.S)
TAG_DESCRIPTIONS = {
    "refusal": "the assistant declines the request",
    "partial_refusal": "declines part of it, or hedges before helping",
    "moralizing": "unrequested ethical commentary or warnings",
    "ai_disclaimer": "\"As an AI language model ...\" style disclaimers",
    "aligned": "union of refusal, partial_refusal, moralizing and ai_disclaimer",
    "identity_claim": "the assistant says who it is or who made it",
    "roleplay": "the user or system sets up a persona, role-play or jailbreak",
    "structured_list": "an answer with 3+ list items",
    "has_code": "an answer with a code block",
    "api_failure": "leaked API errors, empty or truncated answers",
    "too_short": "answers below the minimum length",
    "non_text": "answers that are mostly noise",
    "malformed": "input rows that could not be parsed (see reason)",
}


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "aligntax"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = _SVG_METADATA.sub("", text[_SVG_START.search(text).start():])
    return text


def _bar(labels: list[str], values: list[float], title: str, xlabel: str) -> str:
    fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(labels), 3) + 0.9))
    y = range(len(labels))
    ax.barh(list(y), values, color="#4267b2")
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=11)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(values + [0.01]) * 1.18)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _length_plot(summary: SummaryBuilder) -> str | None:
    if summary.lengths["answer_chars"].n == 0:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
    for ax, name in zip(axes, ("answer_chars", "answer_tokens")):
        edges, counts = summary.histogram(name)
        nonzero = counts.nonzero()[0]
        lo, hi = nonzero[0], nonzero[-1] + 1
        # coarsen the 40-per-decade summary bins to 10 per decade for display
        idx = list(range(lo, hi, 4)) + [hi]
        merged = [counts[a:b].sum() for a, b in zip(idx[:-1], idx[1:])]
        left = [max(edges[a], 0.8) for a in idx[:-1]]
        width = [edges[b] - max(edges[a], 0.8) for a, b in zip(idx[:-1], idx[1:])]
        ax.bar(left, merged, width=width, align="edge", color="#4267b2", edgecolor="white", linewidth=0.4)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(name.replace("_", " ") + " per conversation (log)")
        ax.set_ylabel("conversations")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_title("Answer length", loc="left", fontsize=11)
    fig.tight_layout()
    return _svg(fig)


def _plots(result: dict[str, Any], summary: SummaryBuilder) -> list[dict[str, str]]:
    plots = []
    tags = [(t, v["rate"]) for t, v in result["tags"].items() if t != "malformed"]
    if tags:
        plots.append({"title": "Tag rates", "svg": _bar([t for t, _ in tags], [100 * r for _, r in tags],
                                                        "Share of conversations per tag", "% of conversations")})
    lengths = _length_plot(summary)
    if lengths:
        plots.append({"title": "Answer lengths", "svg": lengths})
    if "aligned" in result["tags"]:
        groups = result.get("per_dataset") or result["per_source"]
        sources = sorted(groups.items(), key=lambda kv: -kv[1]["conversations"])[:MAX_SOURCES_PLOTTED]
        sources = [(s, v) for s, v in sources if v["conversations"]]
        if sources:
            labels = [_short(s) for s, _ in sources]
            rates = [100 * v["tags"].get("aligned", {}).get("rate", 0.0) for _, v in sources]
            plots.append({"title": "Aligned rate by source",
                          "svg": _bar(labels, rates, "Aligned answers by source", "% of conversations")})
    return plots


def _short(source: str, n: int = 48) -> str:
    return source if len(source) <= n else "…" + source[-(n - 1):]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("aligntax.audit", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["pct"] = lambda x: f"{100 * x:.2f}%"
    env.filters["short"] = _short
    return env


def build_report(result: dict[str, Any], summary: SummaryBuilder, sampler: ReportSampler) -> str:
    """The report page as a string (the caller writes it atomically)."""
    table = sampler.table_rows()
    sources = sorted({row["source"] for row in table})
    tags = [t for t in result["tags"]] + (["malformed"] if result["malformed"]["count"] else [])
    return _environment().get_template("report.html.j2").render(
        r=result,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        plots=_plots(result, summary),
        examples=sampler.example_sets(),
        per_tag=sampler.per_tag,
        tags=tags,
        descriptions=TAG_DESCRIPTIONS,
        table=table,
        table_cap=sampler.table_all.k + sampler.table_flagged.k,
        sources=sources,
        # plots are our own matplotlib output, the only markup not escaped
        markup=Markup,
    )
