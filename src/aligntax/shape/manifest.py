"""What every shaping command (clean, variants, merge) shares: the staged output directory that is
committed by one rename, the row ledger behind the conservation check, and file hashes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

from aligntax import __version__
from aligntax.errors import ConservationError, InputError
from aligntax.util import sha256_file

MANIFEST_FILE = "manifest.json"
_MASK = (1 << 64) - 1


def describe_files(paths: Iterable[str | Path], root: Path | None = None) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            name = str(path.relative_to(root)) if root else str(p)
            out.append({"path": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
        else:  # a Hugging Face dataset id or directory: no single file to hash
            out.append({"path": str(p), "bytes": None, "sha256": None})
    return out


def input_files(inputs: Sequence[str | Path]) -> list[str]:
    """The concrete files behind ``inputs`` (directories and globs expanded), for hashing."""
    from aligntax.io import expand_paths

    return [str(s.path) if s.path is not None else s.name for s in expand_paths(list(inputs))]


class RowLedger:
    """An order-independent fingerprint of a multiset of row identities ``(source, index, sub)``.

    Two ledgers are equal when they saw the same rows the same number of times (up to a 2^-64
    collision chance), in O(1) memory: the count plus the sum and xor of 64-bit row hashes. A row
    lost, duplicated or replaced by another changes the fingerprint."""

    __slots__ = ("count", "total", "xor")

    def __init__(self) -> None:
        self.count = self.total = self.xor = 0

    def add(self, key: tuple[str, int, int]) -> None:
        h = int.from_bytes(hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest(), "little")
        self.count += 1
        self.total = (self.total + h) & _MASK
        self.xor ^= h

    def merged(self, *others: RowLedger) -> RowLedger:
        out = RowLedger()
        for ledger in (self, *others):
            out.count += ledger.count
            out.total = (out.total + ledger.total) & _MASK
            out.xor ^= ledger.xor
        return out

    def fingerprint(self) -> tuple[int, int, int]:
        return (self.count, self.total, self.xor)


def check_conservation(read: RowLedger, outputs: dict[str, RowLedger]) -> None:
    """``read`` must equal the union of ``outputs`` by row identity; else ``ConservationError``."""
    combined = RowLedger().merged(*outputs.values())
    if combined.fingerprint() != read.fingerprint():
        parts = " + ".join(f"{name} {ledger.count}" for name, ledger in outputs.items())
        detail = "row counts differ" if combined.count != read.count else "same count but different rows"
        raise ConservationError(f"conservation violated: {parts} = {combined.count} rows written, "
                                f"{read.count} rows read ({detail}); no output was written")


class StagedDir:
    """Build an output directory next to its destination and move it into place in one step.

    Everything is written under a hidden temporary directory in ``dest``'s parent; ``commit()``
    renames it onto ``dest`` (a previous output there is swapped out and removed). On an exception
    inside the ``with`` block the temporary directory is deleted and ``dest`` is left untouched.
    ``dest`` may be absent, empty, or a previous output of an aligntax command (it holds a
    manifest.json); anything else is refused rather than overwritten."""

    def __init__(self, dest: str | Path) -> None:
        self.dest = Path(dest)
        if self.dest.exists():
            if not self.dest.is_dir():
                raise InputError(f"{self.dest}: exists and is not a directory")
            if any(self.dest.iterdir()) and not (self.dest / MANIFEST_FILE).is_file():
                raise InputError(f"{self.dest}: exists, is not empty and is not an aligntax output "
                                 f"(no {MANIFEST_FILE}); choose another --out or remove it")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self.path = self.dest.parent / f".{self.dest.name}.aligntax-tmp-{uuid.uuid4().hex[:8]}"
        self.committed = False

    def __enter__(self) -> StagedDir:
        self.path.mkdir()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None or not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)

    def commit(self) -> Path:
        old = None
        if self.dest.exists():
            old = self.dest.parent / f".{self.dest.name}.aligntax-old-{uuid.uuid4().hex[:8]}"
            self.dest.rename(old)
        try:
            self.path.rename(self.dest)
        except BaseException:
            if old is not None:
                old.rename(self.dest)
            raise
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.dest


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def base_manifest(command: str, inputs: Sequence[str | Path]) -> dict[str, Any]:
    return {"command": command, "aligntax_version": __version__, "inputs": describe_files(input_files(inputs))}
