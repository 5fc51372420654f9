"""Audit SFT data: annotate every conversation with the built-in detectors and write
``annotations.parquet`` (one row per input row), ``summary.json`` and ``report.html``.

``annotate(convs, detectors)`` is the shared entry point for any command that needs to know
what a conversation contains (``clean`` reuses it); ``run_audit``/``audit_stream`` are the
whole pipeline. See docs/audit.md for the annotations columns.
"""

from aligntax.audit.annotate import ALIGNED_SOURCE_TAGS, annotate, declared_tags, derive_aligned
from aligntax.audit.columns import ANNOTATIONS_SCHEMA_VERSION, annotations_schema
from aligntax.audit.runner import AuditResult, BatchAnnotator, annotate_batches, audit_stream, default_jobs, run_audit

__all__ = [
    "ALIGNED_SOURCE_TAGS",
    "ANNOTATIONS_SCHEMA_VERSION",
    "AuditResult",
    "BatchAnnotator",
    "annotate",
    "annotate_batches",
    "annotations_schema",
    "audit_stream",
    "declared_tags",
    "default_jobs",
    "derive_aligned",
    "run_audit",
]
