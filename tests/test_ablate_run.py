"""``aligntax ablate`` end to end on a tiny random Llama: 2 variants built from real SFT rows (kept
as is vs cleaned by the poison-of-alignment policy) + the untrained baseline, real training and
real evaluation; then caching (a re-run does nothing), resume (a deleted DONE marker reruns only
that step), the deltas table against the eval results.json files, and the report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("lm_eval")

from aligntax.ablate import build_report, load_experiment, run_experiment  # noqa: E402
from aligntax.ablate.runner import DONE  # noqa: E402
from aligntax.models.tiny import build_tiny_model  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


def _trainer():
    """aligntax.train.train when it is installed; else a minimal real SFT loop (a few AdamW steps)."""
    try:
        from aligntax.train import train

        return lambda ref, files, out, **kw: train(ref, files, out, **{**kw, "max_steps": 2})
    except ImportError:
        pass

    def tiny_train(model_ref, data_paths, out_dir, *, preset, lora, seed, **overrides):
        import torch

        from aligntax.io import read_conversations
        from aligntax.models import load_model, resolve_model
        from aligntax.record import Conversation

        torch.manual_seed(seed)
        model, tok = load_model(resolve_model(model_ref), device="cpu")
        convs = [c for c in read_conversations(data_paths) if isinstance(c, Conversation)]
        texts = [tok.apply_chat_template(c.to_messages(), tokenize=False) for c in convs]
        model.train()
        optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for step in range(overrides.get("max_steps", 2)):
            batch = tok(texts[step * 4:(step + 1) * 4] or texts[:4], return_tensors="pt", padding=True,
                        truncation=True, max_length=64)
            loss = model(**batch, labels=batch["input_ids"]).loss
            loss.backward()
            optim.step()
            optim.zero_grad()
        model.eval()
        model.save_pretrained(out_dir, safe_serialization=True)
        tok.save_pretrained(out_dir)
        return {"rows": len(convs), "loss": float(loss.detach())}

    return tiny_train


@pytest.fixture(scope="module")
def experiment_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    build_tiny_model(root / "tiny")
    rows = SAMPLE.read_text(encoding="utf-8").splitlines()[:40]  # real hh-rlhf rows, refusals among them
    (root / "sft.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    doc = {
        "name": "tiny-ablation", "base_model": "tiny", "reference": "all", "baseline": True, "seeds": [0],
        "variants": [
            {"name": "all", "file": "sft.jsonl"},
            {"name": "no-aligned", "build": {"clean": {"input": "sft.jsonl", "policy": "poison-of-alignment"}}},
        ],
        "train": {"preset": "cpu-mini", "overrides": {"max_steps": 2}},
        "eval": {"suites": ["reasoning", "safety"], "tasks": ["mmlu_cloze", "safety_advbench", "safety_xstest_safe"],
                 "limit": 6, "limits": {"safety_advbench": 4, "safety_xstest_safe": 4}, "max_new_tokens": 4,
                 "batch_size": 4, "device": "cpu"},
        "bootstrap": {"iterations": 500, "seed": 3},
    }
    path = root / "exp.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first_run(experiment_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("HF_DATASETS_OFFLINE", "1")
    try:
        result = run_experiment(load_experiment(experiment_file), out, trainer=_trainer())
        report = build_report([out])
    finally:
        mp.undo()
    return result, report, out


def _markers(out: Path) -> dict[str, float]:
    return {str(p.parent.relative_to(out)): p.stat().st_mtime_ns for p in out.glob("cache/*/*/" + DONE)}


def test_every_step_ran_once(first_run):
    result, _, out = first_run
    kinds = [tag.split("/")[0] for tag in result.executed]
    # 1 clean step; 2 trainings; evals: (base + 2 variants) x 2 limit groups
    assert kinds.count("data") == 1 and kinds.count("train") == 2 and kinds.count("eval") == 6
    assert result.reused == []
    assert len(_markers(out)) == 9
    index = json.loads((out / "ablation.json").read_text())
    assert [r["variant"] for r in index["runs"]] == ["base", "all", "no-aligned"]
    clean_done = json.loads(next(out.glob("cache/data/*/DONE")).read_text())
    assert clean_done["counts"]["read"] == 40 and 0 < clean_done["counts"]["kept"] < 40  # refusals were dropped


def test_second_run_does_no_work(first_run, experiment_file):
    _, _, out = first_run
    before = _markers(out)

    def must_not_train(*args, **kwargs):
        raise AssertionError("train was called again")

    again = run_experiment(load_experiment(experiment_file), out, trainer=must_not_train)
    assert again.executed == [] and len(again.reused) == 9
    assert _markers(out) == before


def test_deleting_a_done_marker_reruns_only_that_step(first_run, experiment_file):
    result, _, out = first_run
    index = json.loads((out / "ablation.json").read_text())
    run = next(r for r in index["runs"] if r["variant"] == "no-aligned")
    target = out / run["evals"][0] / DONE
    target.unlink()
    before = _markers(out)
    again = run_experiment(load_experiment(experiment_file), out, trainer=_trainer())
    assert again.executed == [run["evals"][0].removeprefix("cache/")]
    after = _markers(out)
    assert {k for k in after if after[k] != before.get(k)} == {run["evals"][0]}


def test_results_csv_matches_the_eval_results(first_run):
    _, report, out = first_run
    index = json.loads((out / "ablation.json").read_text())
    expected = {}
    for run in index["runs"]:
        for rel in run["evals"]:
            results = json.loads((out / rel / "results.json").read_text())
            for task, entry in results["tasks"].items():
                for metric, m in entry["metrics"].items():
                    expected[(run["variant"], task, metric)] = m
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    runs = {(r["variant"], r["task"], r["metric"]): r for r in rows if r["row"] == "run"}
    assert set(runs) == set(expected)
    for key, m in expected.items():
        assert float(runs[key]["value"]) == pytest.approx(m["value"]) and int(runs[key]["n"]) == m["n"]
    aggregates = {(r["variant"], r["task"], r["metric"]): r for r in rows if r["row"] == "aggregate"}
    for (variant, task, metric), m in expected.items():
        agg = aggregates[(variant, task, metric)]
        ref = expected[("all", task, metric)]["value"]
        if variant == "all":
            assert agg["delta"] == ""
            continue
        assert float(agg["delta"]) == pytest.approx(m["value"] - ref, abs=1e-9)
        if ref:
            assert float(agg["rel_delta_pct"]) == pytest.approx(100 * (m["value"] - ref) / ref, abs=1e-6)
        if agg["ci_method"] == "bootstrap":
            assert float(agg["ci_low"]) <= m["value"] + 1e-9 <= float(agg["ci_high"]) + 2e-9
    # the pooled harmful-refusal row is the item-weighted mean of the harmful sources (one here)
    pooled = aggregates[("all", "ALL", "harmful_refusal_rate")]
    assert float(pooled["value"]) == pytest.approx(expected[("all", "safety_advbench", "refusal_rate")]["value"])


def test_report_is_self_contained_and_reproducible(first_run, tmp_path):
    _, report, out = first_run
    html = report.html.read_text()
    assert "<svg" in html and "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "mmlu_cloze" in html and "no-aligned" in html
    again = build_report([out], tmp_path)
    first = {(a.variant, a.task, a.metric): a.score for a in report.rows}
    assert {(a.variant, a.task, a.metric): a.score for a in again.rows} == first
    merged = build_report([out, out], tmp_path / "merged")  # same dir twice: one set of variants
    assert {a.variant for a in merged.rows} == {a.variant for a in report.rows}
    assert not any(math.isnan(a.score.value) for a in report.rows)


def test_cli_report_and_dry_run(first_run, experiment_file, tmp_path):
    from typer.testing import CliRunner

    from aligntax.cli import _register_commands, app

    _, _, out = first_run
    _register_commands()
    runner = CliRunner()
    res = runner.invoke(app, ["report", str(out), "--out", str(tmp_path), "--iterations", "200"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "report.html").is_file() and (tmp_path / "results.csv").is_file()
    res = runner.invoke(app, ["ablate", str(experiment_file), "--out", str(out), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "0 step(s) to run, 9 cached" in res.output


def test_only_runs_keep_the_other_variants_in_the_index(first_run, experiment_file):
    _, _, out = first_run
    again = run_experiment(load_experiment(experiment_file), out, only=["no-aligned"], trainer=_trainer())
    assert again.executed == []
    index = json.loads((out / "ablation.json").read_text())
    assert [r["variant"] for r in index["runs"]] == ["base", "all", "no-aligned"]


def test_a_changed_detector_version_rebuilds_the_data(tmp_path, monkeypatch):
    from aligntax.ablate.experiment import DataBuild
    from aligntax.ablate.runner import data_step
    from aligntax.detect.refusal import RefusalDetector

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    build = DataBuild("clean", (data,), {"policy": "poison-of-alignment"})
    before = data_step(build).hash
    assert data_step(build).hash == before  # deterministic
    monkeypatch.setattr(RefusalDetector, "version", RefusalDetector.version + "-changed")
    assert data_step(build).hash != before
