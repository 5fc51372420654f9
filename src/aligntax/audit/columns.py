"""The ``annotations.parquet`` contract: its schema, and conversion of detections into Arrow.

One row per input row, in input order. Changing a column's name, type or meaning requires
bumping ``ANNOTATIONS_SCHEMA_VERSION`` (written into the Parquet metadata and summary.json).
Columns are documented in docs/audit.md.
"""

from __future__ import annotations

import json
import math
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


_FEATURES_JSON = json.JSONEncoder(sort_keys=True, default=str)  # what json.dumps(sort_keys=True, default=str) uses
_OWN_COLUMN_FEATURES = frozenset((*_IDENTITY_FEATURES, *STRUCTURE_FEATURES))
_JSON_KEYS: dict[str, str] = {}


def features_json(extra: dict) -> str:
    """``json.dumps(extra, sort_keys=True, default=str)``, byte for byte. Almost every value is a
    finite float (scores of tags that did not fire), which is rendered here with ``float.__repr__``
    exactly as json does, at a fraction of the encoder's per-call cost; anything else goes to json."""
    parts = []
    for key in sorted(extra):
        value = extra[key]
        if type(value) is not float or not math.isfinite(value) or type(key) is not str:
            return _FEATURES_JSON.encode(extra)
        quoted = _JSON_KEYS.get(key)
        if quoted is None:
            quoted = _JSON_KEYS[key] = json.dumps(key) + ": "
        parts.append(quoted + repr(value))
    return "{" + ", ".join(parts) + "}"



def to_record_batch(items: Sequence[Conversation | Malformed], detections: Sequence[Detection | None],
                    schema: pa.Schema, tags: Sequence[str]) -> pa.RecordBatch:
    """Columns for ``items``; ``detections[i]`` is None exactly where ``items[i]`` is Malformed.

    Built column-wise: ``turn_tags`` is assembled from flat child arrays plus list offsets
    rather than one dict per hit, which is most of the cost at audit speed."""
    n = len(items)
    source, index, sub, ids, dataset, row_tags, reason, extra_features = [], [], [], [], [], [], [], []
    bests: list[dict[str, float] | None] = []
    features: list[dict | None] = []
    offsets = [0]
    t_turn, t_role, t_tag, t_score, t_spans, t_evidence, t_value = [], [], [], [], [], [], []
    for item, det in zip(items, detections):
        source.append(item.source)
        index.append(item.index)
        if isinstance(item, Malformed):
            sub.append(0)
            ids.append(None)
            dataset.append(None)
            row_tags.append([MALFORMED_TAG])
            bests.append(None)
            features.append(None)
            extra_features.append(None)
            offsets.append(offsets[-1])
            reason.append(item.reason)
            continue
        assert det is not None
        sub.append(item.sub)
        ids.append(item.id)
        dataset.append(row_dataset(item))
        best: dict[str, float] = {}
        for h in det.hits:
            if h.score > best.get(h.tag, -1.0):
                best[h.tag] = h.score
            t_turn.append(h.turn)
            t_role.append(_role(item, h.turn))
            t_tag.append(h.tag)
            t_score.append(h.score)
            t_spans.append([list(s) for s in h.spans])
            t_evidence.append(h.evidence[:EVIDENCE_MAX_CHARS])
            t_value.append(h.value)
        offsets.append(len(t_tag))
        row_tags.append(list(best))
        bests.append(best)
        feats = det.features
        features.append(feats)
        extra = {k: v for k, v in feats.items() if k not in _OWN_COLUMN_FEATURES}
        extra_features.append(features_json(extra) if extra else None)
        reason.append(None)

    def column(name: str, values: list) -> pa.Array:
        return pa.array(values, type=schema.field(name).type)

    cols: dict[str, pa.Array] = {
        "source": column("source", source), "index": column("index", index), "sub": column("sub", sub),
        "id": column("id", ids), "dataset": column("dataset", dataset), "tags": column("tags", row_tags),
        "features": column("features", extra_features), "reason": column("reason", reason),
    }
    for tag in tags:
        cols[score_column(tag)] = column(score_column(tag), [b.get(tag, 0.0) if b is not None else 0.0 for b in bests])
    for name in _OWN_COLUMN_FEATURES:
        cols[name] = column(name, [f.get(name) if f is not None else None for f in features])
    struct_type = TURN_TAG_TYPE
    children = [pa.array(values, type=struct_type.field(i).type) for i, values in
                enumerate((t_turn, t_role, t_tag, t_score, t_spans, t_evidence, t_value))]
    struct = pa.StructArray.from_arrays(children, fields=list(struct_type))
    cols["turn_tags"] = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), struct,
                                                 type=schema.field("turn_tags").type)
    arrays = [cols[name] for name in schema.names]
    assert all(len(a) == n for a in arrays)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
