"""Training-compatible chat templates: loss on assistant turns only.

TRL computes ``assistant_only_loss`` from ``apply_chat_template(..., return_assistant_tokens_mask=True)``,
which marks the characters a template renders between ``{% generation %}`` and ``{% endgeneration %}``.
Stock templates (SmolLM2's ChatML included) carry no such markers, so TRL refuses them. The templates
here render byte-identically to the inference template and wrap each assistant message's content
*and its end-of-turn token* in the markers, so the model also learns to stop.

Resolution order (``resolve_training_template``):
1. an explicit ``chat_template``: a name in ``TRAINING_TEMPLATES`` or a path to a ``.jinja`` file;
2. the tokenizer's template if it already has generation markers;
3. a template in ``TRAINING_TEMPLATES`` that renders the tokenizer's own byte-identically (SmolLM2's
   ChatML -> ``smollm2``, plain ChatML -> ``chatml``);
4. TRL's own training templates (Qwen, Llama-3, Gemma, Phi, ...);
5. a tokenizer with no template: ``chatml`` if it knows ``<|im_start|>``, else ``plain`` (base models);
otherwise an error that says how to supply one (docs/training.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aligntax.errors import InputError

_SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

_CHATML_ASSISTANT = (
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
)

# SmolLM2-Instruct: ChatML plus its default system prompt when the conversation has none.
SMOLLM2_TRAINING_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + _SMOLLM2_DEFAULT_SYSTEM + "<|im_end|>\n' }}"
    "{% endif %}" + _CHATML_ASSISTANT + "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Generic ChatML (no default system prompt), for any model whose vocabulary has <|im_start|>/<|im_end|>.
CHATML_TRAINING_TEMPLATE = (
    "{% for message in messages %}" + _CHATML_ASSISTANT + "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Base models without a chat template (e.g. meta-llama/Llama-2-7b-hf, as in the paper): Vicuna-style
# plain text, each assistant turn closed by the tokenizer's EOS so generation stops there.
PLAIN_TRAINING_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ 'ASSISTANT: ' }}{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}{{ '\n' }}"
    "{% else %}{{ message['role'].upper() + ': ' + message['content'] + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT: ' }}{% endif %}"
)

TRAINING_TEMPLATES = {
    "smollm2": SMOLLM2_TRAINING_TEMPLATE,
    "chatml": CHATML_TRAINING_TEMPLATE,
    "plain": PLAIN_TRAINING_TEMPLATE,
}


@dataclass(frozen=True)
class TrainingTemplate:
    template: str
    source: str  # "smollm2" | "chatml" | "plain" | "tokenizer" | "trl" | a file path
    original: str | None  # the tokenizer's own template, restored before the model is saved


def has_generation_markers(template: str | None) -> bool:
    import re

    return bool(template) and re.search(r"\{%-?\s*generation\s*-?%\}", template) is not None  # type: ignore[arg-type]


def resolve_training_template(tokenizer, chat_template: str | None = None) -> TrainingTemplate:
    """Pick the training template for ``tokenizer`` (see the module docstring for the order)."""
    original = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None
    if chat_template:
        if chat_template in TRAINING_TEMPLATES:
            return TrainingTemplate(TRAINING_TEMPLATES[chat_template], chat_template, original)
        path = Path(chat_template).expanduser()
        if not path.is_file():
            raise InputError(f"--chat-template {chat_template!r} is neither one of {sorted(TRAINING_TEMPLATES)} nor a file")
        text = path.read_text(encoding="utf-8")
        if not has_generation_markers(text):
            raise InputError(f"{path} has no {{% generation %}} ... {{% endgeneration %}} markers around assistant "
                             "turns; without them the loss cannot be restricted to assistant tokens")
        return TrainingTemplate(text, str(path), original)
    if original and has_generation_markers(original):
        return TrainingTemplate(original, "tokenizer", original)
    if original:
        for name, candidate in TRAINING_TEMPLATES.items():
            if renders_like(tokenizer, original, candidate):
                return TrainingTemplate(candidate, name, original)
        trl_template = _trl_training_template(tokenizer)
        if trl_template:
            return TrainingTemplate(trl_template, "trl", original)
        raise InputError(
            "the tokenizer's chat template has no {% generation %} markers and no known training variant; "
            f"pass --chat-template with one of {sorted(TRAINING_TEMPLATES)} or a .jinja file that wraps each "
            "assistant message and its end-of-turn token in {% generation %}...{% endgeneration %} "
            "(see docs/training.md), or train on full sequences with --no-assistant-only-loss")
    name = "chatml" if "<|im_start|>" in tokenizer.get_vocab() else "plain"
    return TrainingTemplate(TRAINING_TEMPLATES[name], name, None)


_PROBES = (
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}], False),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "A?"}, {"role": "assistant", "content": "B"},
      {"role": "user", "content": "C?"}, {"role": "assistant", "content": " D\n"}], False),
    ([{"role": "user", "content": "Q"}], True),
    ([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, {"role": "user", "content": "R"}], True),
)


def renders_like(tokenizer, template: str, candidate: str) -> bool:
    """Whether ``candidate`` renders probe conversations byte-identically to ``template``.

    Compares behaviour, not source text: the same template re-serialised (e.g. after a GGUF
    conversion) differs in whitespace but must still map to its training variant.
    """
    try:
        return all(
            tokenizer.apply_chat_template(msgs, chat_template=template, tokenize=False, add_generation_prompt=gen)
            == tokenizer.apply_chat_template(msgs, chat_template=candidate, tokenize=False, add_generation_prompt=gen)
            for msgs, gen in _PROBES)
    except Exception:  # noqa: BLE001 - a template that cannot render the probes does not match
        return False


def _trl_training_template(tokenizer) -> str | None:
    try:
        from trl.chat_template_utils import get_training_chat_template

        return get_training_chat_template(tokenizer)
    except (ValueError, NotImplementedError, KeyError):
        return None


def assistant_spans(tokenizer, messages: list[dict[str, str]], template: str) -> tuple[list[int], list[int]]:
    """``(input_ids, assistant_mask)`` exactly as TRL computes them for ``messages``."""
    out = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    return list(out["input_ids"]), list(out["assistant_masks"])
