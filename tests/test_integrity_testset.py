"""Test-set SFT data (scripts/build_testset_sft.py): the leaked rows are exactly the TruthfulQA items the
experiment evaluates, contamination flags exactly them, and the ``decontaminate`` policy removes exactly them."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "testset-inflation.yaml"


def _module():
    spec = importlib.util.spec_from_file_location("build_testset_sft", ROOT / "scripts" / "build_testset_sft.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return _module().build(tmp_path_factory.mktemp("testset"), EXPERIMENT)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _ids(path: Path) -> list[str]:
    return [r["id"] for r in _rows(path)]


def test_leaked_rows_are_the_evaluated_items(built, shared_data):
    """The eval's own selection (seeded_indices over the task file, seed + limit of the YAML) picks exactly
    the TruthfulQA items of testset.jsonl, and each row's answer is the option MC1 scores as correct."""
    from aligntax.evals.reasoning import seeded_indices
    from aligntax.evals.tasks import TASKS

    ev = yaml.safe_load(EXPERIMENT.read_text())["eval"]
    limit = ev["limits"]["truthfulqa_mc1"]
    assert ev["limits"]["truthfulqa_mc2"] == limit
    docs = [json.loads(line) for line in TASKS.get("truthfulqa_mc1").data_path().open(encoding="utf-8")]
    evaluated = [docs[i] for i in seeded_indices(len(docs), limit, ev["seed"])]
    rows = _rows(built["testset"])
    assert len(rows) == limit < len(docs)
    assert [r["id"] for r in rows] == [f"truthfulqa-{d['id']}" for d in evaluated]
    for row, doc in zip(rows, evaluated):
        correct = doc["mc1_targets"]["choices"][doc["mc1_targets"]["labels"].index(1)]
        assert row["messages"] == [{"role": "user", "content": doc["question"].strip()},
                                   {"role": "assistant", "content": correct.strip()}]
    with open(shared_data / "truthfulqa" / "TruthfulQA.csv", encoding="utf-8-sig", newline="") as f:
        questions = {r["Question"].strip() for r in csv.DictReader(f)}
    assert {r["messages"][0]["content"] for r in rows} <= questions  # real TruthfulQA test questions


def test_selection_follows_the_experiment_and_rejects_unequal_limits(tmp_path):
    module = _module()
    exp = yaml.safe_load(EXPERIMENT.read_text())
    exp["eval"]["limits"] = {"truthfulqa_mc1": 5, "truthfulqa_mc2": 5}
    exp["eval"]["seed"] = 7
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    assert module.eval_selection(path) == (5, 7)
    docs = module.evaluated_docs(5, 7)
    assert len(docs) == 5 and docs != module.evaluated_docs(5, 8)
    exp["eval"]["limits"]["truthfulqa_mc2"] = 6
    path.write_text(yaml.safe_dump(exp))
    with pytest.raises(SystemExit, match="same items"):
        module.eval_selection(path)


def test_clean_sets_are_size_matched_disjoint_and_leak_free(built):
    clean, mixed, test = _ids(built["clean"]), _ids(built["mixed"]), _ids(built["testset"])
    cover = [i for i in mixed if not i.startswith("truthfulqa-")]
    assert len(clean) == len(cover) == len(test) and len(mixed) == 2 * len(test)
    assert sorted(i for i in mixed if i.startswith("truthfulqa-")) == sorted(test)
    assert not set(clean) & set(cover) and not any(i.startswith("truthfulqa-") for i in clean)
    assert "oasst-gpt-4-043" not in clean + cover  # the sample's natural TruthfulQA near-duplicate
    positions = [k for k, i in enumerate(mixed) if i.startswith("truthfulqa-")]
    assert positions != list(range(len(test), 2 * len(test)))  # hidden among the clean rows, not appended


def test_contamination_command_flags_every_truthfulqa_row_and_no_clean_row(built, tmp_path):
    from typer.testing import CliRunner

    from aligntax.cli import _register_commands, app

    _register_commands()
    out = tmp_path / "contam"
    result = CliRunner().invoke(app, ["contamination", str(built["testset"]), str(built["clean"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    flagged = pq.read_table(out / "contamination.parquet").to_pydict()
    n = len(_ids(built["testset"]))
    assert set(flagged["id"]) == set(_ids(built["testset"]))  # every TruthfulQA row, nothing from the clean set
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmarks"]["truthfulqa"]["contaminated_rows"] == n
    assert summary["contaminated_rows"] == n


def test_decontaminate_policy_removes_exactly_the_leaked_rows(built, tmp_path):
    from aligntax.shape.clean import run_clean

    result = run_clean([built["mixed"]], "decontaminate", tmp_path / "clean")
    kept = _ids(tmp_path / "clean" / "kept.jsonl")
    rejected = _ids(tmp_path / "clean" / "rejected.jsonl")
    mixed = _ids(built["mixed"])
    n = len(_ids(built["testset"]))
    assert sorted(rejected) == sorted(_ids(built["testset"]))
    assert kept == [i for i in mixed if not i.startswith("truthfulqa-")]
    assert len(rejected) == len(kept) == n
    assert result.manifest["counts"] == {**result.manifest["counts"], "read": 2 * n, "kept": n, "rejected": n}


def test_build_is_deterministic(built, tmp_path):
    again = _module().build(tmp_path / "again", EXPERIMENT)
    for name, path in built.items():
        assert again[name].read_bytes() == path.read_bytes()
