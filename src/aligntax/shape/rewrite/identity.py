"""``identity_calibration``: make every self-identity claim name one configured identity.

"I am ChatGPT, a language model trained by OpenAI" -> "I am Aria, a language model trained by
Example Labs". Only the text inside the ``identity_claim`` detector's evidence spans changes:
model names become ``name`` and developer names become ``developer`` (or ``my developers`` when no
developer is configured), so the rest of the answer stays byte-identical.
"""

from __future__ import annotations

from typing import ClassVar

from aligntax.detect.base import Detection
from aligntax.detect.identity import _DEV_FIND, _MODEL_FIND  # the detector's own name patterns
from aligntax.record import Conversation
from aligntax.shape.rewrite.base import REWRITERS, Rewriter, replace_turns

_NO_DEVELOPER = "my developers"


@REWRITERS.register("identity_calibration")
class IdentityCalibration(Rewriter):
    """Options: ``name`` (required), ``developer`` (optional)."""

    name: ClassVar[str] = "identity_calibration"

    def __init__(self, name: str | None = None, developer: str | None = None, **options) -> None:
        if not name or not isinstance(name, str):
            raise ValueError("identity_calibration needs option 'name' (the identity to claim), e.g. name: Aria")
        if developer is not None and not isinstance(developer, str):
            raise ValueError("identity_calibration option 'developer' must be a string")
        super().__init__(name=name, developer=developer, **options)
        self.identity = name
        self.developer = developer

    def calibrate(self, claim: str) -> str:
        """Rewrite one claim's text."""
        text = _MODEL_FIND.sub(self.identity, claim)
        return _DEV_FIND.sub(self.developer or _NO_DEVELOPER, text)

    def rewrite(self, conv: Conversation, detection: Detection, turns: list[int]) -> Conversation | None:
        allowed = set(turns)
        spans_by_turn: dict[int, list[tuple[int, int]]] = {}
        for hit in detection.hits:
            if hit.tag == "identity_claim" and hit.turn in allowed:
                spans_by_turn.setdefault(hit.turn, []).extend(hit.spans)
        new_text: dict[int, str] = {}
        for turn, spans in spans_by_turn.items():
            text = conv.turns[turn].content
            pieces, last = [], 0
            for start, end in _merge(spans):
                pieces.append(text[last:start])
                pieces.append(self.calibrate(text[start:end]))
                last = end
            pieces.append(text[last:])
            new_text[turn] = "".join(pieces)
        return replace_turns(conv, new_text)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out

