"""Text generation behind one interface, registered by name in ``BACKENDS``.

Every backend takes a list of prompts - each a chat (list of ``{"role", "content"}``) or a
plain string, which is sent as one user turn - and returns one completion per prompt.
``render_prompts`` produces the exact strings the local backends (transformers, vLLM) feed
the model, so both see byte-identical prompts, templates and special tokens.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence, Union

from aligntax.registry import Registry

Messages = list[dict[str, str]]
Prompt = Union[Messages, str]


class GenerationBackend:
    name: ClassVar[str] = ""

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
        progress: Any = None,
    ) -> list[str]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}


BACKENDS: Registry[GenerationBackend] = Registry("backends")


def as_messages(prompt: Prompt) -> Messages:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def render_prompts(tokenizer, prompts: Sequence[Prompt]) -> list[str]:
    """The prompt strings a local backend tokenizes: chat template + generation prompt."""
    if not tokenizer.chat_template:
        # A base model without a template: join turns as plain text.
        return ["\n\n".join(m["content"] for m in as_messages(p)) for p in prompts]
    return [tokenizer.apply_chat_template(as_messages(p), tokenize=False, add_generation_prompt=True) for p in prompts]


@BACKENDS.register("transformers")
class TransformersBackend(GenerationBackend):
    """Batched ``model.generate`` with left padding; greedy when ``temperature == 0``."""

    name = "transformers"

    def __init__(self, model, tokenizer, *, batch_size: int = 8) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    @classmethod
    def from_ref(cls, ref: str, *, device: str | None = None, batch_size: int = 8, **resolve_kwargs: Any):
        from aligntax.models.resolve import load_model, resolve_model

        model, tokenizer = load_model(resolve_model(ref, **resolve_kwargs), device=device)
        return cls(model, tokenizer, batch_size=batch_size)

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.0, top_p=1.0, seed=0, progress=None):
        import torch

        texts = render_prompts(self.tokenizer, prompts)
        tok = self.tokenizer
        tok.padding_side = "left"
        device = self.model.device
        stop_ids = {i for i in (tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")) if isinstance(i, int) and i >= 0}
        # Longest prompts first: fewer pad tokens per batch. Results are put back in order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        outputs: list[str] = [""] * len(texts)
        torch.manual_seed(seed)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = tok([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id}
            if stop_ids:
                kwargs["eos_token_id"] = sorted(stop_ids)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                out = self.model.generate(**batch, **kwargs)
            new_tokens = out[:, batch["input_ids"].shape[1] :]
            for i, row in zip(idx, new_tokens):
                outputs[i] = tok.decode(row, skip_special_tokens=True).strip()
            if progress is not None:
                progress(len(idx))
        return outputs

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "batch_size": self.batch_size}


@BACKENDS.register("vllm")
class VLLMBackend(GenerationBackend):
    """vLLM on a GPU; fed the same ``render_prompts`` strings as the transformers backend."""

    name = "vllm"

    def __init__(self, model_path: str, tokenizer, *, trust_remote_code: bool = False, **engine_kwargs: Any) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise ImportError("the vllm backend needs `pip install vllm` and a GPU") from exc
        self.tokenizer = tokenizer
        self.llm = LLM(model=model_path, trust_remote_code=trust_remote_code, **engine_kwargs)

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.0, top_p=1.0, seed=0, progress=None):
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
        outs = self.llm.generate(render_prompts(self.tokenizer, prompts), params, use_tqdm=False)
        if progress is not None:
            progress(len(prompts))
        return [o.outputs[0].text.strip() for o in outs]


def vllm_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


# Registers the "openai" backend.
from aligntax.models import openai_backend as _openai_backend  # noqa: E402,F401
