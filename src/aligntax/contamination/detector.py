"""The ``contaminated`` detector: per-conversation view of the contamination index.

Options (all optional): ``against`` (bundled names and/or eval file paths; default every bundled
benchmark), ``field`` (text field of eval files), ``ngram`` (13), ``min_overlap`` (0.5),
``min_contain_words`` (5). The index is built lazily on first use and shared by every detector
instance in the process with the same options (building all bundled benchmarks takes a few s).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from aligntax.contamination.benchmarks import resolve
from aligntax.contamination.index import ContaminationIndex
from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit
from aligntax.record import Conversation


@lru_cache(maxsize=8)
def shared_index(
    against: tuple[str, ...] | None = None,
    field: str | None = None,
    ngram: int = 13,
    min_overlap: float = 0.5,
    min_contain_words: int = 5,
) -> ContaminationIndex:
    return ContaminationIndex(
        resolve(against, field), ngram=ngram, min_overlap=min_overlap, min_contain_words=min_contain_words
    )


@DETECTORS.register("contaminated")
class ContaminationDetector(Detector):
    name: ClassVar[str] = "contaminated"
    version: ClassVar[str] = "1"
    tags: ClassVar[tuple[str, ...]] = ("contaminated",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        against = options.get("against")
        if isinstance(against, str):
            against = [a.strip() for a in against.split(",") if a.strip()]
        self._key = (
            tuple(against) if against else None,
            options.get("field"),
            int(options.get("ngram", 13)),
            float(options.get("min_overlap", 0.5)),
            int(options.get("min_contain_words", 5)),
        )

    @property
    def index(self) -> ContaminationIndex:
        return shared_index(*self._key)

    def detect(self, conv: Conversation) -> Detection:
        return self.detect_batch([conv])[0]

    def detect_batch(self, convs: list[Conversation]) -> list[Detection]:
        out = [Detection(features={"contamination_score": 0.0}) for _ in convs]
        for hit in self.index.check(convs):
            conv = convs[hit.conversation]
            turn = hit.turn if hit.turn >= 0 else next((i for i, t in enumerate(conv.turns) if t.role == "user"), 0)
            det = out[hit.conversation]
            det.hits.append(TagHit("contaminated", turn, hit.score, evidence=hit.match, value=hit.ref))
            det.features["contamination_score"] = max(det.features["contamination_score"], hit.score)
        return out
