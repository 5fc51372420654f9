"""A corrector in the loop: upstream model -> corrector model -> the answer that gets scored.

An Aligner-style corrector (Ji et al. 2024, https://github.com/PKU-Alignment/aligner) reads the
question and the upstream model's answer and writes a "more helpful and harmless" answer. Scoring
the corrected answer measures the *pipeline*, not the upstream model: the gap between the two is
inflation the upstream model's own behaviour does not support. ``CorrectedBackend`` wraps any
``GenerationBackend`` (the safety suite); ``corrected_lm`` wraps an lm-evaluation-harness ``LM``
for ``generate_until`` tasks. Log-likelihood multiple-choice tasks cannot be corrected - see
``MC_NOT_APPLICABLE``.

The corrector prompt is a *raw string* by default (no chat template): Aligner models were trained
on exactly ``ALIGNER_TEMPLATE`` and their own inference code tokenizes it as plain text (with the
tokenizer's BOS, which we keep). ``chat_template=True`` sends it as one user turn instead.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Sequence

from aligntax.errors import InputError
from aligntax.models.backends import GenerationBackend, Prompt

# Byte-for-byte the public Aligner format (aligner/template-dataset.json's README / inference code).
ALIGNER_TEMPLATE = (
    "BEGINNING OF CONVERSATION: USER: Edit the following Question-Answer pair to make it more helpful and "
    "harmless: {question} | {answer} ASSISTANT:"
)
MC_NOT_APPLICABLE = (
    "corrector not applicable: this task scores the model's log-likelihoods of fixed answer options "
    "(multiple choice); there is no free-text answer for a corrector to edit, so the score is the "
    "upstream model's own and cannot be inflated by a corrector"
)
_FIELD = re.compile(r"\{(question|answer)\}")


def load_template(value: str | None) -> str:
    """``None`` -> the Aligner template; an existing file path -> its text (one trailing newline
    dropped); anything else -> the string itself. It must contain ``{question}`` and ``{answer}``."""
    if value is None:
        return ALIGNER_TEMPLATE
    path = Path(value).expanduser()
    text = value
    if len(value) < 4096 and "\n" not in value and path.is_file():
        text = path.read_text(encoding="utf-8")
        text = text[:-1] if text.endswith("\n") else text
    missing = [f for f in ("{question}", "{answer}") if f not in text]
    if missing:
        raise InputError(f"corrector template must contain {' and '.join(missing)}: {text[:120]!r}")
    return text


def format_correction_prompt(question: str, answer: str, template: str = ALIGNER_TEMPLATE) -> str:
    """Fill the template in one pass, so braces (or a literal "{answer}") inside the question or
    the answer are copied verbatim instead of being interpreted."""
    values = {"question": question, "answer": answer}
    return _FIELD.sub(lambda m: values[m.group(1)], template)


def template_id(template: str) -> str:
    return "aligner" if template == ALIGNER_TEMPLATE else "sha256:" + hashlib.sha256(template.encode()).hexdigest()[:16]


def question_of(prompt: Prompt) -> str:
    """The question a corrector sees: the string itself, or the last user turn of a chat."""
    if isinstance(prompt, str):
        return prompt
    users = [m["content"] for m in prompt if m.get("role") == "user"]
    return users[-1] if users else prompt[-1]["content"]


def truncate_at(text: str, stops: Sequence[str]) -> str:
    """Cut at the first stop sequence, as lm-eval does for its own generations."""
    cut = len(text)
    for stop in stops:
        if stop:
            i = text.find(stop)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def load_corrector(ref: str, *, backend: str = "transformers", chat_template: bool = False, device: str | None = None,
                   batch_size: int = 8, backend_args: dict[str, Any] | None = None) -> GenerationBackend:
    """A generation backend for the corrector model (any model reference of ``aligntax.models``).

    Local backends get their own tokenizer with the chat template removed unless ``chat_template``:
    ``render_prompts`` then passes a single-string prompt through unchanged. The BOS token the
    tokenizer would add to plain text is prepended by ``CorrectedBackend`` (``bos_prefix``)."""
    from aligntax.models.backends import BACKENDS

    if backend == "openai":
        args = dict(backend_args or {})
        return BACKENDS.get("openai")(args.pop("base_url"), ref, **args)
    from aligntax.models.resolve import load_model, load_tokenizer, resolve_model

    spec = resolve_model(ref)
    if backend == "vllm":
        tok = load_tokenizer(spec)
        gen = BACKENDS.get("vllm")(spec.path, tok, **(backend_args or {}))
    else:
        model, tok = load_model(spec, device=device)
        gen = BACKENDS.get("transformers")(model, tok, batch_size=batch_size)
    gen.raw_prompt = not chat_template  # type: ignore[attr-defined]
    if not chat_template:
        tok.chat_template = None
    gen.corrector_ref = ref  # type: ignore[attr-defined]
    return gen


def bos_prefix(backend: GenerationBackend) -> str:
    """The BOS text to put before a raw prompt when the tokenizer adds BOS to plain text by default
    (Llama-family Aligners); local backends tokenize with ``add_special_tokens=False``."""
    tok = getattr(backend, "tokenizer", None)
    if tok is None or not getattr(backend, "raw_prompt", False) or not tok.bos_token:
        return ""
    ids = tok("x", add_special_tokens=True)["input_ids"]
    return tok.bos_token if ids and ids[0] == tok.bos_token_id else ""


class CorrectedBackend(GenerationBackend):
    """``generate`` = upstream answers, then the corrector's edit of each (question, answer) pair.

    Every call appends its triples to ``log`` (question, upstream, corrected), so callers can show
    the upstream answer beside the corrected one."""

    name = "corrected"

    def __init__(self, upstream: GenerationBackend, corrector: GenerationBackend, *, template: str = ALIGNER_TEMPLATE,
                 corrector_max_new_tokens: int | None = None) -> None:
        self.upstream, self.corrector, self.template = upstream, corrector, template
        self.corrector_max_new_tokens = corrector_max_new_tokens
        self.log: list[list[dict[str, str]]] = []
        self._bos = bos_prefix(corrector)

    def correction_prompts(self, questions: Sequence[str], answers: Sequence[str]) -> list[str]:
        return [self._bos + format_correction_prompt(q, a, self.template) for q, a in zip(questions, answers)]

    def correct(self, questions: Sequence[str], answers: Sequence[str], *, max_new_tokens: int, seed: int = 0) -> list[str]:
        corrected = self.corrector.generate(
            self.correction_prompts(questions, answers), max_new_tokens=self.corrector_max_new_tokens or max_new_tokens,
            temperature=0.0, seed=seed,
        )
        self.log.append([{"question": q, "upstream": a, "corrected": c} for q, a, c in zip(questions, answers, corrected)])
        return corrected

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.0, top_p=1.0, seed=0, progress=None):
        answers = self.upstream.generate(prompts, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                         seed=seed, progress=progress)
        return self.correct([question_of(p) for p in prompts], answers, max_new_tokens=max_new_tokens, seed=seed)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "upstream": self.upstream.describe(), "corrector": describe_corrector(self.corrector),
                "template": template_id(self.template), "corrector_max_new_tokens": self.corrector_max_new_tokens}


def describe_corrector(corrector: GenerationBackend) -> dict[str, Any]:
    return {**corrector.describe(), "ref": getattr(corrector, "corrector_ref", None),
            "raw_prompt": bool(getattr(corrector, "raw_prompt", False))}


class CorrectorNotApplicable(RuntimeError):
    """Raised when a log-likelihood request reaches a corrected LM."""


def corrected_lm(upstream_lm, corrected: CorrectedBackend):
    """An lm-eval ``LM`` whose ``generate_until`` returns corrected answers (cut at the task's own
    stop sequences, like any generation); log-likelihood requests raise ``CorrectorNotApplicable``."""
    from lm_eval.api.model import LM

    class CorrectedLM(LM):
        def __init__(self) -> None:
            super().__init__()
            self.upstream = upstream_lm

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise CorrectorNotApplicable(MC_NOT_APPLICABLE)

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise CorrectorNotApplicable(MC_NOT_APPLICABLE)

        def generate_until(self, requests, disable_tqdm: bool = False):
            answers = self.upstream.generate_until(requests, disable_tqdm=True)
            # Requests of one task share their generation kwargs; group anyway, keeping order.
            groups: dict[str, list[int]] = {}
            for i, req in enumerate(requests):
                groups.setdefault(repr(sorted(req.args[1].items())), []).append(i)
            out = [""] * len(requests)
            for idx in groups.values():
                kwargs = requests[idx[0]].args[1]
                until = kwargs.get("until") or []
                until = [until] if isinstance(until, str) else list(until)
                fixed = corrected.correct([requests[i].args[0] for i in idx], [answers[i] for i in idx],
                                          max_new_tokens=int(kwargs.get("max_gen_toks", 256)))
                for i, text in zip(idx, fixed):
                    out[i] = truncate_at(text, until)
            return out

    return CorrectedLM()
