"""The corpus pass before cleaning or merging: feed every conversation to ``aligntax.dedup``'s
streaming ``DedupIndex`` and keep only what it flags (``duplicate``, ``near_duplicate``,
``repeated_query`` per row identity), so memory grows with the flagged rows, not the input.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from aligntax.detect.base import TagHit
from aligntax.errors import PolicyError
from aligntax.record import Conversation, Malformed

CONVERSATION_LEVEL = -1  # TagHit.turn for a hit about the whole conversation
Key = tuple[str, int, int]


def _as_hits(value: Any) -> list[TagHit]:
    """Whatever the index reports for one row -> TagHits (it may give hits, tag names or a Detection)."""
    if value is None:
        return []
    if hasattr(value, "hits"):
        value = value.hits
    if isinstance(value, (str, TagHit)):
        value = [value]
    hits = []
    for item in value:
        if hasattr(item, "representative_id"):  # aligntax.dedup.DedupHit
            hits.append(TagHit(item.tag, CONVERSATION_LEVEL, float(item.similarity), (),
                               f"{item.tag} of {item.representative_id}", item.representative_id))
        elif isinstance(item, TagHit):
            hits.append(TagHit(item.tag, CONVERSATION_LEVEL, item.score, (), item.evidence, item.value))
        elif isinstance(item, str):
            hits.append(TagHit(item, CONVERSATION_LEVEL, 1.0))
        else:
            raise TypeError(f"DedupIndex reported {item!r}; expected TagHits or tag names")
    return hits


def dedup_config(options: Mapping[str, Any]) -> Any:
    """The policy's ``dedup`` field as a ``DedupConfig`` (``PolicyError`` when it is invalid)."""
    try:
        from aligntax.dedup import DedupConfig
    except ImportError as exc:
        raise PolicyError(f"this policy needs the dedup pass, but aligntax.dedup is unavailable: {exc}") from None
    try:
        return DedupConfig(**dict(options))
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"field 'dedup': {exc}") from None


def dedup_flags(items: Iterable[Conversation | Malformed], options: Mapping[str, Any],
                batch_size: int = 2048) -> dict[Key, list[TagHit]]:
    """One streaming pass: ``{row key: [duplicate/near_duplicate/repeated_query hits]}`` for flagged rows."""
    from aligntax.dedup import DedupIndex

    index = DedupIndex(dedup_config(options))
    batch: list[Conversation] = []
    for item in items:
        if isinstance(item, Conversation):
            batch.append(item)
            if len(batch) >= batch_size:
                index.add_batch(batch)
                batch = []
    if batch:
        index.add_batch(batch)
    return flags_from_result(index.finalize())


def flags_from_result(flags: Any) -> dict[Key, list[TagHit]]:
    """What a dedup index reports (a ``DedupResult``, a mapping or ``(key, hits)`` pairs) -> TagHits per row."""
    if hasattr(flags, "by_key"):  # DedupResult
        pairs = flags.by_key.items()
    elif hasattr(flags, "items"):
        pairs = flags.items()
    else:  # an iterable of (key, hits) pairs
        pairs = flags
    out: dict[Key, list[TagHit]] = {}
    for key, value in pairs:
        hits = _as_hits(value)
        if hits:
            out[tuple(key)] = hits
    return out
