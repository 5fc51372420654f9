"""Atomic writers: conversations back in their input format or as normalised messages, and rejected rows.

Every writer writes to a temporary file in the destination's directory and ``os.replace``s it onto the
destination only when its ``with`` block exits cleanly; on an exception the temporary file is removed,
so a destination is either the complete new output or untouched. ``.gz``/``.zst`` destinations are
compressed (not Parquet, which compresses internally).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import uuid
from pathlib import Path
from typing import IO, Any

from aligntax.io.formats import FormatAdapter, get_adapter
from aligntax.io.sources import split_suffixes
from aligntax.record import Conversation, Malformed

FILE_TYPES = ("jsonl", "json", "parquet", "csv")


def _dumps(row: Any) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)


def _open_text(tmp: Path, compression: str | None) -> IO[str]:
    if compression == "gzip":
        return io.TextIOWrapper(gzip.open(tmp, "wb"), encoding="utf-8", newline="")
    if compression == "zstd":
        import zstandard

        return io.TextIOWrapper(zstandard.ZstdCompressor().stream_writer(open(tmp, "wb")), encoding="utf-8", newline="")
    return open(tmp, "w", encoding="utf-8", newline="")


class _Sink:
    """Row sink for one file type; ``line`` writes a pre-serialised JSONL line (byte-for-byte copies)."""

    def __init__(self, tmp: Path, file_type: str, compression: str | None, schema: Any = None) -> None:
        self.file_type, self.tmp, self.schema = file_type, tmp, schema
        self.count = 0
        self._parquet: Any = None
        self._pending: list[dict[str, Any]] = []
        self._csv: csv.DictWriter | None = None
        if file_type == "parquet":
            if compression:
                raise ValueError("compressed Parquet output is not supported; Parquet compresses internally")
            self.text = None
        else:
            self.text = _open_text(tmp, compression)
            if file_type == "json":
                self.text.write("[")

    def line(self, text: str) -> None:
        self.text.write(text)
        self.text.write("\n")
        self.count += 1

    def row(self, row: dict[str, Any]) -> None:
        if self.file_type == "jsonl":
            self.line(_dumps(row))
            return
        if self.file_type == "json":
            self.text.write(",\n" if self.count else "\n")
            self.text.write(_dumps(row))
        elif self.file_type == "csv":
            self._csv_row(row)
        else:
            self._pending.append(row)
            if len(self._pending) >= 2048:
                self._flush_parquet()
        self.count += 1

    def _csv_row(self, row: dict[str, Any]) -> None:
        if self._csv is None:
            self._csv = csv.DictWriter(self.text, fieldnames=list(row), lineterminator="\n")
            self._csv.writeheader()
        extra = set(row) - set(self._csv.fieldnames)
        if extra:
            raise ValueError(f"CSV rows must share the first row's columns; new columns {sorted(extra)}")
        self._csv.writerow({k: v if isinstance(v, str) else "" if v is None else _dumps(v) if isinstance(v, (list, dict))
                            else str(v) for k, v in row.items()})

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending:
            return
        if self._parquet is not None or self.schema is not None:
            names = set(self.schema.names)
            extra = {k for r in self._pending for k in r} - names
            if extra:
                raise ValueError(f"Parquet rows must share the first rows' columns; new columns {sorted(extra)}")
        table = pa.Table.from_pylist(self._pending, schema=self.schema)
        if self._parquet is None:
            self.schema = table.schema
            self._parquet = pq.ParquetWriter(self.tmp, table.schema)
        self._parquet.write_table(table)
        self._pending = []

    def close(self) -> None:
        if self.file_type == "parquet":
            self._flush_parquet()
            if self._parquet is None:  # no rows: still a valid (empty) Parquet file when the schema is known
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.Table.from_pylist([], schema=self.schema) if self.schema else pa.table({}), self.tmp)
            else:
                self._parquet.close()
        else:
            if self.file_type == "json":
                self.text.write("\n]\n" if self.count else "]\n")
            self.text.close()

    def abort(self) -> None:
        try:
            if self._parquet is not None:
                self._parquet.close()
            if self.text is not None:
                self.text.close()
        finally:
            self.tmp.unlink(missing_ok=True)


class _AtomicWriter:
    def __init__(self, path: str | Path, file_type: str | None, schema: Any = None) -> None:
        self.path = Path(path)
        guessed, compression = split_suffixes(self.path)
        self.file_type = file_type or guessed or "jsonl"
        if self.file_type not in FILE_TYPES:
            raise ValueError(f"file_type must be one of {FILE_TYPES}, got {self.file_type!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.parent / f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp"
        self._sink = _Sink(self._tmp, self.file_type, compression, schema)
        self._closed = False

    @property
    def count(self) -> int:
        return self._sink.count

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def close(self) -> None:
        """Finish the file and move it into place."""
        if not self._closed:
            self._closed = True
            try:
                self._sink.close()
            except BaseException:
                self._tmp.unlink(missing_ok=True)
                raise
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop everything written; the destination is left as it was."""
        if not self._closed:
            self._closed = True
            self._sink.abort()


class ConversationWriter(_AtomicWriter):
    """Writes conversations in format ``like`` (their own input format) or as normalised messages.

    ``like=None``: every row is ``{"id", "source", "index", "messages"}`` plus ``extra`` columns.
    ``like="messages"``: rows read as ``messages`` keep all their columns; others are normalised as above.
    ``like=<format>``: the original row with only its text fields updated (an untouched JSONL row is
    copied byte for byte from ``raw_text``); conversations from another format get a fresh row.
    """

    def __init__(self, path: str | Path, *, like: str | None, file_type: str | None) -> None:
        self.like = like
        self.adapter: FormatAdapter | None = get_adapter(like) if like else None
        super().__init__(path, file_type)

    def write(self, conv: Conversation, extra: dict[str, Any] | None = None) -> None:
        if not isinstance(conv, Conversation):
            raise TypeError(f"ConversationWriter.write takes a Conversation, got {type(conv).__name__}; "
                            "write Malformed rows with open_rejected_writer")
        adapter = self.adapter
        if adapter is None or (self.like == "messages" and conv.format != "messages"):
            row = {"id": conv.id, "source": conv.source, "index": conv.index, "messages": conv.to_messages()}
        else:
            if (not extra and self.file_type == "jsonl" and conv.raw_text is not None
                    and adapter.is_untouched(conv)):
                self._sink.line(conv.raw_text)
                return
            row = adapter.from_conversation(conv)
        if extra:
            row = {**row, **extra}
        self._sink.row(row)


class RejectedWriter(_AtomicWriter):
    """Rejected rows, one per conversation or malformed row, with ``reason`` and ``rule`` columns and
    the original row in ``raw`` (its exact text where known, else its JSON), so nothing is lost."""

    def __init__(self, path: str | Path, file_type: str | None = None) -> None:
        import pyarrow as pa

        schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("index", pa.int64()), ("sub", pa.int64()),
                            ("line", pa.int64()), ("reason", pa.string()), ("rule", pa.string()),
                            ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
                            ("raw", pa.string())])
        super().__init__(path, file_type, schema)

    def write(self, item: Conversation | Malformed, *, reason: str | None = None, rule: str | None = None) -> None:
        if isinstance(item, Malformed):
            row = {"id": None, "source": item.source, "index": item.index, "sub": 0, "line": item.line,
                   "reason": reason or item.reason, "rule": rule or "input", "messages": None, "raw": item.raw_text}
        else:
            if not reason:
                raise ValueError(f"{item.id}: a rejected conversation needs a reason")
            raw = item.raw_text if item.raw_text is not None else _dumps(item.raw) if item.raw is not None else None
            row = {"id": item.id, "source": item.source, "index": item.index, "sub": item.sub,
                   "line": item.meta.get("line"), "reason": reason, "rule": rule, "messages": item.to_messages(),
                   "raw": raw}
        self._sink.row(row)


def open_writer(path: str | Path, *, like: str | None = None, file_type: str | None = None) -> ConversationWriter:
    """A ``ConversationWriter`` (use it as a context manager); ``file_type`` defaults from the suffix."""
    return ConversationWriter(path, like=like, file_type=file_type)


def open_rejected_writer(path: str | Path, file_type: str | None = None) -> RejectedWriter:
    return RejectedWriter(path, file_type)
