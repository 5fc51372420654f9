"""The audit pipeline: stream rows -> batches -> detectors (in worker processes) -> Parquet,
summary and report, in input order and bounded memory.

``audit_stream`` takes any iterable of ``Conversation | Malformed`` (tests, the ``clean``
command, notebooks); ``run_audit`` reads files through ``aligntax.io.read_conversations``.
Workers receive conversations without ``raw``/``raw_text`` (see ``_pack``) and return Arrow
record batches.
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import pyarrow as pa

from aligntax import __version__
from aligntax.audit.annotate import annotate, declared_tags
from aligntax.audit.columns import ANNOTATIONS_SCHEMA_VERSION, annotations_schema, row_dataset, to_record_batch
from aligntax.audit.pool import OrderedPool
from aligntax.audit.samples import TABLE_CAP, ReportSampler
from aligntax.audit.summary import SummaryBuilder
from aligntax.audit.writers import AnnotationsWriter, write_text_atomic
from aligntax.detect.defaults import build_detectors, parse_detector_names
from aligntax.detect.textscan import shared_automaton
from aligntax.errors import InputError
from aligntax.record import Conversation, Malformed, Turn
from aligntax.util import STREAM_GC_THRESHOLD, batched, stream_gc

BATCH_SIZE = 512
ANNOTATIONS_FILE, SUMMARY_FILE, REPORT_FILE = "annotations.parquet", "summary.json", "report.html"


class BatchAnnotator:
    """Detectors + schema; turns a batch of rows into an annotations record batch."""

    def __init__(self, names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.detectors = build_detectors(names, options)
        self.tags = declared_tags(self.detectors)
        detectors_meta = json.dumps({d.name: d.version for d in self.detectors})
        self.schema = annotations_schema(self.tags, {"aligntax.version": __version__,
                                                     "aligntax.detectors": detectors_meta})

    def __call__(self, items: Sequence[Conversation | Malformed]) -> pa.RecordBatch:
        convs = [it for it in items if isinstance(it, Conversation)]
        found = iter(annotate(convs, self.detectors))
        detections = [next(found) if isinstance(it, Conversation) else None for it in items]
        return to_record_batch(items, detections, self.schema, self.tags)


_worker: BatchAnnotator | None = None


def _init_worker(names: list[str], options: dict) -> None:
    global _worker
    _worker = BatchAnnotator(names, options)
    # A worker process is ours: its detector tables live forever (frozen out of every collection), and a batch
    # allocates many small acyclic objects that reference counting frees, so collect cycles less often (-3%
    # instructions per conversation).
    gc.freeze()
    gc.set_threshold(*STREAM_GC_THRESHOLD)


# Batches cross to the workers as plain tuples: pickling slotted dataclasses runs Python code per
# object, tuples of strings pickle in C (half the transfer cost at audit speed). ``raw``/``raw_text``
# stay behind: detectors never need them, and pickling them would double the traffic.
_Packed = tuple


def _pack(item: Conversation | Malformed) -> _Packed | Malformed:
    if isinstance(item, Malformed):
        return Malformed(item.source, item.index, item.line, item.reason, None)
    return (item.id, item.source, item.index, [(t.role, t.content) for t in item.turns], item.system, item.format,
            item.sub, {**item.meta, "dataset": row_dataset(item)})


def _unpack(item: _Packed | Malformed) -> Conversation | Malformed:
    if isinstance(item, Malformed):
        return item
    id_, source, index, turns, system, fmt, sub, meta = item
    return Conversation(id_, source, index, [Turn(role, content) for role, content in turns], system, fmt, sub,
                        meta=meta)


def _annotate_in_worker(items: list[_Packed | Malformed]) -> pa.RecordBatch:
    assert _worker is not None, "worker not initialised"
    return _worker([_unpack(it) for it in items])


def annotate_batches(items: Iterable[Conversation | Malformed], names: Sequence[str],
                     options: Mapping[str, Mapping[str, Any]] | None = None, *, jobs: int = 1,
                     batch_size: int = BATCH_SIZE) -> Iterator[tuple[list[Conversation | Malformed], pa.RecordBatch]]:
    """Yield ``(batch, record_batch)`` in input order. ``jobs > 1`` annotates in worker processes
    with one batch in flight per worker and one read ahead, so a fast reader cannot run ahead."""
    if jobs <= 1:
        annotator = BatchAnnotator(names, options)
        for batch in batched(items, batch_size):
            yield batch, annotator(batch)
        return
    # fork: workers inherit loaded detectors and plug-ins, and scripts without a __main__ guard work
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    # pyarrow imports pandas lazily on the first pa.array() (~0.35 s); do it once here so forked
    # workers inherit it instead of each paying it on their first batch
    pa.array([0])
    shared_automaton()  # built once here and inherited, not compiled again in every worker
    with OrderedPool(jobs, _annotate_in_worker, _init_worker, (list(names), dict(options or {})), ctx) as pool:
        yield from pool.imap(batched(items, batch_size), lambda batch: [_pack(it) for it in batch])


@dataclass
class AuditResult:
    out_dir: Path
    annotations: Path
    summary_path: Path
    report: Path | None
    summary: dict[str, Any] = field(repr=False)


def audit_stream(items: Iterable[Conversation | Malformed], out_dir: str | Path, *,
                 detectors: str | Sequence[str] | None = None, options: Mapping[str, Mapping[str, Any]] | None = None,
                 jobs: int = 1, batch_size: int = BATCH_SIZE, **kwargs: Any) -> AuditResult:
    """Annotate ``items`` and write ``annotations.parquet``, ``summary.json`` and ``report.html``
    into ``out_dir``. Raises ``InputError`` if there were no rows at all (nothing is written)."""
    names = parse_detector_names(detectors)
    probe = BatchAnnotator(names, options)  # validates options before any worker starts
    annotated = annotate_batches(items, names, options, jobs=jobs, batch_size=batch_size)
    return write_audit(annotated, out_dir, probe, jobs=jobs, **kwargs)


def write_audit(annotated: Iterable[tuple[Sequence[Conversation | Malformed], pa.RecordBatch]], out_dir: str | Path,
                probe: BatchAnnotator, *, jobs: int = 1, sample: int = 8, table_cap: int = TABLE_CAP,
                report: bool = True, inputs: Sequence[str | Path] = (), seed: int = 0,
                on_progress: Callable[[int], None] | None = None, engine: str = "local") -> AuditResult:
    """Write the audit outputs from ``(batch, record_batch)`` pairs in input order, however they
    were annotated (in this process, a process pool, or a Ray cluster)."""
    out = Path(out_dir)
    summary = SummaryBuilder(probe.tags)
    sampler = ReportSampler(per_tag=sample, table_cap=table_cap, seed=seed)
    started = time.perf_counter()
    with AnnotationsWriter(out / ANNOTATIONS_FILE, probe.schema) as writer, stream_gc():
        for batch, record_batch in annotated:
            writer.write(record_batch)
            summary.add(record_batch)
            if report:
                sampler.add(batch, record_batch)
            if on_progress is not None:
                on_progress(len(batch))
        if writer.rows == 0:
            raise InputError(f"no input rows in {', '.join(map(str, inputs)) or 'the input'}")
    elapsed = time.perf_counter() - started
    input_bytes = sum(Path(p).stat().st_size for p in inputs if Path(p).is_file())
    result = summary.to_dict()
    result = {
        "annotations_schema_version": ANNOTATIONS_SCHEMA_VERSION,
        "aligntax_version": __version__,
        "inputs": [{"path": str(p), "bytes": Path(p).stat().st_size if Path(p).is_file() else None} for p in inputs],
        "detectors": [{"name": d.name, "version": d.version, "tags": list(d.tags), "options": d.options}
                      for d in probe.detectors],
        **result,
        "timing": {"seconds": round(elapsed, 3), "jobs": jobs, "engine": engine,
                   "rows_per_s": round(writer.rows / elapsed, 1) if elapsed else None,
                   "mb_per_s": round(input_bytes / 1e6 / elapsed, 3) if elapsed and input_bytes else None},
    }
    write_text_atomic(out / SUMMARY_FILE, json.dumps(result, indent=2, default=str) + "\n")
    report_path = None
    if report:
        from aligntax.audit.report import build_report

        report_path = out / REPORT_FILE
        write_text_atomic(report_path, build_report(result, summary, sampler))
    return AuditResult(out, out / ANNOTATIONS_FILE, out / SUMMARY_FILE, report_path, result)


def run_audit(paths: Sequence[str | Path], out_dir: str | Path, *, format: str | None = None,
              on_error: str = "quarantine", limit: int | None = None, **kwargs: Any) -> AuditResult:
    """Read ``paths`` with ``aligntax.io.read_conversations`` and audit them (see ``audit_stream``)."""
    from aligntax.io import read_conversations

    items = read_conversations(list(paths), format=format, on_error=on_error, limit=limit)
    return audit_stream(items, out_dir, inputs=list(paths), **kwargs)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


__all__ = ["AuditResult", "BatchAnnotator", "annotate_batches", "audit_stream", "run_audit", "default_jobs", "write_audit"]
