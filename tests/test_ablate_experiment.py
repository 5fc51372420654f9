"""Experiment files: the bundled ones parse (dose variants expand, inline policies validate) and
every kind of mistake is a PolicyError naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aligntax.ablate import load_experiment, parse_experiment
from aligntax.ablate.runner import data_step, limit_groups
from aligntax.errors import PolicyError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


def _doc(**changes):
    doc = {"name": "t", "base_model": "smollm2-135m-instruct", "reference": "all",
           "variants": [{"name": "all", "file": str(SAMPLE)},
                        {"name": "dose", "build": {"variants": {"input": str(SAMPLE), "dose": [1, 0, 0.5],
                                                                "size_matched": True}}}],
           "eval": {"tasks": ["mmlu_cloze", "safety_advbench"], "limit": 10, "limits": {"safety_advbench": 5}}}
    doc.update(changes)
    return doc


def test_bundled_mini_and_picky_experiments_parse():
    mini = load_experiment(ROOT / "experiments" / "poison-mini.yaml")
    names = [v.name for v in mini.variants]
    assert {"all", "no-aligned", "aligned-0", "aligned-0.5", "aligned-1"} <= set(names)
    assert mini.reference in names and mini.baseline
    assert [v.dose for v in mini.variants if v.name.startswith("aligned-")] == [0.0, 0.5, 1.0]
    assert all(Path(f).is_file() for v in mini.variants for f in v.files)
    picky = load_experiment(ROOT / "experiments" / "picky-factors.yaml")
    built = {v.name: v.build for v in picky.variants if v.build}
    assert {"restructured", "identity-calibrated", "no-roleplay"} == set(built)
    assert all(isinstance(b.config["policy"], dict) for b in built.values())


def test_paper_experiment_needs_the_user_data(tmp_path):
    with pytest.raises(PolicyError, match="guanaco.jsonl does not exist"):
        load_experiment(ROOT / "experiments" / "poison-paper.yaml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "guanaco.jsonl").write_text(SAMPLE.read_text().splitlines()[0] + "\n")
    copy = tmp_path / "poison-paper.yaml"
    copy.write_text((ROOT / "experiments" / "poison-paper.yaml").read_text())
    paper = load_experiment(copy)
    assert paper.base_model == "meta-llama/Llama-2-7b-hf" and paper.train["preset"] == "paper"
    assert paper.seeds == [0, 1, 2] and len(paper.variants) == 6


def test_dose_variants_share_one_data_step_and_limits_group():
    exp = parse_experiment(_doc())
    dosed = [v for v in exp.variants if v.dose is not None]
    assert [v.name for v in dosed] == ["dose-0", "dose-0.5", "dose-1"]  # sorted, deduplicated doses
    assert len({data_step(v.build).hash for v in dosed}) == 1
    assert exp.task_limits() == {"mmlu_cloze": 10, "safety_advbench": 5}
    assert limit_groups(exp) == [(5, ["safety_advbench"]), (10, ["mmlu_cloze"])]
    assert exp.eval["seed"] == 1234 and exp.seeds == [0]


def test_step_hash_follows_input_bytes_and_config(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(SAMPLE.read_text().splitlines()[0] + "\n")
    build = lambda policy: parse_experiment(_doc(reference="c", variants=[  # noqa: E731
        {"name": "c", "build": {"clean": {"input": str(data), "policy": policy}}}])).variants[0].build
    first = data_step(build("poison-of-alignment")).hash
    assert data_step(build("poison-of-alignment")).hash == first
    assert data_step(build("unfiltered")).hash != first
    data.write_text(SAMPLE.read_text().splitlines()[1] + "\n")
    assert data_step(build("poison-of-alignment")).hash != first


@pytest.mark.parametrize("changes, message", [
    ({"variants": []}, "'variants' must be a non-empty list"),
    ({"reference": "nope"}, "reference 'nope' is not a variant"),
    ({"seeds": [0, 0]}, "repeats a seed"),
    ({"seeds": "zero"}, "'seeds' must be an integer"),
    ({"colour": "blue"}, "unknown field(s) colour"),
    ({"eval": {"tasks": ["mmlu_clozee"]}}, "unknown eval task(s) mmlu_clozee"),
    ({"eval": {"suites": ["speed"]}}, "eval.suites must be a list"),
    ({"eval": {"limit": -1}}, "eval.limit must be a non-negative integer"),
    ({"eval": {"limits": {"mmlu": 0}}}, "eval.limits.mmlu must be a positive integer"),
    ({"train": {"preset": "cpu-mini", "epochs": 3}}, "unknown field(s) epochs"),
    ({"bootstrap": {"iterations": 5}}, "bootstrap.iterations must be an integer >= 100"),
    ({"variants": [{"name": "all", "file": "/no/such/file.jsonl"}]}, "file /no/such/file.jsonl does not exist"),
    ({"variants": [{"name": "all", "file": str(SAMPLE), "build": {}}]}, "exactly one of 'file', 'files' or 'build'"),
    ({"variants": [{"name": "all", "file": str(SAMPLE)}, {"name": "all", "file": str(SAMPLE)}]},
     "repeated: all"),
    ({"variants": [{"name": "base", "file": str(SAMPLE)}], "reference": "base"}, "reserved"),
    ({"variants": [{"name": "all", "build": {"shuffle": {}}}]}, "exactly one of clean, variants, merge"),
    ({"variants": [{"name": "all", "build": {"clean": {"input": str(SAMPLE)}}}]}, "needs a 'policy'"),
    ({"variants": [{"name": "all", "build": {"clean": {"input": str(SAMPLE), "policy": "no-such-preset"}}}]},
     "neither a preset"),
    ({"variants": [{"name": "all", "build": {"clean": {"input": str(SAMPLE), "policy": {
        "name": "p", "rules": [{"name": "r", "action": "delete"}]}}}}]}, "field 'action' must be one of"),
    ({"variants": [{"name": "all", "build": {"variants": {"input": str(SAMPLE), "dose": [0, 2]}}}]},
     "doses must be fractions"),
    ({"variants": [{"name": "all", "build": {"clean": {"input": str(SAMPLE), "inputs": [str(SAMPLE)],
                                                        "policy": "unfiltered"}}}]},
     "exactly one of 'input' or 'inputs'"),
])
def test_invalid_experiments_name_the_field(changes, message):
    with pytest.raises(PolicyError) as exc:
        parse_experiment(_doc(**changes), "exp.yaml")
    assert message in str(exc.value) and "exp.yaml" in str(exc.value)


def test_yaml_errors_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_experiment(bad)
    with pytest.raises(PolicyError, match="does not exist"):
        load_experiment(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(PolicyError, match="must be a mapping"):
        load_experiment(listed)
