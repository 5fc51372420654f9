"""Instruction-shaped formats: Alpaca (and GPTeacher), Dolly, prompt/completion pairs, Self-Instruct tasks."""

from __future__ import annotations

from typing import Any, Mapping

from aligntax.io.formats import (
    FormatAdapter,
    Parsed,
    RowError,
    join_prompt,
    register_format,
    require_list,
    require_str,
    split_prompt,
)
from aligntax.io.formats_chat import parse_message_list, update_message_list
from aligntax.record import Conversation, Turn

_CHAT_KEYS = ("messages", "conversations", "conversation")


def qa_pairs(conv: Conversation) -> list[tuple[str, str]]:
    """The (user, assistant) exchanges of a conversation that alternates user → assistant."""
    turns = conv.turns
    if len(turns) % 2 or any(t.role != ("user", "assistant")[i % 2] for i, t in enumerate(turns)):
        roles = " → ".join(t.role for t in turns)
        raise ValueError(f"{conv.id}: an instruction row needs alternating user → assistant turns, got {roles}")
    return [(turns[i].content, turns[i + 1].content) for i in range(0, len(turns), 2)]


def _history(row: Mapping[str, Any]) -> list[Turn]:
    """LLaMA-Factory's optional ``history``: earlier [instruction, response] pairs."""
    history = row.get("history")
    if not history:
        return []
    if not isinstance(history, list):
        raise RowError(f"wrong-type: 'history' must be a list of [user, assistant] pairs, got {type(history).__name__}")
    turns = []
    for i, pair in enumerate(history):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise RowError(f"wrong-type: history[{i}] must be a [user, assistant] pair of strings")
        turns += [Turn("user", pair[0]), Turn("assistant", pair[1])]
    return turns


class _InstructionFormat(FormatAdapter):
    """instruction + optional second prompt field (``input``/``context``) → one answer field."""

    extra_key: str = "input"
    output_keys: tuple[str, ...] = ("output",)

    def _output_key(self, row: Mapping[str, Any]) -> str:
        return next((k for k in self.output_keys if k in row), self.output_keys[0])

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        instruction = require_str(row, "instruction")
        extra = require_str(row, self.extra_key, optional=True)
        output = require_str(row, self._output_key(row))
        system = row.get("system") if isinstance(row.get("system"), str) and row.get("system") else None
        turns = _history(row) + [Turn("user", join_prompt(instruction, extra)), Turn("assistant", output)]
        return [Parsed(system, turns)]

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        pairs = qa_pairs(conv)
        if not pairs:
            raise ValueError(f"{conv.id}: no user → assistant exchange to write")
        raw = conv.raw if conv.format == self.name and isinstance(conv.raw, dict) else {}
        row = dict(raw)
        user, answer = pairs[-1]
        instruction, extra = split_prompt(user, raw.get("instruction", ""), raw.get(self.extra_key) or "")
        row["instruction"] = instruction
        if self.extra_key in raw or extra or not raw:
            row[self.extra_key] = extra
        row[self._output_key(raw)] = answer
        if len(pairs) > 1 or raw.get("history"):
            row["history"] = [list(p) for p in pairs[:-1]]
        if conv.system is not None or "system" in raw:
            row["system"] = conv.system or ""
        return row


@register_format("alpaca")
class AlpacaFormat(_InstructionFormat):
    description = "Alpaca: instruction / input (optional) / output; GPTeacher's instruction/input/response too"
    priority = 40
    extra_key = "input"
    output_keys = ("output", "response")

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "instruction" in row and ("output" in row or "response" in row) and "context" not in row \
            and "instances" not in row


@register_format("dolly")
class DollyFormat(_InstructionFormat):
    description = "Databricks Dolly: instruction / context / response (category kept)"
    priority = 35
    extra_key = "context"
    output_keys = ("response",)

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "instruction" in row and "context" in row and "response" in row


_PAIRS = (("prompt", "completion"), ("prompt", "response"), ("question", "answer"), ("query", "response"),
          ("instruction", "response"))


@register_format("prompt_completion")
class PromptCompletionFormat(FormatAdapter):
    description = ("prompt/completion pairs (also prompt/response, question/answer, query/response); "
                   "TRL's conversational form with message lists is accepted")
    priority = 60

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return any(p in row and c in row for p, c in _PAIRS) and not any(k in row for k in _CHAT_KEYS)

    @staticmethod
    def _keys(row: Mapping[str, Any]) -> tuple[str, str]:
        return next((p, c) for p, c in _PAIRS if p in row and c in row)

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        pk, ck = self._keys(row)
        if isinstance(row[pk], list):
            prompt_turns, _ = parse_message_list(row[pk], pk, ("role",), ("content",))
        else:
            prompt_turns = [Turn("user", require_str(row, pk))]
        if isinstance(row[ck], list):
            answer_turns, _ = parse_message_list(row[ck], ck, ("role",), ("content",))
        else:
            answer_turns = [Turn("assistant", require_str(row, ck))]
        turns = prompt_turns + answer_turns
        system = None
        if turns and turns[0].role == "system":
            system, turns = turns[0].content, turns[1:]
        return [Parsed(system, turns)]

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        raw = conv.raw if conv.format == self.name and isinstance(conv.raw, dict) else {}
        pk, ck = self._keys(raw) if raw else ("prompt", "completion")
        row = dict(raw)
        answer_at = max((i for i, t in enumerate(conv.turns) if t.role == "assistant"), default=len(conv.turns))
        prompt_turns, answer_turns = conv.turns[:answer_at], conv.turns[answer_at:]
        sys_turn = [Turn("system", conv.system)] if conv.system is not None else []
        if isinstance(raw.get(pk), list):
            row[pk] = update_message_list(raw[pk], sys_turn + prompt_turns, "role", "content")
        else:
            if sys_turn or len(prompt_turns) != 1 or prompt_turns[0].role != "user":
                raise ValueError(f"{conv.id}: a text prompt/completion row holds exactly one user turn")
            row[pk] = prompt_turns[0].content
        if isinstance(raw.get(ck), list):
            row[ck] = update_message_list(raw[ck], answer_turns, "role", "content")
        else:
            row[ck] = "\n\n".join(t.content for t in answer_turns)
        return row


@register_format("self_instruct_tasks")
class SelfInstructTasksFormat(FormatAdapter):
    description = "Self-Instruct seed/user-oriented tasks: instruction + instances=[{input, output}] (one conversation per instance)"
    priority = 30

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "instruction" in row and "instances" in row

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        instruction = require_str(row, "instruction")
        parsed = []
        for i, inst in enumerate(require_list(row, "instances")):
            if not isinstance(inst, dict):
                raise RowError(f"wrong-type: instances[{i}] must be an object, got {type(inst).__name__}")
            try:
                user = join_prompt(instruction, require_str(inst, "input", optional=True))
                answer = require_str(inst, "output")
            except RowError as exc:
                raise RowError(f"{exc} in instances[{i}]") from None
            parsed.append(Parsed(None, [Turn("user", user), Turn("assistant", answer)]))
        return parsed

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        pairs = qa_pairs(conv)
        if len(pairs) != 1 or conv.system:
            raise ValueError(f"{conv.id}: a Self-Instruct instance is one user → assistant exchange")
        user, answer = pairs[0]
        raw = conv.raw if conv.format == self.name and isinstance(conv.raw, dict) else {}
        instances = raw.get("instances") or [{}]
        # One row per conversation: the row keeps only this conversation's instance.
        inst = dict(instances[conv.sub]) if conv.sub < len(instances) and isinstance(instances[conv.sub], dict) else {}
        instruction, extra = split_prompt(user, raw.get("instruction", ""), inst.get("input") or "")
        inst.update(input=extra, output=answer)
        return {**raw, "instruction": instruction, "instances": [inst]}
