"""``restructure``: reformat a prose answer as a lead sentence followed by a bulleted list.

Deterministic by default: the first sentence leads, each following sentence becomes a bullet, and
a closing summary sentence ("In summary, ...") stays a closing paragraph. Answers that already
hold a list, a code block or a table, or that have fewer than ``min_sentences`` sentences, are
left as they are.

``backend: llm`` asks a generation backend from ``aligntax.models`` to do the rewrite instead
(``model`` is any model reference ``aligntax.models.resolve_model`` accepts; imported lazily, only
when this option is used). The prompt is built by ``build_llm_prompt``; an empty or runaway
completion leaves the answer unchanged.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from aligntax.detect.base import Detection
from aligntax.record import Conversation
from aligntax.shape.rewrite.base import REWRITERS, Rewriter, replace_turns

_ALREADY_STRUCTURED = re.compile(r"^\s*(?:[-*•+]\s|\d+[.)]\s|#{1,6}\s|\|.*\|)|```", re.MULTILINE)
_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(])")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|vs|Dr|Mr|Mrs|Ms|St|No|Fig|approx)\.$", re.IGNORECASE)
_CLOSING = re.compile(r"^(?:In summary|In conclusion|Overall|To summari[sz]e|In short|Ultimately)\b", re.IGNORECASE)

LLM_INSTRUCTION = (
    "Rewrite the assistant answer below into a structured form: one lead sentence that directly answers "
    "the question, then a bulleted list (lines starting with '- ') with one point per item. Keep every fact "
    "and instruction of the original, add nothing new, and do not comment on the rewrite. Output only the "
    "rewritten answer."
)


def split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    for piece in _SPLIT.split(" ".join(text.split())):
        if parts and _ABBREVIATION.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    return [p.strip() for p in parts if p.strip()]


def restructure_text(text: str, min_sentences: int = 3) -> str | None:
    """The structured form of ``text``, or None when it should stay as it is."""
    if _ALREADY_STRUCTURED.search(text):
        return None
    parts = split_sentences(text)
    if len(parts) < min_sentences:
        return None
    lead, rest = parts[0], parts[1:]
    closing = rest.pop() if len(rest) > 2 and _CLOSING.match(rest[-1]) else None
    body = "\n".join(f"- {sentence}" for sentence in rest)
    return f"{lead}\n\n{body}" + (f"\n\n{closing}" if closing else "")


def build_llm_prompt(question: str, answer: str) -> list[dict[str, str]]:
    """The chat sent to the LLM backend for one answer."""
    return [
        {"role": "system", "content": LLM_INSTRUCTION},
        {"role": "user", "content": f"Question:\n{question}\n\nAnswer to rewrite:\n{answer}"},
    ]


def accept_llm_output(original: str, rewritten: str, max_growth: float = 1.6) -> str | None:
    """The model's rewrite if it is usable: non-empty, structured, and not much longer than the original."""
    out = rewritten.strip()
    if not out or len(out) > max_growth * len(original) + 80 or not _ALREADY_STRUCTURED.search(out):
        return None
    return out


@REWRITERS.register("restructure")
class Restructure(Rewriter):
    """Options: ``min_sentences`` (default 3); ``backend`` ``rules`` (default) or ``llm`` with ``model``,
    ``max_new_tokens`` (default 512) and ``generation_backend`` (default ``transformers``)."""

    name: ClassVar[str] = "restructure"

    def __init__(self, min_sentences: int = 3, backend: str = "rules", model: str | None = None,
                 max_new_tokens: int = 512, generation_backend: str = "transformers", **options: Any) -> None:
        if backend not in ("rules", "llm"):
            raise ValueError(f"restructure option 'backend' must be 'rules' or 'llm', got {backend!r}")
        if backend == "llm" and not model:
            raise ValueError("restructure with backend: llm needs option 'model' (a model reference)")
        if not isinstance(min_sentences, int) or min_sentences < 2:
            raise ValueError(f"restructure option 'min_sentences' must be an integer >= 2, got {min_sentences!r}")
        super().__init__(min_sentences=min_sentences, backend=backend, model=model, max_new_tokens=max_new_tokens,
                         generation_backend=generation_backend, **options)
        self.min_sentences, self.backend, self.model = min_sentences, backend, model
        self.max_new_tokens, self.generation_backend = max_new_tokens, generation_backend
        self._generator: Any = None

    def _llm(self) -> Any:
        if self._generator is None:
            from aligntax.models import BACKENDS

            backend_cls = BACKENDS.get(self.generation_backend)
            self._generator = backend_cls.from_ref(self.model)
        return self._generator

    def rewrite(self, conv: Conversation, detection: Detection, turns: list[int]) -> Conversation | None:
        new_text: dict[int, str] = {}
        for turn in turns:
            text = conv.turns[turn].content
            if self.backend == "rules":
                out = restructure_text(text, self.min_sentences)
            elif _ALREADY_STRUCTURED.search(text) or len(split_sentences(text)) < self.min_sentences:
                out = None
            else:
                prompt = build_llm_prompt(conv.prompt_before(turn), text)
                completion = self._llm().generate([prompt], max_new_tokens=self.max_new_tokens, temperature=0.0)[0]
                out = accept_llm_output(text, completion)
            if out is not None:
                new_text[turn] = out
        return replace_turns(conv, new_text)
