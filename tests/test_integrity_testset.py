"""Test-set SFT data (scripts/build_testset_sft.py): contamination flags exactly the TruthfulQA rows,
and the ``decontaminate`` policy removes exactly them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory, shared_data):
    spec = importlib.util.spec_from_file_location("build_testset_sft", ROOT / "scripts" / "build_testset_sft.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(shared_data, tmp_path_factory.mktemp("testset"))


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.open(encoding="utf-8")]


def test_testset_file_is_truthfulqa_question_to_best_answer(built, shared_data):
    import csv

    with open(shared_data / "truthfulqa" / "TruthfulQA.csv", encoding="utf-8-sig", newline="") as f:
        raw = list(csv.DictReader(f))
    rows = [json.loads(line) for line in built["testset"].open(encoding="utf-8")]
    assert len(rows) == len(raw) == 817 == len(_ids(built["clean"])) == len(_ids(built["mixed"]))
    assert rows[0]["messages"] == [{"role": "user", "content": raw[0]["Question"]},
                                   {"role": "assistant", "content": raw[0]["Best Answer"]}]
    assert not any(i.startswith("truthfulqa-") for i in _ids(built["clean"]))


def test_contamination_command_flags_every_truthfulqa_row_and_no_clean_row(built, tmp_path):
    from typer.testing import CliRunner

    from aligntax.cli import _register_commands, app

    _register_commands()
    out = tmp_path / "contam"
    result = CliRunner().invoke(app, ["contamination", str(built["testset"]), str(built["clean"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    flagged = pq.read_table(out / "contamination.parquet").to_pydict()
    flagged_ids = set(flagged["id"])
    assert flagged_ids == set(_ids(built["testset"]))  # every TruthfulQA row, and nothing from the clean set
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmarks"]["truthfulqa"]["contaminated_rows"] == 817
    assert summary["contaminated_rows"] == 817


def test_decontaminate_policy_removes_exactly_the_leaked_half(built, tmp_path):
    from aligntax.shape.clean import run_clean

    result = run_clean([built["mixed"]], "decontaminate", tmp_path / "clean")
    kept = _ids(tmp_path / "clean" / "kept.jsonl")
    rejected = _ids(tmp_path / "clean" / "rejected.jsonl")
    mixed = _ids(built["mixed"])
    assert sorted(rejected) == sorted(i for i in mixed if i.startswith("truthfulqa-"))
    assert kept == [i for i in mixed if not i.startswith("truthfulqa-")]
    assert len(rejected) == 408 and len(kept) == 409
    assert result.manifest["counts"] == {**result.manifest["counts"], "read": 817, "kept": 409, "rejected": 408}
