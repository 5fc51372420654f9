"""The engine switch: local is the default and never imports Ray; clean checks conservation per shard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aligntax.cli import _register_commands, app
from aligntax.engines import ENGINES, get_engine
from aligntax.shape import run_clean

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


def test_local_audit_and_clean_never_import_ray(tmp_path):
    script = f"""
import sys
from typer.testing import CliRunner
from aligntax.cli import _register_commands, app
_register_commands()
runner = CliRunner()
for args in (["audit", {str(SAMPLE)!r}, "--out", {str(tmp_path / "a")!r}, "--limit", "40", "--no-report"],
             ["clean", {str(SAMPLE)!r}, "--policy", "poison-of-alignment", "--out", {str(tmp_path / "c")!r},
              "--limit", "40", "--no-progress"]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
print(sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_engine_names_and_usage_errors(tmp_path):
    assert "local" in ENGINES.names()
    assert get_engine().name == "local"
    with pytest.raises(KeyError, match="local"):
        get_engine("spark")
    _register_commands()
    result = CliRunner().invoke(app, ["audit", str(SAMPLE), "--out", str(tmp_path / "x"), "--ray-address", "auto"])
    assert result.exit_code == 2 and "--engine ray" in result.output


def test_clean_counts_and_checks_each_shard(tmp_path):
    rows = SAMPLE.read_text(encoding="utf-8").splitlines()[:300]
    shards = tmp_path / "data"
    shards.mkdir()
    (shards / "a.jsonl").write_text("\n".join(rows[:120]) + "\n", encoding="utf-8")
    (shards / "b.jsonl").write_text("\n".join(rows[120:] + ["{not json"]) + "\n", encoding="utf-8")
    result = run_clean([str(shards)], "poison-of-alignment", tmp_path / "out")
    per_shard = result.manifest["per_shard"]
    assert {Path(k).name: v["read"] for k, v in per_shard.items()} == {"a.jsonl": 120, "b.jsonl": 181}
    for counts in per_shard.values():
        assert counts["kept"] + counts["rejected"] == counts["read"]
    rejected = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").open()]
    assert sum(v["rejected"] for v in per_shard.values()) == len(rejected) == result.counts["rejected"]
