"""Where rows come from: paths, globs, directories and Hugging Face datasets, expanded into ``Source``s
whose rows stream out as ``RawRow``s in bounded memory.

File types by extension: ``.jsonl``/``.ndjson``, ``.json``, ``.parquet``, ``.csv``, each optionally
compressed as ``.gz`` or ``.zst`` (not Parquet: it compresses internally and needs random access).
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from aligntax.errors import InputError
from aligntax.io.formats import RawRow
from aligntax.io.json_stream import JsonFileReader

DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024
FILE_TYPES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".pq": "parquet",
              ".csv": "csv"}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
HF_DISK_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
# CSV cells of these columns hold JSON (lists of messages etc.); writers encode them the same way.
CSV_JSON_COLUMNS = frozenset({"messages", "conversations", "conversation", "history", "instances", "results"})
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?(:[\w.-]+)?$")
_BAD_BYTE = re.compile("[\udc80-\udcff]")


@dataclass
class Source:
    name: str  # the path as given (or the dataset id); becomes Conversation.source
    kind: str  # jsonl | json | parquet | csv | hf_disk | hf_hub
    path: Path | None = None
    compression: str | None = None
    size: int = 0  # bytes on disk, for progress
    container: dict[str, Any] = field(default_factory=dict)
    tell: Callable[[], int] = lambda: 0  # bytes of the file consumed so far


def split_suffixes(path: Path) -> tuple[str | None, str | None]:
    """(file type, compression) from the file name, e.g. ``x.jsonl.zst`` -> ("jsonl", "zstd")."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    return (FILE_TYPES.get(suffixes[-1]) if suffixes else None), compression


def _file_source(name: str, path: Path) -> Source:
    kind, compression = split_suffixes(path)
    if kind is None:
        raise InputError(f"{name}: unsupported file type; expected one of {', '.join(sorted(FILE_TYPES))} "
                         f"(optionally {', '.join(sorted(COMPRESSIONS))})")
    if kind == "parquet" and compression:
        raise InputError(f"{name}: compressed Parquet is not supported (Parquet compresses internally); decompress it")
    return Source(name, kind, path, compression, path.stat().st_size)


def _is_hf_disk(path: Path) -> bool:
    return any((path / marker).is_file() for marker in HF_DISK_MARKERS)


def expand_paths(paths: Sequence[str | Path] | str | Path) -> list[Source]:
    """Every input file, in order: directories recursively (sorted, supported types only, hidden files
    skipped), globs sorted, a ``save_to_disk`` directory or a hub dataset id as one source."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    sources: list[Source] = []
    for given in paths:
        name = str(given)
        path = Path(name).expanduser()
        if path.is_dir():
            if _is_hf_disk(path):
                sources.append(Source(name, "hf_disk", path))
                continue
            found = sorted(p for p in path.rglob("*") if p.is_file() and split_suffixes(p)[0]
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise InputError(f"{name}: directory holds no supported files ({', '.join(sorted(FILE_TYPES))})")
            sources.extend(_file_source(str(Path(name) / p.relative_to(path)), p) for p in found)
        elif path.is_file():
            sources.append(_file_source(name, path))
        elif any(c in name for c in "*?["):
            matches = sorted(glob.glob(name, recursive=True))
            files = [m for m in matches if Path(m).is_file() and split_suffixes(Path(m))[0]]
            if not files:
                raise InputError(f"{name}: no supported files match this pattern")
            sources.extend(_file_source(m, Path(m)) for m in files)
        elif _HF_ID.match(name) and split_suffixes(path)[0] is None:
            sources.append(Source(name, "hf_hub"))
        else:
            raise InputError(f"{name}: no such file or directory")
    return sources


def _open_binary(source: Source) -> tuple[IO[bytes], IO[bytes]]:
    raw = open(source.path, "rb")  # noqa: SIM115 - closed by the caller
    if source.compression == "gzip":
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb")
    elif source.compression == "zstd":
        import zstandard

        stream = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    else:
        stream = raw
    source.tell = raw.tell
    return raw, stream


def iter_rows(source: Source, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[RawRow]:
    if source.kind in ("hf_disk", "hf_hub"):
        yield from _hf_rows(source)
        return
    if source.kind == "parquet":
        yield from _parquet_rows(source)
        return
    raw, stream = _open_binary(source)
    try:
        if source.kind == "jsonl":
            yield from _jsonl_rows(source.name, stream, max_line_bytes)
        elif source.kind == "json":
            reader = JsonFileReader(source.name, stream, max_line_bytes)
            for row in reader:
                source.container = reader.container
                yield row
        else:
            yield from _csv_rows(source.name, stream, max_line_bytes)
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip/zstd stream
        raise InputError(f"{source.name}: cannot read the file: {exc}") from None
    finally:
        stream.close()
        raw.close()


def _jsonl_rows(name: str, stream: IO[bytes], max_line_bytes: int) -> Iterator[RawRow]:
    readline, loads = stream.readline, json.loads
    index = lineno = 0
    while True:
        line = readline(max_line_bytes + 1)
        if not line:
            return
        lineno += 1
        if len(line) > max_line_bytes and not (len(line) == max_line_bytes + 1 and line.endswith(b"\n")):
            size = len(line) + _skip_line(stream)
            detail = (f"line-too-long: {size} bytes exceed max_line_bytes={max_line_bytes} "
                      "(raise it with max_line_bytes= / --max-line-bytes to read this row)")
            yield RawRow(name, index, lineno, None, None, detail)
            index += 1
            continue
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = line.rstrip(b"\n").decode("utf-8", "backslashreplace")
            detail = f"not-utf8: invalid byte 0x{line[exc.start]:02x} at byte {exc.start} of the line"
            yield RawRow(name, index, lineno, None, shown, detail)
            index += 1
            continue
        if text.endswith("\n"):
            text = text[:-1]
        if not text or text.isspace():
            continue
        try:
            row = loads(text)
        except json.JSONDecodeError as exc:
            yield RawRow(name, index, lineno, None, text, f"json: {exc.msg} at column {exc.colno}")
        else:
            yield RawRow(name, index, lineno, row, text)
        index += 1


def _skip_line(stream: IO[bytes]) -> int:
    """Discard the rest of an over-long line in bounded chunks; return its bytes, newline excluded."""
    skipped = 0
    while True:
        chunk = stream.readline(1 << 20)
        if not chunk:
            return skipped
        if chunk.endswith(b"\n"):
            return skipped + len(chunk) - 1
        skipped += len(chunk)


def _csv_rows(name: str, stream: IO[bytes], max_line_bytes: int) -> Iterator[RawRow]:
    csv.field_size_limit(max(max_line_bytes, csv.field_size_limit()))
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    index, last_line = 0, reader.line_num
    for values in reader:
        line, last_line = last_line + 1, reader.line_num
        if not values:
            continue
        error, row = None, None
        if len(values) != len(header):
            error = f"csv: the row has {len(values)} fields, the header has {len(header)}"
        elif any(_BAD_BYTE.search(v) for v in values):
            error = "not-utf8: a field holds bytes that are not valid UTF-8"
        else:
            row = dict(zip(header, values))
            for key in CSV_JSON_COLUMNS.intersection(row):
                cell = row[key]
                if cell[:1] in ("[", "{"):
                    try:
                        row[key] = json.loads(cell)
                    except json.JSONDecodeError as exc:
                        error = f"json: column {key!r} holds invalid JSON ({exc.msg})"
        shown = None if error is None or error.startswith("not-utf8") else ",".join(values)
        yield RawRow(name, index, line, row if error is None else None, shown, error)
        index += 1


def _parquet_rows(source: Source, batch_size: int = 2048) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError subclasses for non-Parquet bytes
        raise InputError(f"{source.name}: not a readable Parquet file: {exc}") from None
    total = max(pf.metadata.num_rows, 1)
    index = 0
    source.tell = lambda: source.size * index // total
    for batch in pf.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            yield RawRow(source.name, index, None, row)
            index += 1


def _hf_rows(source: Source) -> Iterator[RawRow]:
    try:
        import datasets
    except ImportError:
        raise InputError(f"{source.name}: reading Hugging Face datasets needs `pip install aligntax[hf]`") from None
    name = source.name
    try:
        if source.kind == "hf_disk":
            loaded: Any = datasets.load_from_disk(str(source.path))
        else:
            dataset_id, _, split = name.partition(":")
            loaded = datasets.load_dataset(dataset_id, split=split or None, streaming=True)
    except Exception as exc:  # datasets raises many unrelated types for missing/unreadable datasets
        raise InputError(f"{name}: cannot load the dataset: {exc}") from None
    splits = loaded.items() if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)) else [(None, loaded)]
    for split, dataset in splits:
        split_name = f"{name}:{split}" if split is not None else name
        rows = _batched_rows(dataset) if isinstance(dataset, datasets.Dataset) else iter(dataset)
        for index, row in enumerate(rows):
            yield RawRow(split_name, index, None, row)


def _batched_rows(dataset: Any, batch_size: int = 1024) -> Iterator[dict[str, Any]]:
    for batch in dataset.iter(batch_size=batch_size):
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys)):
            yield dict(zip(keys, values))
