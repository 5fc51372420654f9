"""Model-answer reports: OpenAssistant model-eval sampling reports and FastChat/Vicuna answer tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from aligntax.errors import InputError
from aligntax.io.formats import FormatAdapter, Parsed, RowError, register_format, require_list, require_str
from aligntax.record import Conversation, Turn


@register_format("oasst_eval")
class OasstEvalFormat(FormatAdapter):
    description = ("oasst-model-eval sampling report: {model_name, prompts:[{prompt, results:[{outputs:[...]}]}]}; "
                   "one conversation per (prompt, output)")
    priority = 8

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "prompt" in row and "results" in row

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        prompt = require_str(row, "prompt")
        parsed = []
        for ri, result in enumerate(require_list(row, "results")):
            if not isinstance(result, dict):
                raise RowError(f"wrong-type: results[{ri}] must be an object, got {type(result).__name__}")
            outputs = require_list(result, "outputs")
            for oi, output in enumerate(outputs):
                if not isinstance(output, str):
                    raise RowError(f"wrong-type: results[{ri}].outputs[{oi}] must be a string, got {type(output).__name__}")
                meta = {"oasst_eval_output": [ri, oi], "sampling_config": result.get("sampling_config")}
                parsed.append(Parsed(None, [Turn("user", prompt), Turn("assistant", output)], meta=meta))
        return parsed

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        if len(conv.turns) != 2 or [t.role for t in conv.turns] != ["user", "assistant"] or conv.system:
            raise ValueError(f"{conv.id}: an oasst_eval row is one prompt and one output")
        prompt, output = conv.turns[0].content, conv.turns[1].content
        if conv.format != self.name or not isinstance(conv.raw, dict):
            return {"prompt": prompt, "results": [{"outputs": [output]}]}
        ri, oi = conv.meta.get("oasst_eval_output", [0, 0])
        result = dict(conv.raw["results"][ri])
        result["outputs"] = [output]  # one row per conversation: only this output
        return {**conv.raw, "prompt": prompt, "results": [result]}


@register_format("vicuna_answers")
class VicunaAnswersFormat(FormatAdapter):
    description = ("FastChat/Vicuna answer table: question_id / text / answer_id / model_id, "
                   "joined with the question.jsonl beside it")
    priority = 9

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._questions: dict[Any, str] = {}
        self._question_file: Path | None = None

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "answer_id" in row and "question_id" in row and "text" in row

    def open_source(self, source: str) -> None:
        self._question_file = Path(source).parent / "question.jsonl"
        self._questions = {}
        if self._question_file.is_file():
            with self._question_file.open(encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        q = json.loads(line)
                        self._questions[q["question_id"]] = q["text"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise InputError(f"{self._question_file}:{lineno}: unreadable Vicuna question row ({exc})") from None

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        answer = require_str(row, "text")
        qid = row["question_id"]
        if qid not in self._questions:
            where = self._question_file or "question.jsonl"
            raise RowError(f"vicuna-question: question_id {qid!r} not found in {where}")
        meta = {"question_id": qid, "model_id": row.get("model_id")}
        return [Parsed(None, [Turn("user", self._questions[qid]), Turn("assistant", answer)], str(row["answer_id"]), meta)]

    def is_untouched(self, conv: Conversation) -> bool:
        # The question lives in question.jsonl, not in the row: only the answer text can differ.
        return (conv.format == self.name and isinstance(conv.raw, dict) and conv.system is None
                and [t.role for t in conv.turns] == ["user", "assistant"] and conv.raw.get("text") == conv.turns[1].content)

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        answers = [t.content for t in conv.turns if t.role == "assistant"]
        if len(answers) != 1:
            raise ValueError(f"{conv.id}: a Vicuna answer row holds exactly one assistant answer")
        raw = conv.raw if conv.format == self.name and isinstance(conv.raw, dict) else {"answer_id": conv.id}
        return {**raw, "text": answers[0]}
