"""Shared fixtures. Real public data lives in ../shared/data beside the repository (see README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real datasets (``/work/shared/data`` in development, ``shared/data`` beside the clone in CI)."""
    if not DATA_DIR.is_dir():
        pytest.fail(f"real data not found at {DATA_DIR}; clone the shared data beside the repository")
    return DATA_DIR


@pytest.fixture
def write_jsonl(tmp_path: Path):
    """``write_jsonl(name, rows)`` writes rows (dicts, or raw str lines) to ``tmp_path/name``."""

    def write(name: str, rows: list) -> Path:
        path = tmp_path / name
        lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path

    return write
