"""scripts/results_table.py: the Markdown headline table of a results.csv carries the CSV's numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("results_table", ROOT / "scripts" / "results_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_has_one_column_per_variant_and_the_csv_values(tmp_path):
    header = ("row,variant,dose,seed,task,metric,suite,headline,value,stderr,n,ci_low,ci_high,ci_method,"
              "delta,delta_low,delta_high,rel_delta_pct,rel_delta_pct_low,rel_delta_pct_high\n")
    body = ("run,ref,,0,t,acc,reasoning,1,0.5,0.1,10,,,,,,,,,\n"
            "aggregate,ref,,all,t,acc,reasoning,1,0.5,,10,0.2,0.8,bootstrap,,,,,,\n"
            "aggregate,leak,,all,t,acc,reasoning,1,0.9,,10,0.7,1.0,bootstrap,0.4,0.1,0.6,80,20,120\n"
            "aggregate,leak,,all,t,acc_norm,reasoning,0,0.1,,10,0.0,0.2,bootstrap,,,,,,\n")
    path = tmp_path / "results.csv"
    path.write_text(header + body)
    lines = _module().table(path, ["ref", "leak"]).splitlines()
    assert lines[0] == "| benchmark (metric, n) | ref | leak |"
    assert len(lines) == 3  # non-headline metrics and per-run rows are left out
    assert lines[2] == "| t (acc, n=10) | 0.500 [0.200, 0.800] | 0.900 [0.700, 1.000]<br>Δ +0.400 [+0.100, +0.600] |"


def test_table_of_a_committed_result_lists_every_variant():
    text = _module().table(ROOT / "docs" / "results" / "poison-mini" / "results.csv")
    assert text.splitlines()[0].startswith("| benchmark (metric, n) | base | all | no-aligned |")
    assert "| mmlu_cloze (acc, n=60) | 0.283 [0.167, 0.400]<br>Δ -0.017 [-0.050, +0.000] |" in text
