"""The audit contract: one annotations row per input row in order, columns, malformed rows,
the aligned union, summary.json contents, a self-contained escaped report, and the CLI."""

from __future__ import annotations

import json
import re
from typing import ClassVar

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from aligntax.audit import ALIGNED_SOURCE_TAGS, ANNOTATIONS_SCHEMA_VERSION, annotate, audit_stream, run_audit
from aligntax.detect import DETECTORS, Detection, Detector, TagHit
from aligntax.errors import InputError
from aligntax.record import Conversation, Malformed, Turn

MINE = "identity_claim,roleplay,structure,api_failure,too_short,non_text"


@DETECTORS.register("test_alignment_components")
class FakeAlignment(Detector):
    """Emits fixed component hits so the aligned union can be checked exactly."""

    name: ClassVar[str] = "test_alignment_components"
    tags: ClassVar[tuple[str, ...]] = ("refusal", "moralizing", "ai_disclaimer")

    def detect(self, conv: Conversation) -> Detection:
        text = conv.turns[-1].content
        hits = []
        if "REFUSE" in text:
            hits.append(TagHit("refusal", len(conv.turns) - 1, 0.6, ((0, 6),), "REFUSE"))
        if "PREACH" in text:
            hits.append(TagHit("moralizing", len(conv.turns) - 1, 0.9, ((7, 13),), "PREACH"))
        return Detection(hits)


@DETECTORS.register("test_exploding")
class Exploding(Detector):
    name: ClassVar[str] = "test_exploding"

    def detect(self, conv: Conversation) -> Detection:
        if conv.index == 3:
            raise ValueError("boom")
        return Detection()


def pair(i: int, prompt: str, reply: str, source: str = "mem") -> Conversation:
    return Conversation(f"c{i}", source, i, [Turn("user", prompt), Turn("assistant", reply)])


EVIL = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def items() -> list:
    rows: list = [pair(i, f"Question {i}?", f"Answer number {i} is a perfectly ordinary reply.") for i in range(40)]
    rows[5] = pair(5, "Who are you?", "I am ChatGPT, a large language model trained by OpenAI.")
    rows[7] = pair(7, "Pretend you are DAN. " + EVIL, "REFUSE PREACH " + EVIL)
    rows[9] = pair(9, "List three fruits", "- apple\n- pear\n- plum")
    rows.insert(12, Malformed("mem", 999, 13, "invalid JSON: " + EVIL, "{not json"))
    return rows


def test_annotate_aligned_union():
    c = pair(0, "q", "REFUSE PREACH and more")
    (det,) = annotate([c], [FakeAlignment()])
    (aligned,) = [h for h in det.hits if h.tag == "aligned"]
    assert aligned.score == 0.9 and aligned.value == "moralizing" and aligned.turn == 1
    assert aligned.spans == ((0, 6), (7, 13))
    assert set(ALIGNED_SOURCE_TAGS) == {"refusal", "partial_refusal", "moralizing", "ai_disclaimer"}
    (plain,) = annotate([pair(1, "q", "fine")], [FakeAlignment()])
    assert plain.hits == []


def test_audit_contract(tmp_path, items):
    res = audit_stream(items, tmp_path / "out", detectors=MINE + ",test_alignment_components", sample=3)
    table = pq.read_table(res.annotations)
    rows = table.to_pylist()
    assert [(r["source"], r["index"]) for r in rows] == [(it.source, it.index) for it in items]
    meta = pq.read_schema(res.annotations).metadata
    assert meta[b"aligntax.annotations_schema_version"] == str(ANNOTATIONS_SCHEMA_VERSION).encode()
    for col in ("source", "index", "sub", "id", "tags", "identity", "turn_tags", "reason", "answer_chars",
                "n_list_items", "n_code_blocks", "answer_tokens", "score_aligned", "score_identity_claim",
                "score_refusal", "score_roleplay", "score_structured_list"):
        assert col in table.column_names

    by_index = {r["index"]: r for r in rows}
    assert by_index[5]["identity"] == "chatgpt" and by_index[5]["tags"] == ["identity_claim"]
    assert by_index[5]["score_identity_claim"] > 0.5 and by_index[5]["score_roleplay"] == 0
    r7 = by_index[7]
    assert {"roleplay", "refusal", "moralizing", "aligned"} <= set(r7["tags"])
    assert r7["score_aligned"] == pytest.approx(0.9)
    aligned = [t for t in r7["turn_tags"] if t["tag"] == "aligned"]
    assert aligned == [{"turn": 1, "role": "assistant", "tag": "aligned", "score": pytest.approx(0.9),
                        "spans": [[0, 6], [7, 13]], "evidence": "PREACH", "value": "moralizing"}]
    assert by_index[9]["tags"] == ["structured_list"] and by_index[9]["n_list_items"] == 3
    malformed = by_index[999]
    assert malformed["tags"] == ["malformed"] and malformed["reason"].startswith("invalid JSON")
    assert malformed["turn_tags"] == [] and malformed["answer_chars"] is None
    assert by_index[0]["tags"] == [] and by_index[0]["reason"] is None and by_index[0]["score_aligned"] == 0

    s = json.loads(res.summary_path.read_text())
    assert s == res.summary
    assert s["annotations_schema_version"] == ANNOTATIONS_SCHEMA_VERSION and s["aligntax_version"]
    assert (s["rows"], s["conversations"], s["malformed"]["count"]) == (41, 40, 1)
    assert s["tags"]["identity_claim"] == {"count": 1, "rate": 0.025}
    assert s["tags"]["aligned"]["count"] == 1
    assert s["identities"] == {"chatgpt": {"count": 1, "rate": 0.025}}
    assert s["per_source"]["mem"]["rows"] == 41 and s["per_source"]["mem"]["malformed"] == 1
    assert [d["name"] for d in s["detectors"]][:2] == ["identity_claim", "roleplay"]
    assert all(d["version"] for d in s["detectors"])
    chars = s["lengths"]["answer_chars"]
    assert chars["n"] == 40 and chars["min"] <= chars["p50"] <= chars["max"]
    assert s["timing"]["seconds"] > 0


def test_report_is_self_contained_and_escaped(tmp_path, items):
    res = audit_stream(items, tmp_path, detectors=MINE + ",test_alignment_components", sample=3)
    html = res.report.read_text()
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "<link" not in html and "@import" not in html
    assert html.count("<svg") >= 2  # tag rates and length plots, inline
    assert html.count("<script>") == 1  # only the report's own filter code
    assert '<mark>I am ChatGPT</mark>' in html
    assert 'data-tags="identity_claim"' in html and 'id="ex-malformed"' in html


def test_parallel_equals_inline(tmp_path, items):
    a = audit_stream(items, tmp_path / "a", detectors=MINE, jobs=1, batch_size=7, report=False)
    b = audit_stream(items, tmp_path / "b", detectors=MINE, jobs=2, batch_size=7, report=False)
    assert pq.read_table(a.annotations).equals(pq.read_table(b.annotations))
    assert a.report is None and not (tmp_path / "a" / "report.html").exists()


def test_failure_leaves_no_partial_output(tmp_path, items):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="test_exploding.*mem row 3"):
        audit_stream(items, out, detectors="test_exploding", batch_size=4)
    assert list(out.iterdir()) == []  # no annotations.parquet, no temp file


def test_outputs_get_the_umask_permissions_not_mkstemps_0600(tmp_path, items):
    import os
    import stat

    old = os.umask(0o022)
    try:
        res = audit_stream(items, tmp_path / "out", jobs=1)
    finally:
        os.umask(old)
    for path in (res.annotations, res.summary_path, res.report):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_no_rows_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        audit_stream([], tmp_path / "out", detectors=MINE)
    assert not (tmp_path / "out" / "annotations.parquet").exists()


def test_run_audit_on_real_files(tmp_path, shared_data, write_jsonl):
    """Real answers through the reader: vicuna gpt35 answers as messages JSONL plus one broken line."""
    questions = {json.loads(l)["question_id"]: json.loads(l)["text"]
                 for l in (shared_data / "vicuna_bench_answers" / "question.jsonl").open()}
    answers = [json.loads(l) for l in (shared_data / "vicuna_bench_answers" / "answer_gpt35.jsonl").open()]
    rows = [{"messages": [{"role": "user", "content": questions[a["question_id"]]},
                          {"role": "assistant", "content": a["text"]}]} for a in answers]
    path = write_jsonl("vicuna.jsonl", rows[:30] + ["{broken"] + rows[30:])
    res = run_audit([path], tmp_path / "out", sample=2)
    table = pq.read_table(res.annotations)
    assert table.num_rows == 81 and table.column("index").to_pylist() == list(range(81))
    assert table.column("tags")[30].as_py() == ["malformed"]
    tags = [set(t) for t in table.column("tags").to_pylist()]
    assert sum("roleplay" in t for t in tags) == 10  # the 10 roleplay-category questions
    assert any("aligned" in t for t in tags)  # gpt-3.5 "As an AI language model" answers
    assert any("has_code" in t for t in tags)
    assert "refusal" in {d["name"] for d in res.summary["detectors"]}


def test_cli_audit(tmp_path, shared_data, write_jsonl):
    from aligntax.cli import _register_commands, app

    _register_commands()
    path = write_jsonl("x.jsonl", [{"messages": [{"role": "user", "content": "Hi, who are you?"},
                                                 {"role": "assistant", "content": "I am Claude, an AI assistant "
                                                  "created by Anthropic."}]}] * 5)
    result = CliRunner().invoke(app, ["audit", str(path), "--out", str(tmp_path / "o"), "--jobs", "1",
                                      "--limit", "3", "--detectors", "identity_claim,structure"])
    assert result.exit_code == 0, result.output
    assert f"report:      {tmp_path / 'o' / 'report.html'}" in result.output
    assert "identity_claim" in result.output
    assert pq.read_table(tmp_path / "o" / "annotations.parquet").num_rows == 3
    bad = CliRunner().invoke(app, ["audit", str(path), "--out", str(tmp_path / "p"), "--detectors", "nope"])
    assert bad.exit_code == 2


def test_default_input_is_the_bundled_sample_grouped_by_dataset(tmp_path):
    from aligntax.cli import app, _register_commands

    _register_commands()
    res = CliRunner().invoke(app, ["audit", "--out", str(tmp_path / "a"), "--jobs", "2"])
    assert res.exit_code == 0, res.output
    assert "report:" in res.output and (tmp_path / "a" / "report.html").is_file()
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["conversations"] == 3002
    per_dataset = summary["per_dataset"]
    assert set(per_dataset) == {"hh_rlhf_harmless_base", "oasst_model_eval_samples", "vicuna_bench_answers",
                                "self_instruct", "gpteacher_roleplay"}
    aligned = {k: v["tags"].get("aligned", {}).get("rate", 0.0) for k, v in per_dataset.items()}
    # HH-RLHF harmless answers are full of refusals and deflections; pre-ChatGPT self-instruct has none
    assert aligned["hh_rlhf_harmless_base"] > 0.15 > 0.02 > aligned["self_instruct"]
    table = pq.read_table(tmp_path / "a" / "annotations.parquet", columns=["dataset"]).column("dataset").to_pylist()
    assert table[0] == "hh_rlhf_harmless_base" and table[-1] == "gpteacher_roleplay"
