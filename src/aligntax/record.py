"""The one canonical conversation record every reader produces and every stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant", "tool")


@dataclass(slots=True)
class Turn:
    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {ROLES}")


@dataclass(slots=True)
class Conversation:
    """One training example.

    ``source`` is the file (or dataset id) it came from and ``index`` its 0-based row in that
    source; ``sub`` numbers the conversations flattened out of one row (OpenAssistant trees),
    so ``(source, index, sub)`` identifies a conversation uniquely. ``raw`` is the original row,
    kept so writers can write it back losslessly; ``raw_text`` is the exact original line for
    line-oriented sources, so an untouched JSONL row is written back byte for byte.
    """

    id: str
    source: str
    index: int
    turns: list[Turn]
    system: str | None = None
    format: str | None = None
    sub: int = 0
    raw: Any = None
    raw_text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.source, self.index, self.sub)

    def assistant_turns(self) -> list[tuple[int, Turn]]:
        return [(i, t) for i, t in enumerate(self.turns) if t.role == "assistant"]

    def first_user(self) -> str:
        return next((t.content for t in self.turns if t.role == "user"), "")

    def prompt_before(self, turn_index: int) -> str:
        """The user message the turn at ``turn_index`` answers (empty if none)."""
        for t in reversed(self.turns[:turn_index]):
            if t.role == "user":
                return t.content
        return ""

    def to_messages(self) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        msgs.extend({"role": t.role, "content": t.content} for t in self.turns)
        return msgs


@dataclass(slots=True)
class Malformed:
    """A row that could not be turned into a Conversation; routed to rejected output, never dropped."""

    source: str
    index: int
    line: int | None
    reason: str
    raw_text: str | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.source, self.index, 0)

    def message(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else f"{self.source}[row {self.index}]"
        return f"{where}: {self.reason}"
