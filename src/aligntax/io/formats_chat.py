"""Chat-shaped formats: OpenAI/HF ``messages``, ShareGPT ``conversations`` and Anthropic HH transcripts."""

from __future__ import annotations

import re
from typing import Any, Mapping

from aligntax.io.formats import (
    ROLE_ALIASES,
    FormatAdapter,
    Parsed,
    RowError,
    normalize_role,
    register_format,
    split_leading_system,
)
from aligntax.record import Conversation, Turn

_SHAREGPT_ROLE_OUT = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}


def content_text(content: Any, where: str) -> tuple[str, int]:
    """Text of a message content (a string, or a list of typed parts); also the count of non-text parts."""
    if isinstance(content, str):
        return content, 0
    if content is None:  # e.g. an assistant message that only carries tool_calls
        return "", 0
    if isinstance(content, list):
        texts, other = [], 0
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                other += 1
        return "\n".join(texts), other
    raise RowError(f"wrong-type: {where} must be a string or a list of parts, got {type(content).__name__}")


def parse_message_list(items: Any, where: str, role_keys: tuple[str, ...], text_keys: tuple[str, ...]) -> tuple[list[Turn], int]:
    if not isinstance(items, list):
        raise RowError(f"wrong-type: {where!r} must be a list, got {type(items).__name__}")
    turns, non_text = [], 0
    role_key, text_key = role_keys[0], text_keys[0]
    for i, msg in enumerate(items):
        if type(msg) is dict:  # fast path: the common {role: "user", content: "..."} shape
            name, text = msg.get(role_key), msg.get(text_key)
            role = ROLE_ALIASES.get(name) if type(name) is str else None
            if role is not None and type(text) is str:
                turns.append(Turn(role, text))
                continue
        turn, other = _parse_message(msg, f"{where}[{i}]", role_keys, text_keys)
        turns.append(turn)
        non_text += other
    return turns, non_text


def _parse_message(msg: Any, here: str, role_keys: tuple[str, ...], text_keys: tuple[str, ...]) -> tuple[Turn, int]:
    if not isinstance(msg, dict):
        raise RowError(f"wrong-type: {here} must be an object, got {type(msg).__name__}")
    role_key = next((k for k in role_keys if k in msg), None)
    if role_key is None:
        raise RowError(f"missing-field: {here} has no {' / '.join(role_keys)}")
    text_key = next((k for k in text_keys if k in msg), None)
    if text_key is None:
        raise RowError(f"missing-field: {here} has no {' / '.join(text_keys)}")
    text, other = content_text(msg[text_key], f"{here}.{text_key}")
    return Turn(normalize_role(msg[role_key], f"{here}.{role_key}"), text), other


def update_message_list(original: Any, target: list[Turn], role_key: str, text_key: str,
                        role_out: Mapping[str, str] | None = None) -> list[Any]:
    """Write ``target`` turns back into the original message dicts when the structure is unchanged
    (only text changes; every other key kept); otherwise build plain new messages."""
    same_shape = isinstance(original, list) and len(original) == len(target)
    if same_shape:
        out = []
        for msg, turn in zip(original, target):
            keys = [k for k in (role_key, "role", "from") if isinstance(msg, dict) and k in msg]
            if not keys or role_of(msg[keys[0]]) != turn.role:
                same_shape = False
                break
            tkey = next((k for k in (text_key, "content", "value") if k in msg), text_key)
            old_text, _ = content_text(msg.get(tkey), tkey)
            if old_text == turn.content:
                out.append(msg)
                continue
            new = dict(msg)
            old = msg.get(tkey)
            if isinstance(old, list):  # keep non-text parts (images, audio), replace the text
                new[tkey] = [{"type": "text", "text": turn.content}] + [
                    p for p in old if not (isinstance(p, str) or (isinstance(p, dict) and p.get("type", "text") == "text"))
                ]
            else:
                new[tkey] = turn.content
            out.append(new)
        if same_shape:
            return out
    return [{role_key: (role_out or {}).get(t.role, t.role), text_key: t.content} for t in target]


def role_of(name: Any) -> str | None:
    try:
        return normalize_role(name, "role")
    except RowError:
        return None


def turns_with_system(conv: Conversation) -> list[Turn]:
    return ([Turn("system", conv.system)] if conv.system is not None else []) + list(conv.turns)


@register_format("messages")
class MessagesFormat(FormatAdapter):
    description = "OpenAI / Hugging Face chat: messages=[{role, content}] (content may be a list of text parts)"
    priority = 20

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "messages" in row

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        turns, non_text = parse_message_list(row["messages"], "messages", ("role",), ("content",))
        system, turns = split_leading_system(turns)
        return [Parsed(system, turns, meta={"non_text_parts": non_text} if non_text else None)]

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        if conv.format == self.name and isinstance(conv.raw, dict):
            return {**conv.raw, "messages": update_message_list(conv.raw.get("messages"), turns_with_system(conv), "role", "content")}
        return {"messages": conv.to_messages()}


@register_format("sharegpt")
class ShareGPTFormat(FormatAdapter):
    description = "ShareGPT: conversations=[{from, value}] (human/gpt/system/tool and variants), optional system"
    priority = 21

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "conversations" in row or "conversation" in row

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        key = "conversations" if "conversations" in row else "conversation"
        turns, non_text = parse_message_list(row[key], key, ("from", "role"), ("value", "content"))
        system, turns = split_leading_system(turns)
        if system is None and isinstance(row.get("system"), str) and row["system"]:
            system = row["system"]
        return [Parsed(system, turns, meta={"non_text_parts": non_text} if non_text else None)]

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        if conv.format == self.name and isinstance(conv.raw, dict):
            row = dict(conv.raw)
            key = "conversations" if "conversations" in row else "conversation"
            top_system = isinstance(row.get("system"), str) and row["system"] and not _leading_system(row[key])
            if top_system:
                row["system"] = conv.system or ""
            target = list(conv.turns) if top_system else turns_with_system(conv)
            row[key] = update_message_list(row[key], target, "from", "value", _SHAREGPT_ROLE_OUT)
            return row
        return {"conversations": update_message_list(None, turns_with_system(conv), "from", "value", _SHAREGPT_ROLE_OUT)}


def _leading_system(items: Any) -> bool:
    if not (isinstance(items, list) and items and isinstance(items[0], dict)):
        return False
    return role_of(items[0].get("from", items[0].get("role"))) == "system"


_HH_MARK = re.compile(r"\n\n(Human|Assistant):")
_HH_ROLE = {"Human": "user", "Assistant": "assistant"}
_HH_NAME = {"user": "Human", "assistant": "Assistant"}


def parse_hh_transcript(text: Any, field: str) -> list[Turn]:
    if not isinstance(text, str):
        raise RowError(f"wrong-type: {field!r} must be a string, got {type(text).__name__}")
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    parts = _HH_MARK.split(text)
    if len(parts) < 3:
        raise RowError(f"hh-transcript: no '\\n\\nHuman:' / '\\n\\nAssistant:' markers in {field!r}")
    if parts[0].strip():
        raise RowError(f"hh-transcript: text before the first Human:/Assistant: marker in {field!r}")
    return [Turn(_HH_ROLE[parts[i]], parts[i + 1].strip()) for i in range(1, len(parts), 2)]


def render_hh_transcript(turns: list[Turn]) -> str:
    bad = [t.role for t in turns if t.role not in _HH_NAME]
    if bad:
        raise ValueError(f"an HH transcript holds only Human/Assistant turns, not {bad[0]!r}")
    return "".join(f"\n\n{_HH_NAME[t.role]}: {t.content}" for t in turns)


@register_format("hh")
class HHFormat(FormatAdapter):
    description = "Anthropic HH-RLHF: chosen/rejected '\\n\\nHuman: ... \\n\\nAssistant: ...' transcripts"
    priority = 10

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "chosen" in row and "rejected" in row and "prompt" not in row

    def _sides(self) -> tuple[str, ...]:
        return ("chosen", "rejected") if self.hh_side == "both" else (self.hh_side,)

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        sides = self._sides()
        return [Parsed(None, parse_hh_transcript(row[side], side), meta={"hh_side": side, "hh_pair": True} if len(sides) > 1 else {"hh_side": side})
                for side in sides]

    def is_untouched(self, conv: Conversation) -> bool:
        side = conv.meta.get("hh_side", "chosen")
        if conv.format != self.name or not isinstance(conv.raw, dict) or conv.system is not None or conv.meta.get("hh_pair"):
            return False
        try:
            return parse_hh_transcript(conv.raw.get(side), side) == conv.turns
        except RowError:
            return False

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        if conv.system:
            raise ValueError("an HH transcript has no place for a system prompt")
        side = conv.meta.get("hh_side", "chosen")
        if conv.format == self.name and isinstance(conv.raw, dict):
            row = dict(conv.raw)
            try:
                unchanged = parse_hh_transcript(row.get(side), side) == conv.turns
            except RowError:
                unchanged = False
            if not unchanged:
                row[side] = render_hh_transcript(conv.turns)
            return row
        text = render_hh_transcript(conv.turns)
        return {"chosen": text, "rejected": text}
