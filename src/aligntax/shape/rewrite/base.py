"""The rewriter contract.

``rewrite(conv, detection, turns)`` returns a new ``Conversation`` with some assistant turns
changed, or ``None`` when it has nothing to change. ``turns`` are the assistant turns the rule is
scoped to; ``detection`` holds the hits (with character spans) that made the rule match. A
rewriter must leave everything it does not mean to change byte-identical, and must be
deterministic for the same input and options.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from aligntax.detect.base import Detection
from aligntax.record import Conversation, Turn
from aligntax.registry import Registry


class Rewriter:
    name: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def rewrite(self, conv: Conversation, detection: Detection, turns: list[int]) -> Conversation | None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"rewriter": self.name, "options": self.options}


REWRITERS: Registry[Rewriter] = Registry("rewriters")


def replace_turns(conv: Conversation, new_text: dict[int, str]) -> Conversation | None:
    """A copy of ``conv`` with the contents of some turns replaced; None when nothing changes.

    ``raw_text`` is cleared so writers rebuild the row from the new text instead of copying the line."""
    changed = {i: text for i, text in new_text.items() if conv.turns[i].content != text}
    if not changed:
        return None
    turns = [Turn(t.role, changed.get(i, t.content)) for i, t in enumerate(conv.turns)]
    return replace(conv, turns=turns, raw_text=None, meta=dict(conv.meta))
