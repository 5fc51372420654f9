"""Run detectors over conversations and derive the ``aligned`` tag: the one function both
``aligntax audit`` and ``aligntax clean`` use to decide what a conversation contains.

    >>> from aligntax.detect.defaults import build_detectors
    >>> detections = annotate(conversations, build_detectors())        # one Detection per conversation
    >>> [h.tag for h in detections[0].hits]
"""

from __future__ import annotations

from typing import Sequence

from aligntax.detect.base import Detection, Detector, TagHit
from aligntax.record import Conversation

# ``aligned`` = any of these fired on a turn; its score is their max there.
ALIGNED_SOURCE_TAGS = ("refusal", "partial_refusal", "moralizing", "ai_disclaimer")


def derive_aligned(detection: Detection) -> Detection:
    """Add one ``aligned`` hit per turn where any ``ALIGNED_SOURCE_TAGS`` hit fired.

    Score = max of the component scores, spans = their union, evidence/value from the
    strongest component (``value`` names it, e.g. ``"refusal"``). Idempotent."""
    if any(h.tag == "aligned" for h in detection.hits):
        return detection
    per_turn: dict[int, list[TagHit]] = {}
    for hit in detection.hits:
        if hit.tag in ALIGNED_SOURCE_TAGS:
            per_turn.setdefault(hit.turn, []).append(hit)
    for turn, hits in per_turn.items():
        strongest = max(hits, key=lambda h: h.score)
        spans = tuple(sorted({span for h in hits for span in h.spans}))
        detection.hits.append(TagHit("aligned", turn, strongest.score, spans, strongest.evidence, strongest.tag))
    return detection


def _run_one(detector: Detector, convs: list[Conversation]) -> list[Detection]:
    try:
        results = detector.detect_batch(convs)
    except Exception:
        # find the conversation that breaks the detector, so the error names it
        for conv in convs:
            try:
                detector.detect(conv)
            except Exception as exc:
                raise RuntimeError(f"detector {detector.name!r} failed on {conv.source} row {conv.index}"
                                   f" (sub {conv.sub}): {exc}") from exc
        raise
    if len(results) != len(convs):
        raise RuntimeError(f"detector {detector.name!r} returned {len(results)} detections for {len(convs)} inputs")
    return results


def annotate(convs: Sequence[Conversation], detectors: Sequence[Detector]) -> list[Detection]:
    """Run every detector on every conversation; returns one merged ``Detection`` per
    conversation, in input order, with the derived ``aligned`` hits added."""
    convs = list(convs)
    merged = [Detection() for _ in convs]
    for detector in detectors:
        for out, det in zip(merged, _run_one(detector, convs)):
            out.hits.extend(det.hits)
            out.features.update(det.features)
    for det in merged:
        derive_aligned(det)
    return merged


def declared_tags(detectors: Sequence[Detector]) -> list[str]:
    """Tags the detectors can emit, in detector order, plus ``aligned`` when derivable."""
    tags: list[str] = []
    for detector in detectors:
        tags.extend(t for t in detector.tags if t not in tags)
    if any(t in ALIGNED_SOURCE_TAGS for t in tags):
        tags.append("aligned")
    return tags
