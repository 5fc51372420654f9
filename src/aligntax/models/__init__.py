"""Model references -> loaded models, and text generation backends.

Heavy libraries (torch, transformers, peft, vllm) are imported inside functions only, so
``import aligntax.models`` stays cheap.
"""

from aligntax.models.backends import BACKENDS, GenerationBackend, TransformersBackend, render_prompts
from aligntax.models.default import DEFAULT_MODEL_NAME, cache_root, fetch_default_model
from aligntax.models.resolve import ModelSpec, load_model, load_tokenizer, model_hash, resolve_model

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL_NAME",
    "GenerationBackend",
    "ModelSpec",
    "TransformersBackend",
    "cache_root",
    "fetch_default_model",
    "load_model",
    "load_tokenizer",
    "model_hash",
    "render_prompts",
    "resolve_model",
]
