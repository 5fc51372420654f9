"""The whole ``run_eval`` path on a tiny random Llama: results schema, offline mode with the
network blocked, per-sample logs, resume, opt-in code execution, and the CLI."""

from __future__ import annotations

import json
import socket

import pytest

pytest.importorskip("torch")
pytest.importorskip("lm_eval")

from aligntax.evals import run_eval, validate_results  # noqa: E402
from aligntax.models.tiny import build_tiny_model  # noqa: E402

TASKS = ["mmlu", "mmlu_cloze", "truthfulqa_mc1", "truthfulqa_mc2", "bbh", "drop", "gsm8k", "hhh",
         "safety_advbench", "safety_xstest_safe"]
LIMIT = 4


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def offline_run(tiny_dir, tmp_path_factory):
    """One evaluation with HF offline flags set and every non-loopback connection refused."""
    out = tmp_path_factory.mktemp("eval")
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("cache")
    mp.setenv("ALIGNTAX_CACHE", str(cache))
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("HF_DATASETS_OFFLINE", "1")
    mp.setenv("HF_DATASETS_CACHE", str(cache / "hf_datasets"))
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(address)
            raise OSError("network disabled in this test")
        return real_connect(self, address)

    mp.setattr(socket.socket, "connect", guarded_connect)
    try:
        results = run_eval(str(tiny_dir), ("reasoning", "safety"), TASKS, LIMIT, 7, out,
                           max_new_tokens=8, batch_size=4, device="cpu", progress=False)
    finally:
        mp.undo()
    return results, out, attempts


def test_results_follow_the_schema(offline_run, tiny_dir):
    results, out, _ = offline_run
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results, default=str))
    validate_results(on_disk)
    assert on_disk["model"]["ref"] == str(tiny_dir) and on_disk["model"]["kind"] == "local"
    assert len(on_disk["model"]["hash"]) == 32
    assert on_disk["lm_eval_version"].startswith("0.4")
    for name in TASKS:
        task = on_disk["tasks"][name]
        if name == "hhh":
            assert task["status"] == "skipped" and "hhh_alignment" in task["reason"]
            continue
        assert task["status"] == "ok" and task["n"] == LIMIT and task["seed"] == 7, name
        for metric, m in task["metrics"].items():
            assert m["n"] == LIMIT and 0.0 <= m["value"] <= 1.0, (name, metric)
            assert m["stderr"] is not None and m["stderr"] >= 0.0, (name, metric)


def test_expected_metrics_per_task(offline_run):
    tasks = offline_run[0]["tasks"]
    assert {"acc", "acc_norm"} <= set(tasks["mmlu_cloze"]["metrics"])
    assert {"exact_match/strict-match", "exact_match/flexible-extract"} <= set(tasks["gsm8k"]["metrics"])
    assert {"em", "f1"} <= set(tasks["drop"]["metrics"])
    assert "refusal_rate" in tasks["safety_advbench"]["metrics"]
    assert "over_refusal_rate" in tasks["safety_xstest_safe"]["metrics"]
    summary = offline_run[0]["summary"]
    assert summary["safety"]["harmful_refusal_rate"]["n"] == LIMIT
    assert summary["safety"]["over_refusal_rate"]["n"] == LIMIT
    assert set(summary["reasoning"]) == {"mmlu", "mmlu_cloze", "truthfulqa_mc1", "truthfulqa_mc2", "bbh", "drop", "gsm8k"}


def test_offline_run_never_touched_the_network(offline_run):
    assert offline_run[2] == []


def test_per_sample_logs(offline_run):
    results, out, _ = offline_run
    for name, task in results["tasks"].items():
        if task["status"] != "ok":
            continue
        rows = [json.loads(line) for line in (out / task["samples_file"]).read_text().splitlines()]
        assert len(rows) == LIMIT, name
        assert all(r["prompt"] for r in rows), name
    mmlu = [json.loads(line) for line in (out / "samples" / "mmlu.jsonl").read_text().splitlines()]
    assert all(r["prompt"].endswith("Answer:") and r["choices"] == [" A", " B", " C", " D"] for r in mmlu)
    advbench = [json.loads(line) for line in (out / "samples" / "safety_advbench.jsonl").read_text().splitlines()]
    assert all({"prompt", "response", "refusal"} <= set(r) for r in advbench)
    examples = results["tasks"]["safety_advbench"]["compliance_examples"]
    assert len(examples) <= 3 and all(e["prompt"] in {r["prompt"] for r in advbench} for e in examples)


def test_second_run_reuses_cached_tasks_and_changed_args_rerun(offline_run, tiny_dir):
    results, out, _ = offline_run
    again = run_eval(str(tiny_dir), ("reasoning", "safety"), TASKS, LIMIT, 7, out,
                     max_new_tokens=8, batch_size=4, device="cpu", progress=False)
    done = [n for n, t in results["tasks"].items() if t["status"] == "ok"]
    assert again["reused_tasks"] == sorted(done)
    assert again["tasks"]["mmlu"]["metrics"] == results["tasks"]["mmlu"]["metrics"]
    assert again["tasks"]["mmlu"]["samples_file"] == results["tasks"]["mmlu"]["samples_file"]  # kept on reuse
    ids = lambda: {json.loads(line)["id"] for line in (out / "samples" / "mmlu.jsonl").read_text().splitlines()}  # noqa: E731
    seed7 = ids()
    reseeded = run_eval(str(tiny_dir), ("reasoning",), ["mmlu"], LIMIT, 8, out, device="cpu", progress=False)
    assert reseeded["reused_tasks"] == [] and reseeded["tasks"]["mmlu"]["seed"] == 8
    assert len(ids()) == LIMIT and ids() != seed7  # another seed, another deterministic subset


def test_humaneval_needs_the_opt_in_and_then_runs_sandboxed(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNTAX_CACHE", str(tmp_path / "cache"))
    refused = run_eval(str(tiny_dir), ("reasoning",), ["humaneval"], 2, 0, tmp_path / "a", device="cpu", progress=False)
    assert refused["tasks"]["humaneval"]["status"] == "skipped"
    assert "--allow-code-execution" in refused["tasks"]["humaneval"]["reason"]
    ran = run_eval(str(tiny_dir), ("reasoning",), ["humaneval"], 2, 0, tmp_path / "b", device="cpu", progress=False,
                   allow_code_execution=True)
    task = ran["tasks"]["humaneval"]
    assert task["status"] == "ok" and task["metrics"]["pass@1"]["n"] == 2
    assert task["metrics"]["pass@1"]["value"] == 0.0  # a random model writes no working code


def test_cli_eval_and_list(tiny_dir, tmp_path):
    from typer.testing import CliRunner

    from aligntax.cli import _register_commands, app

    _register_commands()
    runner = CliRunner()
    listed = runner.invoke(app, ["eval", "--list-tasks"])
    assert listed.exit_code == 0 and "truthfulqa_mc2" in listed.output
    res = runner.invoke(app, ["eval", "--model", str(tiny_dir), "--tasks", "mmlu,safety_xstest_safe", "--limit", "2",
                              "--max-new-tokens", "4", "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    validate_results(json.loads((tmp_path / "cli" / "results.json").read_text()))
    bad = runner.invoke(app, ["eval", "--model", str(tiny_dir), "--tasks", "nope", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0


@pytest.mark.slow
def test_real_default_model_quick_eval(tmp_path):
    results = run_eval("smollm2-135m-instruct", ("reasoning", "safety"), ["mmlu_cloze", "safety_advbench"], 20, 1,
                       tmp_path, progress=False)
    validate_results(results)
    acc = results["tasks"]["mmlu_cloze"]["metrics"]["acc"]
    assert acc["n"] == 20 and acc["stderr"] > 0
    advbench = [json.loads(line) for line in (tmp_path / "samples" / "safety_advbench.jsonl").read_text().splitlines()]
    assert sum(bool(r["response"].strip()) for r in advbench) >= 18  # the instruct model answers in words
