"""The detector plug-in contract.

A detector looks at one conversation and says, per turn, which tags fired, how sure it is
(a score in [0, 1]) and why (character spans into that turn's content, or a named feature).
Detectors that are faster on many conversations at once override ``detect_batch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable

from aligntax.record import Conversation
from aligntax.registry import Registry


@dataclass(slots=True)
class TagHit:
    tag: str
    turn: int  # index into Conversation.turns
    score: float  # confidence in [0, 1]
    spans: tuple[tuple[int, int], ...] = ()  # character spans in turns[turn].content
    evidence: str = ""  # the matched text, or the feature that fired
    value: str | None = None  # a tag's payload, e.g. the identity found ("openai")


@dataclass(slots=True)
class Detection:
    hits: list[TagHit] = field(default_factory=list)
    # conversation-level columns (structure counts, lengths, scores of tags that did not fire)
    features: dict[str, Any] = field(default_factory=dict)

    def tags(self) -> set[str]:
        return {h.tag for h in self.hits}


class Detector:
    """Base class; subclasses set ``name``, ``version`` and ``tags`` and implement ``detect``."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    tags: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self.options = options

    def detect(self, conv: Conversation) -> Detection:
        raise NotImplementedError

    def detect_batch(self, convs: list[Conversation]) -> list[Detection]:
        return [self.detect(c) for c in convs]


DETECTORS: Registry[Detector] = Registry("detectors")


def merge(detections: Iterable[Detection]) -> Detection:
    out = Detection()
    for d in detections:
        out.hits.extend(d.hits)
        out.features.update(d.features)
    return out
