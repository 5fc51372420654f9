"""`aligntax inspect` on real data: counts, roles, length statistics, malformed rows, sample, exit codes."""

from __future__ import annotations

import json
import statistics

from typer.testing import CliRunner

from aligntax.cli import _register_commands, app
from aligntax.io import read_conversations

_register_commands()
runner = CliRunner()


def test_inspect_json_summary_matches_the_data(shared_data):
    path = shared_data / "hh_rlhf_harmless_base" / "test.jsonl"
    result = runner.invoke(app, ["inspect", str(path), "--json", "--hh-side", "both"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    convs = list(read_conversations([path], hh_side="both"))
    turns = [len(c.turns) for c in convs]
    assert s["formats"] == {"hh": 4624} and s["rows"] == 2312 and s["conversations"] == 4624
    assert s["turns"] == sum(turns) and s["malformed"] == 0
    assert s["roles"] == {"assistant": sum(t.role == "assistant" for c in convs for t in c.turns),
                          "user": sum(t.role == "user" for c in convs for t in c.turns)}
    assert s["turns_per_conversation"]["max"] == max(turns)
    assert s["turns_per_conversation"]["p50"] == statistics.median(turns)
    chars = [len(t.content) for c in convs for t in c.turns]
    assert abs(s["chars_per_turn"]["mean"] - statistics.fmean(chars)) < 0.01


def test_inspect_tables_sample_and_malformed(shared_data, tmp_path):
    src = shared_data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "Hi", "output": "Hello"}\n{"instruction": \n')
    result = runner.invoke(app, ["inspect", str(src), str(bad), "--sample", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "alpaca (1,924)" in out and "conversations" in out and "1,924" in out
    assert "chars per turn" in out and "turns per conversation" in out
    assert f"{bad}:2: malformed:json" in out
    assert out.count("alpaca · 2 turns ·") == 2  # the two sampled conversations


def test_inspect_exit_codes(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(app, ["inspect", str(empty)])
    assert result.exit_code != 0 and "empty file" in str(result.exception)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": \n')
    result = runner.invoke(app, ["inspect", str(bad), "--on-error", "fail", "--format", "alpaca"])
    assert "bad.jsonl:1: malformed:json" in str(result.exception)
    result = runner.invoke(app, ["inspect", str(bad), "--on-error", "explode"])
    assert result.exit_code == 2 and "on_error must be one of" in result.output


def test_main_maps_input_errors_to_exit_code_3(tmp_path):
    import subprocess
    import sys

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    proc = subprocess.run([sys.executable, "-c", "from aligntax.cli import main; main()", "inspect", str(empty)],
                          capture_output=True, text=True)
    assert proc.returncode == 3 and "empty file (no rows)" in " ".join(proc.stderr.split())
