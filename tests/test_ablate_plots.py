"""The report's figures from aggregate rows: dose-response only when doses vary, the frontier needs
pooled reasoning + safety rows, and variant names are escaped inside the SVG."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from aligntax.ablate.plots import delta_plot, dose_plot, frontier_plot  # noqa: E402
from aligntax.ablate.stats import Interval  # noqa: E402
from aligntax.ablate.table import Aggregate  # noqa: E402


def _row(variant, dose, task, metric, suite, value, rel=None):
    ci = Interval(value, value - 0.05, value + 0.05)
    r = Interval(rel, rel - 0.1, rel + 0.1) if rel is not None else None
    return Aggregate(variant, dose, task, metric, suite, True, 100, 1, ci, None if r is None else ci, r)


def _rows(name="aligned-1"):
    rows = []
    for variant, dose, acc, refusal in (("aligned-0", 0.0, 0.40, 0.1), ("aligned-0.5", 0.5, 0.37, 0.3),
                                        (name, 1.0, 0.33, 0.6)):
        rel = None if variant == "aligned-0" else (acc - 0.40) / 0.40
        rows += [_row(variant, dose, "mmlu_cloze", "acc_norm", "reasoning", acc, rel),
                 _row(variant, dose, "ALL", "mean", "reasoning", acc),
                 _row(variant, dose, "ALL", "harmful_refusal_rate", "safety", refusal),
                 _row(variant, dose, "ALL", "over_refusal_rate", "safety", refusal / 3)]
    return rows


def test_all_three_figures_render_as_inline_svg():
    rows = _rows()
    for svg in (delta_plot(rows, "aligned-0"), dose_plot(rows), frontier_plot(rows)):
        assert svg.startswith("<svg") and "<metadata>" not in svg
    assert "% of aligned rows kept" in dose_plot(rows)
    assert "over-refusal rate" in frontier_plot(rows)
    assert dose_plot(rows) == dose_plot(rows)  # deterministic bytes


def test_figures_are_skipped_without_their_data():
    rows = [r for r in _rows() if r.dose == 1.0]
    assert dose_plot(rows) is None  # one dose is no curve
    assert frontier_plot([r for r in rows if r.task != "ALL"]) is None
    assert delta_plot([r for r in rows if r.rel_delta is None], "x") is None


def test_variant_names_are_escaped_in_svg():
    svg = frontier_plot(_rows("<script>alert(1)</script>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
