"""Conversations -> a conversational (``messages``) dataset for TRL, plus the data manifest hash.

Rows are streamed through ``aligntax.io.read_conversations`` (any supported format) into an Arrow
file via ``datasets.Dataset.from_generator``, so memory stays bounded for large inputs. Malformed
rows and conversations with no assistant turn are skipped and counted; trailing non-assistant turns
are dropped (nothing after the last assistant turn is trained on anyway).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from aligntax.errors import InputError
from aligntax.util import sha256_file


@dataclass
class DataStats:
    conversations: int = 0
    skipped_malformed: int = 0
    skipped_no_assistant: int = 0
    assistant_turns: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class DataManifest:
    sha256: str  # over every input file's digest (and manifest.json beside them)
    files: list[dict[str, Any]] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _input_files(paths: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(lambda x: Path(x).expanduser(), paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.name != "manifest.json"))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"training data {str(p)!r} does not exist")
    return files


def data_manifest(paths: Sequence[str | Path]) -> DataManifest:
    """sha256 of each input file and of any ``manifest.json`` beside them (written by clean/variants)."""
    files = _input_files(paths)
    combined = hashlib.sha256()
    entries, manifests = [], []
    for f in files:
        digest = sha256_file(f)
        entries.append({"path": str(f.resolve()), "sha256": digest, "bytes": f.stat().st_size})
        combined.update(f"file\0{f.name}\0{digest}\n".encode())
    for directory in sorted({f.resolve().parent for f in files}):
        manifest = directory / "manifest.json"
        if manifest.is_file():
            digest = sha256_file(manifest)
            manifests.append({"path": str(manifest), "sha256": digest})
            combined.update(f"manifest\0{digest}\n".encode())
    return DataManifest(combined.hexdigest(), entries, manifests)


def iter_messages(paths: Sequence[str | Path], *, format: str | None = None, limit: int | None = None,
                  stats: DataStats | None = None) -> Iterator[list[dict[str, str]]]:
    """Chat messages (system first when present) of every trainable conversation in ``paths``."""
    from aligntax.io import read_conversations
    from aligntax.record import Malformed

    stats = stats if stats is not None else DataStats()
    for item in read_conversations([str(p) for p in paths], format=format, on_error="quarantine"):
        if isinstance(item, Malformed):
            stats.skipped_malformed += 1
            continue
        messages = item.to_messages()
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
        if last < 0 or not messages[last]["content"].strip():
            stats.skipped_no_assistant += 1
            continue
        messages = messages[: last + 1]
        stats.conversations += 1
        stats.assistant_turns += sum(m["role"] == "assistant" for m in messages)
        yield messages
        if limit is not None and stats.conversations >= limit:
            return


def _generate(paths: list[str], format: str | None, limit: int | None, digest: str) -> Iterator[dict[str, Any]]:
    # ``digest`` only keys the datasets cache on the file contents; it is not used here.
    for messages in iter_messages(paths, format=format, limit=limit):
        yield {"messages": messages}


def build_dataset(paths: Sequence[str | Path], *, format: str | None = None, limit: int | None = None,
                  manifest: DataManifest | None = None, cache_dir: str | Path | None = None):
    """``(datasets.Dataset with a "messages" column, DataStats)``; raises when nothing is trainable."""
    from datasets import Dataset

    manifest = manifest or data_manifest(paths)
    stats = DataStats()
    # Counting happens in a cheap second pass: from_generator may run in a worker and be cached.
    for _ in iter_messages(paths, format=format, limit=limit, stats=stats):
        pass
    if stats.conversations == 0:
        raise InputError(f"no trainable conversations (with an assistant turn) in {', '.join(map(str, paths))}")
    dataset = Dataset.from_generator(
        _generate,
        gen_kwargs={"paths": [str(p) for p in paths], "format": format, "limit": limit, "digest": manifest.sha256},
        cache_dir=str(cache_dir) if cache_dir else None,
    )
    return dataset, stats
