"""``read_conversations``: every input, any supported format, streamed as canonical records."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import Any

from aligntax.errors import InputError
from aligntax.io.formats import FORMATS, FormatAdapter, RawRow, detect_format, get_adapter
from aligntax.io.sources import DEFAULT_MAX_LINE_BYTES, Source, expand_paths, iter_rows
from aligntax.record import Conversation, Malformed

log = logging.getLogger("aligntax.io")

ON_ERROR = ("quarantine", "skip", "fail")
HH_SIDES = ("chosen", "rejected", "both")
OASST_MODES = ("paths", "best")
DETECT_ROWS = 16  # rows looked at to auto-detect a file's format
DETECT_MAX_ROWS = 1000  # how far to look past unreadable rows for a readable one


def read_conversations(
    paths: Sequence[str | Path] | str | Path,
    *,
    format: str | None = None,
    on_error: str = "quarantine",
    limit: int | None = None,
    progress: bool = False,
    hh_side: str = "chosen",
    oasst_mode: str = "paths",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Conversation | Malformed]:
    """Stream every conversation of ``paths`` (files, globs, directories, HF datasets).

    Each file's format is auto-detected from its first rows unless ``format`` names one. A bad row
    becomes a ``Malformed`` (``on_error="quarantine"``), is dropped with a logged count (``"skip"``),
    or raises ``InputError`` naming file and line (``"fail"``). A file with no rows, a file whose
    format cannot be recognised and an unknown ``format`` name raise ``InputError`` under every policy.
    ``limit`` caps the records yielded (conversations and malformed rows together).
    """
    for name, value, allowed in (("on_error", on_error, ON_ERROR), ("hh_side", hh_side, HH_SIDES),
                                 ("oasst_mode", oasst_mode, OASST_MODES)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    options = {"hh_side": hh_side, "oasst_mode": oasst_mode}
    explicit = get_adapter(format, **options) if format else None
    sources = expand_paths(paths)
    adapters: dict[str, FormatAdapter] = {}
    yielded = 0
    with _ProgressBar(sources, enabled=progress) as bar:
        for source in sources:
            skipped = 0
            for item in _read_source(source, explicit, adapters, options, max_line_bytes):
                if isinstance(item, Malformed):
                    if on_error == "fail":
                        raise InputError(item.message())
                    if on_error == "skip":
                        skipped += 1
                        continue
                elif source.container:
                    item.meta["container"] = source.container
                yield item
                yielded += 1
                bar.advance(source)
                if limit is not None and yielded >= limit:
                    return
            bar.finish(source)
            if skipped:
                log.warning("%s: skipped %d malformed rows (on_error=skip)", source.name, skipped)


def _read_source(source: Source, explicit: FormatAdapter | None, adapters: dict[str, FormatAdapter],
                 options: dict[str, Any], max_line_bytes: int) -> Iterator[Conversation | Malformed]:
    rows = iter_rows(source, max_line_bytes=max_line_bytes)
    head = list(islice(rows, DETECT_ROWS))
    if not head:
        raise InputError(f"{source.name}: empty file (no rows)")
    adapter = explicit
    if adapter is None:
        good = [r.row for r in head if r.error is None]
        while not good and len(head) < DETECT_MAX_ROWS:
            more = list(islice(rows, DETECT_ROWS))
            if not more:
                break
            head += more
            good = [r.row for r in more if r.error is None]
        name = detect_format(good)
        if name is None:
            yield from _undetectable(source, head, good)
            return
        adapter = adapters.get(name) or adapters.setdefault(name, FORMATS.get(name)(**options))
    adapter.open_source(source.name)
    yield from adapter.iter_records(chain(head, rows))


def _undetectable(source: Source, head: list[RawRow], good: list[Any]) -> Iterator[Malformed]:
    if good:
        first = good[0]
        shape = f"keys {sorted(first)[:12]}" if isinstance(first, dict) else f"a {type(first).__name__}"
        where = next((f":{r.line}" for r in head if r.error is None and r.line is not None), "")
        raise InputError(f"{source.name}{where}: unknown format: the first row has {shape}; known formats: "
                         f"{', '.join(FORMATS.names())}. Pass format=/--format to choose one.")
    # Nothing readable to detect from: report the unreadable rows themselves, then give up on the file.
    for raw in head:
        yield raw.malformed()
    raise InputError(f"{source.name}: no readable row in the first {len(head)} rows; cannot detect the format")


class _ProgressBar:
    """Bytes-read progress over all sources (rich, on stderr); a no-op when disabled."""

    def __init__(self, sources: list[Source], enabled: bool) -> None:
        self.enabled = enabled
        self.sources = sources
        self.done_bytes = 0
        self.rows = 0

    def __enter__(self) -> _ProgressBar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)

            total = sum(s.size for s in self.sources) or None
            self.progress = Progress(TextColumn("[bold]reading[/] {task.description}"), BarColumn(), DownloadColumn(),
                                     TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("", total=total)
        return self

    def advance(self, source: Source) -> None:
        if not self.enabled:
            return
        self.rows += 1
        if self.rows % 512 == 0:
            self.progress.update(self.task, completed=self.done_bytes + source.tell(),
                                 description=f"{self.rows:,} records · {source.name}")

    def finish(self, source: Source) -> None:
        if self.enabled:
            self.done_bytes += source.size
            self.progress.update(self.task, completed=self.done_bytes)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()
