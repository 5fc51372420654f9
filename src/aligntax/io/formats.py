"""The format-adapter contract, the ``FORMATS`` registry and format auto-detection.

An adapter turns one input row (a ``dict``) into conversations and writes a possibly rewritten
conversation back into the row it came from, touching only the text fields:

* ``detect(row) -> bool``: a cheap key/shape check, used for auto-detection and to spot rows of
  another format inside a file (``malformed:format-mismatch``). It never validates types.
* ``to_conversations(row) -> list[Parsed]``: ``Parsed`` is a ``(system, turns)`` pair with an
  optional explicit ``id`` and ``meta``; it raises ``RowError`` (a precise detail) on bad rows.
* ``from_conversation(conv) -> dict``: the original row with updated text, or a fresh row when
  the conversation came from another format.

Adapters that need several rows per conversation (flat OpenAssistant message files) override
``iter_records`` instead; adapters that need files next to the input override ``open_source``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, NamedTuple

from aligntax.record import Conversation, Malformed, Turn
from aligntax.registry import Registry

# Fields that carry a row's own id, in order of preference.
ID_FIELDS = ("id", "conversation_id", "conv_id", "uuid", "question_id", "message_id", "prompt_id", "sample_id")

# Speaker names seen in the wild (ShareGPT, OpenAI/HF messages, OpenAssistant, Vicuna, LLaMA-Factory ...).
ROLE_ALIASES: dict[str, str] = {
    **dict.fromkeys(("user", "human", "prompter", "usr"), "user"),
    **dict.fromkeys(
        ("assistant", "gpt", "chatgpt", "bard", "bing", "model", "bot", "ai", "claude", "gpt-4", "gpt4"), "assistant"
    ),
    **dict.fromkeys(("system", "developer"), "system"),
    **dict.fromkeys(("tool", "function", "observation", "ipython", "function_response", "tool_response"), "tool"),
}


class RowError(ValueError):
    """A row that cannot be read; ``str(exc)`` is the detail after ``malformed:``."""


class Parsed(NamedTuple):
    system: str | None
    turns: list[Turn]
    id: str | None = None
    meta: dict[str, Any] | None = None


class RawRow:
    """One row as read from a source, before any format is applied."""

    __slots__ = ("source", "index", "line", "row", "raw_text", "error")

    def __init__(self, source: str, index: int, line: int | None, row: Any, raw_text: str | None = None,
                 error: str | None = None) -> None:
        self.source, self.index, self.line = source, index, line
        self.row, self.raw_text, self.error = row, raw_text, error

    def malformed(self, detail: str | None = None) -> Malformed:
        return Malformed(self.source, self.index, self.line, f"malformed:{detail or self.error}", self.raw_text)


def normalize_role(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise RowError(f"wrong-type: {where} must be a string, got {type(name).__name__}")
    role = ROLE_ALIASES.get(name.strip().lower())
    if role is None:
        raise RowError(f"unknown-role: {name!r} in {where}")
    return role


def require_str(row: Mapping[str, Any], key: str, *, optional: bool = False) -> str:
    if key not in row or row[key] is None:
        if optional:
            return ""
        raise RowError(f"missing-field: {key!r} (row has {sorted(row)[:12]})")
    value = row[key]
    if not isinstance(value, str):
        raise RowError(f"wrong-type: {key!r} must be a string, got {type(value).__name__}")
    return value


def require_list(row: Mapping[str, Any], key: str) -> list[Any]:
    if key not in row:
        raise RowError(f"missing-field: {key!r} (row has {sorted(row)[:12]})")
    value = row[key]
    if not isinstance(value, list):
        raise RowError(f"wrong-type: {key!r} must be a list, got {type(value).__name__}")
    return value


def split_leading_system(turns: list[Turn]) -> tuple[str | None, list[Turn]]:
    if turns and turns[0].role == "system":
        return turns[0].content, turns[1:]
    return None, turns


def join_prompt(instruction: str, extra: str) -> str:
    """The Alpaca convention: the optional input follows the instruction after a blank line."""
    return f"{instruction}\n\n{extra}" if extra else instruction


def split_prompt(user: str, instruction: str, extra: str) -> tuple[str, str]:
    """Inverse of ``join_prompt`` for write-back: keep ``extra`` when the new text still ends with it."""
    if user == join_prompt(instruction, extra):
        return instruction, extra
    if extra and user.endswith(f"\n\n{extra}"):
        return user[: -len(extra) - 2], extra
    return user, ""


class FormatAdapter:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Lower is tried first in auto-detection; specific shapes go before generic ones.
    priority: ClassVar[int] = 50

    def __init__(self, *, hh_side: str = "chosen", oasst_mode: str = "paths") -> None:
        self.hh_side = hh_side
        self.oasst_mode = oasst_mode

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        raise NotImplementedError

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        raise NotImplementedError

    def open_source(self, source: str) -> None:
        """Called before the rows of each source are read (e.g. to load a side file)."""

    def is_untouched(self, conv: Conversation) -> bool:
        """True when ``conv`` still reads exactly as its raw row, so the raw text can be written back."""
        if conv.format != self.name or not isinstance(conv.raw, dict):
            return False
        try:
            parsed = self.to_conversations(conv.raw)
        except RowError:
            return False
        if len(parsed) != 1 or conv.sub != 0:  # a row split into several conversations is rewritten per conversation
            return False
        p = parsed[conv.sub]
        return p.system == conv.system and p.turns == conv.turns

    def iter_records(self, rows: Iterable[RawRow]) -> Iterator[Conversation | Malformed]:
        detect, convert, name = self.detect, self.to_conversations, self.name
        for raw in rows:
            if raw.error is not None:
                yield raw.malformed()
                continue
            row = raw.row
            if not isinstance(row, dict):
                yield raw.malformed(f"wrong-type: row must be a JSON object, got {type(row).__name__}")
                continue
            if not detect(row):
                other = detect_row_format(row)
                looks = f"looks like {other}" if other else f"matches no known format (keys {sorted(row)[:12]})"
                yield raw.malformed(f"format-mismatch: row {looks}, but this file is read as {name}")
                continue
            try:
                parsed = convert(row)
            except RowError as exc:
                yield raw.malformed(str(exc))
                continue
            yield from build_conversations(raw, parsed, name)


def row_id(row: Mapping[str, Any]) -> str | None:
    for key in ID_FIELDS:
        value = row.get(key)
        if value is not None and value != "" and not isinstance(value, (dict, list)):
            return str(value)
    return None


def build_conversations(raw: RawRow, parsed: list[Parsed], fmt: str) -> Iterator[Conversation | Malformed]:
    if not parsed:
        yield raw.malformed("empty-conversation: the row holds no turns")
        return
    base = (row_id(raw.row) if isinstance(raw.row, dict) else None) or f"{raw.source}:{raw.index}"
    several = len(parsed) > 1
    for sub, p in enumerate(parsed):
        if not p.turns:
            yield raw.malformed("empty-conversation: the row holds no turns")
            continue
        cid = p.id or (f"{base}:{sub}" if several else base)
        meta = dict(p.meta) if p.meta else {}
        if raw.line is not None:
            meta["line"] = raw.line
        yield Conversation(cid, raw.source, raw.index, p.turns, p.system, fmt, sub, raw.row, raw.raw_text, meta)


FORMATS: Registry[FormatAdapter] = Registry("formats")


def register_format(name: str):  # noqa: ANN201 - a class decorator
    """Register an adapter class in ``FORMATS`` under ``name`` (also set as its ``name``)."""

    def deco(cls: type[FormatAdapter]) -> type[FormatAdapter]:
        cls.name = name
        return FORMATS.register(name)(cls)

    return deco


def _adapters_by_priority() -> list[type[FormatAdapter]]:
    return sorted((FORMATS.get(n) for n in FORMATS.names()), key=lambda cls: (cls.priority, cls.name))


def detect_row_format(row: Any) -> str | None:
    if not isinstance(row, dict):
        return None
    for cls in _adapters_by_priority():
        if cls.detect(row):
            return cls.name
    return None


def detect_format(rows: Iterable[Any]) -> str | None:
    """The format most of ``rows`` (a few first rows of a file) match; ties go to the more specific one."""
    votes: dict[str, int] = {}
    for row in rows:
        name = detect_row_format(row)
        if name:
            votes[name] = votes.get(name, 0) + 1
    if not votes:
        return None
    order = {cls.name: i for i, cls in enumerate(_adapters_by_priority())}
    return max(votes, key=lambda n: (votes[n], -order[n]))


def get_adapter(name: str, **options: Any) -> FormatAdapter:
    from aligntax.errors import InputError

    try:
        cls = FORMATS.get(name)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    return cls(**options)
