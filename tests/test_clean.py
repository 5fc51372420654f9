"""``aligntax clean``: presets, conservation, atomic output, formats, rewrites, malformed rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import aligntax.shape.clean as clean_module
from aligntax.detect.base import DETECTORS
from aligntax.detect.defaults import load_builtin_detectors
from aligntax.errors import ConservationError, InputError, PolicyError
from aligntax.io import read_conversations
from aligntax.record import Conversation
from aligntax.shape import load_policy, run_clean
from aligntax.shape.manifest import sha256_file
from aligntax.shape.rules import RuleEngine

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


def ids_of(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".aligntax-" in p.name]


def test_poison_preset_on_sample_conserves_rows_by_identity(tmp_path):
    out = tmp_path / "out"
    result = run_clean([SAMPLE], "poison-of-alignment", out)
    counts = result.counts
    input_ids = ids_of(SAMPLE)
    kept_ids, rejected_ids = ids_of(out / "kept.jsonl"), ids_of(out / "rejected.jsonl")
    assert counts["read"] == len(input_ids) == len(kept_ids) + len(rejected_ids)
    assert sorted(kept_ids + rejected_ids) == sorted(input_ids) and not set(kept_ids) & set(rejected_ids)
    per_rule = {r["rule"]: r["rows"] for r in result.manifest["per_rule"]}
    assert per_rule["1:api-failure"] > 0 and per_rule["2:too-short"] > 0 and per_rule["5:aligned"] > 0
    assert per_rule["3:repeated-query"] > 0  # vicuna/oasst rows answer the same prompts
    assert sum(per_rule.values()) == counts["read"]
    # untouched JSONL rows are copied byte for byte, in input order
    lines = set(SAMPLE.read_text(encoding="utf-8").splitlines())
    kept_lines = (out / "kept.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(line in lines for line in kept_lines)
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert all(r["reason"] and r["rule"] for r in rejected)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"][0]["sha256"] == sha256_file(SAMPLE)
    assert manifest["policy"]["sha256"] == load_policy("poison-of-alignment").hash
    outputs = {o["path"]: o["sha256"] for o in manifest["outputs"]}
    assert outputs["kept.jsonl"] == sha256_file(out / "kept.jsonl")
    assert leftovers(tmp_path) == []


def test_unfiltered_preset_drops_mitigation_phrases_and_identity(tmp_path, shared_data):
    out = tmp_path / "unf"
    paths = sorted((shared_data / "oasst_model_eval_samples").glob("*.json"))
    result = run_clean(paths, "unfiltered", out)
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    by_rule = {r["rule"] for r in rejected}
    assert {"1:mitigation-phrases", "2:identity-statement"} <= by_rule
    texts = [m["content"] for r in rejected for m in r["messages"] if m["role"] == "assistant"]
    assert any("As an AI language model" in t for t in texts)
    assert any("I am Claude" in t or "created by Anthropic" in t for t in texts)
    assert result.counts["kept"] + result.counts["rejected"] == result.counts["read"] == 750
    assert result.manifest["output_format"] == {"like": "oasst_eval", "file_type": "json"}


@pytest.mark.parametrize("preset, detector", [("safety-preserving", "harmful_prompt"),
                                              ("decontaminate", "contaminated")])
def test_presets_that_need_optional_detectors(tmp_path, preset, detector):
    load_builtin_detectors()
    try:
        load_policy(preset)
    except PolicyError as exc:  # the detector is not part of this installation: a clear error, nothing written
        assert f"unknown detectors '{detector}'" in str(exc) and detector not in DETECTORS
        with pytest.raises(PolicyError):
            run_clean([SAMPLE], preset, tmp_path / "o")
        assert not (tmp_path / "o").exists()
        return
    try:
        result = run_clean([SAMPLE], preset, tmp_path / "o")
    except RuntimeError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            pytest.skip(f"{detector} is registered but its weights are not shipped yet: {exc.__cause__}")
        raise
    assert result.counts["kept"] + result.counts["rejected"] == result.counts["read"] == 3002
    rejected = [json.loads(line) for line in (tmp_path / "o" / "rejected.jsonl").read_text().splitlines()]
    assert rejected and all(r["rule"] for r in rejected)


def test_alpaca_json_keeps_its_own_format(tmp_path, shared_data):
    src = shared_data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json"
    result = run_clean([src], "unfiltered", tmp_path / "o", limit=400)
    kept = json.loads((tmp_path / "o" / "kept.json").read_text(encoding="utf-8"))
    original = json.loads(src.read_text(encoding="utf-8"))[:400]
    assert len(kept) == result.counts["kept"] and all(set(r) == set(original[0]) for r in kept)
    assert all(r in original for r in kept)


def test_conservation_violation_is_a_hard_error(tmp_path, monkeypatch):
    real_route = clean_module.route
    calls = {"n": 0}

    def lossy_route(item, decision, sinks):  # a bug that silently loses the 50th row
        calls["n"] += 1
        if calls["n"] != 50:
            real_route(item, decision, sinks)

    monkeypatch.setattr(clean_module, "route", lossy_route)
    with pytest.raises(ConservationError, match="kept .* rejected .* rows read"):
        run_clean([SAMPLE], "unfiltered", tmp_path / "out", limit=300)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []

    def duplicating_route(item, decision, sinks):  # the same count, but a row written twice and one lost
        calls["n"] += 1
        real_route(item, decision, sinks)
        if calls["n"] == 7:
            real_route(item, decision, sinks)
        if calls["n"] == 8:
            return

    calls["n"] = 0
    monkeypatch.setattr(clean_module, "route", duplicating_route)
    with pytest.raises(ConservationError):
        run_clean([SAMPLE], "unfiltered", tmp_path / "out", limit=300)
    assert not (tmp_path / "out").exists()


def test_interrupted_run_leaves_previous_output_and_reruns_cleanly(tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_clean([SAMPLE], "unfiltered", out, limit=200)
    before = {p.name: sha256_file(p) for p in out.iterdir()}
    real_decide = RuleEngine.decide
    calls = {"n": 0}

    def crashing_decide(self, conv, detection):
        calls["n"] += 1
        if calls["n"] == 600:
            raise KeyboardInterrupt("simulated Ctrl-C mid-stream")
        return real_decide(self, conv, detection)

    monkeypatch.setattr(RuleEngine, "decide", crashing_decide)
    with pytest.raises(KeyboardInterrupt):
        run_clean([SAMPLE], "unfiltered", out, limit=1000)
    assert {p.name: sha256_file(p) for p in out.iterdir()} == before  # the old output is intact
    assert leftovers(tmp_path) == []
    monkeypatch.setattr(RuleEngine, "decide", real_decide)
    result = run_clean([SAMPLE], "unfiltered", out, limit=1000)
    assert result.counts["read"] == 1000 and len(ids_of(out / "kept.jsonl")) == result.counts["kept"]


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="not an aligntax output"):
        run_clean([SAMPLE], "unfiltered", tmp_path / "mine", limit=10)
    with pytest.raises(InputError, match="given more than once"):
        run_clean([SAMPLE, SAMPLE], "unfiltered", tmp_path / "o", limit=10)


def test_malformed_rows_are_rejected_not_lost(tmp_path, write_jsonl):
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()[:20]]
    path = write_jsonl("mixed.jsonl", [*rows[:10], '{"messages": [broken', {"messages": "not a list"}, *rows[10:]])
    result = run_clean([path], "unfiltered", tmp_path / "o")
    assert result.counts["read"] == 22 and result.manifest["per_rule"][-1] == {"rule": "malformed", "action": "drop",
                                                                             "rows": 2}
    rejected = [json.loads(line) for line in (tmp_path / "o" / "rejected.jsonl").read_text().splitlines()]
    malformed = [r for r in rejected if r["reason"].startswith("malformed:")]
    assert [r["line"] for r in malformed] == [11, 12] and malformed[0]["raw"] == '{"messages": [broken'


def test_rewrites_are_marked_in_sidecar_and_manifest(tmp_path, shared_data):
    policy = tmp_path / "calibrate.yaml"
    policy.write_text("""
name: calibrate
detectors: {refusal: {}, identity_claim: {}}
rules:
  - {name: identity, action: rewrite, rewriter: identity_calibration,
     options: {name: Aria, developer: Example Labs}, when: {any: [identity_claim]}}
  - {name: disclaimers, action: rewrite, rewriter: strip_disclaimers, when: {any: [ai_disclaimer, moralizing]}}
  - {name: still-aligned, action: drop, when: {any: [refusal, ai_disclaimer]}}
""")
    src = shared_data / "oasst_model_eval_samples" / "2023-05-31_claude-v1.3_sample.json"
    result = run_clean([src], policy, tmp_path / "o")
    marks = [json.loads(line) for line in (tmp_path / "o" / "kept.annotations.jsonl").read_text().splitlines()]
    assert marks and all(m["marks"] and m["marks"][0].startswith("rewritten:") for m in marks)
    assert sum(result.manifest["rewrites"].values()) == result.counts["rewritten"] >= len(marks)
    samples = result.manifest["rewrite_samples"]
    identity = [s for s in samples if s["rewriter"] == "identity_calibration"]
    assert identity and all(("Claude" in s["before"] or "Anthropic" in s["before"])
                            and ("Aria" in s["after"] or "Example Labs" in s["after"]) for s in identity)
    kept = [c for c in read_conversations([tmp_path / "o" / "kept.json"]) if isinstance(c, Conversation)]
    answers = " ".join(t.content for c in kept for t in c.turns if t.role == "assistant")
    assert "Example Labs" in answers and "I am Claude" not in answers
    # after a rewrite the row is re-detected: a row whose disclaimers were stripped is not dropped for a
    # disclaimer any more (an identity-calibrated "I am an AI assistant created by ..." still is one)
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "o" / "rejected.jsonl").read_text().splitlines()]
    stripped = [r for r in reasons if "rewritten:strip_disclaimers" in r]
    assert all("refusal" in r for r in stripped)
    assert result.manifest["rewrites"]["2:disclaimers:strip_disclaimers"] > len(stripped)  # stripped rows kept


def test_cli_exit_codes(tmp_path):
    cli = [sys.executable, "-c", "from aligntax.cli import main; main()"]
    ok = subprocess.run([*cli, "clean", str(SAMPLE), "--policy", "unfiltered", "--out", str(tmp_path / "o"),
                         "--limit", "50", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "kept" in ok.stdout and (tmp_path / "o" / "manifest.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{action: explode, when: {any: [refusal]}}]\n")
    failed = subprocess.run([*cli, "clean", str(SAMPLE), "--policy", str(bad), "--out", str(tmp_path / "b")],
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 4 and "rule 1" in failed.stderr and "'action'" in failed.stderr
