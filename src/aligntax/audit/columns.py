"""The ``annotations.parquet`` contract: its schema, and conversion of detections into Arrow.

One row per input row, in input order. Changing a column's name, type or meaning requires
bumping ``ANNOTATIONS_SCHEMA_VERSION`` (written into the Parquet metadata and summary.json).
Columns are documented in docs/audit.md.
"""

from __future__ import annotations

import json
from typing import Sequence

import pyarrow as pa

from aligntax.detect.base import Detection
from aligntax.detect.structure import STRUCTURE_FEATURES
from aligntax.record import Conversation, Malformed

ANNOTATIONS_SCHEMA_VERSION = 1
METADATA_KEY = b"aligntax.annotations_schema_version"
MALFORMED_TAG = "malformed"
EVIDENCE_MAX_CHARS = 300
SYSTEM_TURN = -1  # TagHit.turn of a hit in Conversation.system

TURN_TAG_TYPE = pa.struct([
    ("turn", pa.int32()), ("role", pa.string()), ("tag", pa.string()), ("score", pa.float32()),
    ("spans", pa.list_(pa.list_(pa.int32()))), ("evidence", pa.string()), ("value", pa.string()),
])
# Features with a column of their own; anything else a detector reports goes to `features` (JSON).
_IDENTITY_FEATURES = ("identity", "identity_developer")


def score_column(tag: str) -> str:
    return f"score_{tag}"


def annotations_schema(tags: Sequence[str], metadata: dict[str, str] | None = None) -> pa.Schema:
    fields = [
        pa.field("source", pa.string(), nullable=False),
        pa.field("index", pa.int64(), nullable=False),
        pa.field("sub", pa.int32(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("dataset", pa.string()),
        pa.field("tags", pa.list_(pa.string()), nullable=False),
        *(pa.field(score_column(t), pa.float32(), nullable=False) for t in tags),
        pa.field("identity", pa.string()),
        pa.field("identity_developer", pa.string()),
        *(pa.field(name, pa.int32()) for name in STRUCTURE_FEATURES),
        pa.field("features", pa.string()),
        pa.field("turn_tags", pa.list_(TURN_TAG_TYPE), nullable=False),
        pa.field("reason", pa.string()),
    ]
    meta = {METADATA_KEY.decode(): str(ANNOTATIONS_SCHEMA_VERSION), **(metadata or {})}
    return pa.schema(fields, metadata=meta)


DATASET_KEYS = ("dataset", "source_dataset", "data_source")


def row_dataset(conv: Conversation) -> str | None:
    """The row's own dataset label (mixed corpora carry one, e.g. the bundled sample's ``dataset``)."""
    if "dataset" in conv.meta:  # set by the audit runner before ``raw`` is dropped for the workers
        return conv.meta["dataset"]
    raw = conv.raw
    if isinstance(raw, dict):
        for key in DATASET_KEYS:
            value = raw.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _role(conv: Conversation, turn: int) -> str:
    if turn == SYSTEM_TURN or not 0 <= turn < len(conv.turns):
        return "system"
    return conv.turns[turn].role


def to_record_batch(items: Sequence[Conversation | Malformed], detections: Sequence[Detection | None],
                    schema: pa.Schema, tags: Sequence[str]) -> pa.RecordBatch:
    """Columns for ``items``; ``detections[i]`` is None exactly where ``items[i]`` is Malformed."""
    cols: dict[str, list] = {name: [] for name in schema.names}
    scores = {t: cols[score_column(t)] for t in tags}
    for item, det in zip(items, detections):
        cols["source"].append(item.source)
        cols["index"].append(item.index)
        if isinstance(item, Malformed):
            cols["sub"].append(0)
            cols["id"].append(None)
            cols["dataset"].append(None)
            cols["tags"].append([MALFORMED_TAG])
            for column in scores.values():
                column.append(0.0)
            for name in (*_IDENTITY_FEATURES, *STRUCTURE_FEATURES, "features"):
                cols[name].append(None)
            cols["turn_tags"].append([])
            cols["reason"].append(item.reason)
            continue
        assert det is not None
        cols["sub"].append(item.sub)
        cols["id"].append(item.id)
        cols["dataset"].append(row_dataset(item))
        best: dict[str, float] = {}
        turn_tags = []
        for h in det.hits:
            if h.score > best.get(h.tag, -1.0):
                best[h.tag] = h.score
            turn_tags.append({
                "turn": h.turn, "role": _role(item, h.turn), "tag": h.tag, "score": h.score,
                "spans": [list(s) for s in h.spans], "evidence": h.evidence[:EVIDENCE_MAX_CHARS], "value": h.value,
            })
        cols["tags"].append(list(best))
        for tag, column in scores.items():
            column.append(best.get(tag, 0.0))
        features = det.features
        for name in (*_IDENTITY_FEATURES, *STRUCTURE_FEATURES):
            cols[name].append(features.get(name))
        extra = {k: v for k, v in features.items() if k not in _IDENTITY_FEATURES and k not in STRUCTURE_FEATURES}
        cols["features"].append(json.dumps(extra, sort_keys=True, default=str) if extra else None)
        cols["turn_tags"].append(turn_tags)
        cols["reason"].append(None)
    return pa.RecordBatch.from_pydict(cols, schema=schema)
