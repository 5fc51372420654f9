"""Turn a model reference into something loadable, and load it.

A reference is one of: the embedded default name (``smollm2-135m-instruct``), a local HF
directory, a ``.gguf`` file (or a directory holding exactly one), a PEFT adapter directory
(its ``adapter_config.json`` names the base, which ``base=`` overrides), or a Hugging Face
Hub id. ``HF_HUB_OFFLINE=1`` is honoured by transformers itself: Hub ids then resolve from
the local HF cache only. ``trust_remote_code`` is off unless the caller turns it on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aligntax.errors import AligntaxError, InputError
from aligntax.models.default import EMBEDDED_MODELS, embedded_model_dir, fetch_default_model, is_fetched

_HASHED_SUFFIXES = (".safetensors", ".bin", ".gguf", ".json", ".model", ".txt", ".jinja", ".py")


@dataclass(frozen=True)
class ModelSpec:
    ref: str  # what the user typed
    kind: str  # embedded | local | gguf | peft | hub
    path: str  # directory (or Hub id) passed to from_pretrained
    gguf_file: str | None = None
    base: "ModelSpec | None" = None  # the base model of a PEFT adapter
    revision: str | None = None
    trust_remote_code: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out = {"ref": self.ref, "kind": self.kind, "path": self.path}
        if self.gguf_file:
            out["gguf_file"] = self.gguf_file
        if self.revision:
            out["revision"] = self.revision
        if self.base is not None:
            out["base"] = self.base.describe()
        return out


def resolve_model(
    ref: str,
    *,
    base: str | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    fetch: bool = True,
) -> ModelSpec:
    """Classify ``ref``; fetches the embedded default on first use when ``fetch`` is true."""
    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    if ref in EMBEDDED_MODELS:
        if not is_fetched(ref):
            if not fetch:
                raise InputError(f"model {ref!r} is not fetched yet; run `aligntax model fetch`")
            fetch_default_model(ref)
        return ModelSpec(ref, "embedded", str(embedded_model_dir(ref)), trust_remote_code=trust_remote_code)
    path = Path(ref).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise InputError(f"model file {ref!r} is not a .gguf file")
        return ModelSpec(ref, "gguf", str(path.parent.resolve()), gguf_file=path.name, **common)
    if path.is_dir():
        path = path.resolve()
        adapter_cfg = path / "adapter_config.json"
        if adapter_cfg.is_file():
            cfg = json.loads(adapter_cfg.read_text(encoding="utf-8"))
            base_ref = base or cfg.get("base_model_name_or_path")
            if not base_ref:
                raise InputError(f"{adapter_cfg} names no base_model_name_or_path; pass --base")
            base_spec = resolve_model(base_ref, trust_remote_code=trust_remote_code, fetch=fetch)
            return ModelSpec(ref, "peft", str(path), base=base_spec, **common)
        if (path / "config.json").is_file():
            return ModelSpec(ref, "local", str(path), **common)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSpec(ref, "gguf", str(path), gguf_file=ggufs[0].name, **common)
        raise InputError(f"{ref!r} is a directory without config.json, adapter_config.json or a single .gguf")
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        return ModelSpec(ref, "hub", ref, **common)
    raise InputError(f"model {ref!r} is neither an embedded name ({', '.join(EMBEDDED_MODELS)}), a path, nor a Hub id")


def _hash_dir(path: Path, files: list[Path] | None = None) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    for f in files if files is not None else sorted(path.iterdir()):
        if f.is_file() and f.suffix in _HASHED_SUFFIXES:
            h.update(f.name.encode() + b"\0")
            with f.open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
    return h.hexdigest()


def model_hash(spec: ModelSpec) -> str:
    """Content hash of the weights, config and tokenizer (what makes results reproducible)."""
    if spec.kind == "peft":
        return _hash_dir(Path(spec.path)) + "+" + model_hash(spec.base)  # type: ignore[arg-type]
    if spec.kind == "gguf":
        return _hash_dir(Path(spec.path), [Path(spec.path) / spec.gguf_file])  # type: ignore[operator]
    if spec.kind in ("embedded", "local"):
        return _hash_dir(Path(spec.path))
    try:  # a Hub id: hash the cached snapshot when there is one
        from huggingface_hub import snapshot_download

        snapshot = snapshot_download(spec.path, revision=spec.revision, local_files_only=True)
        return _hash_dir(Path(snapshot))
    except Exception:  # noqa: BLE001 - not cached (yet): fall back to the id and revision
        import xxhash

        return "hub-" + xxhash.xxh3_128_hexdigest(f"{spec.path}@{spec.revision or 'main'}")


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_tokenizer(spec: ModelSpec):
    from transformers import AutoTokenizer

    from aligntax.models.default import CHATML_TEMPLATE

    source = spec
    if spec.kind == "peft" and not (Path(spec.path) / "tokenizer_config.json").is_file():
        source = spec.base  # type: ignore[assignment]
    kwargs: dict[str, Any] = {"trust_remote_code": source.trust_remote_code}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    if source.revision:
        kwargs["revision"] = source.revision
    tok = AutoTokenizer.from_pretrained(source.path, **kwargs)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not tok.chat_template and "<|im_start|>" in tok.get_vocab():
        tok.chat_template = CHATML_TEMPLATE  # ChatML models whose template got lost in conversion
    return tok


def load_model(spec: ModelSpec, *, device: str | None = None, dtype: str | None = None):
    """Load ``(model, tokenizer)`` in eval mode; a PEFT adapter is merged into its base."""
    import torch
    from transformers import AutoModelForCausalLM

    device = device or default_device()
    torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if device == "cuda" else torch.float32)
    if spec.kind == "peft":
        from peft import PeftModel

        base_model, _ = load_model(spec.base, device=device, dtype=dtype)  # type: ignore[arg-type]
        model = PeftModel.from_pretrained(base_model, spec.path).merge_and_unload()
    else:
        kwargs: dict[str, Any] = {"dtype": torch_dtype, "trust_remote_code": spec.trust_remote_code}
        if spec.gguf_file:
            kwargs["gguf_file"] = spec.gguf_file
        if spec.revision:
            kwargs["revision"] = spec.revision
        try:
            model = AutoModelForCausalLM.from_pretrained(spec.path, **kwargs)
        except OSError as exc:
            offline = " (HF_HUB_OFFLINE is set: only cached Hub models load)" if os.environ.get("HF_HUB_OFFLINE") else ""
            raise AligntaxError(f"could not load model {spec.ref!r}{offline}: {exc}") from exc
    model.to(device).eval()
    return model, load_tokenizer(spec)
