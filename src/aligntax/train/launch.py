"""Launch plans: the ``accelerate launch`` command, batch geometry and a per-GPU memory estimate.

Nothing here loads weights or imports torch: the model's shape comes from its config.json (local
directories, the fetched embedded model) or from ``KNOWN_SHAPES`` (Hub ids used by the paper).

Memory model (bytes per GPU; P = all parameters, T = trainable ones, N = world size, b = per-device
batch, s = max_seq_len, h = hidden, L = layers, V = vocabulary):
  weights     bf16 2P (fp32 4P); ZeRO-3 shards them: /N
  gradients   bf16 2T (fp32 4T); ZeRO-2/3 shard them: /N
  optimizer   AdamW 12T (fp32 master + m + v; 8T when training in fp32); any ZeRO stage: /N
  activations with gradient checkpointing L*2*s*b*h (each layer's input) + 34*s*b*h (one layer
              recomputed, Korthikanti et al. 2022, SDPA/flash attention so no a*s^2 score term);
              without checkpointing L*34*s*b*h. Doubled for fp32.
  logits      8*b*s*V (bf16 logits + the fp32 copy the loss is computed on)
  gather      ZeRO-3 only: 2 layers of bf16 weights live at once (prefetch) = 4 * P_layer
  overhead    1.5 GiB (CUDA context, NCCL buffers, allocator fragmentation)
It is an estimate for sizing a job, typically within ~20% of ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from aligntax.errors import InputError
from aligntax.train.presets import TrainRecipe

GIB = 1024**3
CONFIG_DIR = Path(__file__).resolve().parents[1] / "data" / "train"
CUDA_OVERHEAD_BYTES = int(1.5 * GIB)


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied_embeddings: bool = False

    @property
    def layer_params(self) -> int:
        head_dim = self.hidden // self.heads
        attention = 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_heads * head_dim  # q,o + k,v
        return attention + 3 * self.hidden * self.intermediate + 2 * self.hidden  # SwiGLU MLP + 2 RMSNorms

    @property
    def params(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        return embeddings + self.layers * self.layer_params + self.hidden

    def lora_params(self, r: int, targets: Sequence[str] | str) -> int:
        head_dim = self.hidden // self.heads
        kv = self.kv_heads * head_dim
        shapes = {"q_proj": (self.hidden, self.hidden), "k_proj": (self.hidden, kv), "v_proj": (self.hidden, kv),
                  "o_proj": (self.hidden, self.hidden), "gate_proj": (self.hidden, self.intermediate),
                  "up_proj": (self.hidden, self.intermediate), "down_proj": (self.intermediate, self.hidden)}
        names = list(shapes) if targets == "all-linear" else [t for t in targets if t in shapes]
        return self.layers * sum(r * (shapes[n][0] + shapes[n][1]) for n in names)


# Llama-family shapes of models named by Hub id (their config.json values).
KNOWN_SHAPES: dict[str, ModelShape] = {
    "meta-llama/Llama-2-7b-hf": ModelShape(4096, 32, 32, 32, 11008, 32000),
    "meta-llama/Llama-2-13b-hf": ModelShape(5120, 40, 40, 40, 13824, 32000),
    "meta-llama/Llama-2-70b-hf": ModelShape(8192, 80, 64, 8, 28672, 32000),
    "meta-llama/Meta-Llama-3-8B": ModelShape(4096, 32, 32, 8, 14336, 128256),
    "meta-llama/Llama-3.1-8B": ModelShape(4096, 32, 32, 8, 14336, 128256),
    "mistralai/Mistral-7B-v0.1": ModelShape(4096, 32, 32, 8, 14336, 32000),
    "HuggingFaceTB/SmolLM2-135M-Instruct": ModelShape(576, 30, 9, 3, 1536, 49152, tied_embeddings=True),
    "HuggingFaceTB/SmolLM2-360M-Instruct": ModelShape(960, 32, 15, 5, 2560, 49152, tied_embeddings=True),
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": ModelShape(2048, 24, 32, 32, 8192, 49152, tied_embeddings=True),
}
for _size in ("7b", "13b", "70b"):  # the chat models share their base's shape
    KNOWN_SHAPES[f"meta-llama/Llama-2-{_size}-chat-hf"] = KNOWN_SHAPES[f"meta-llama/Llama-2-{_size}-hf"]
KNOWN_SHAPES["smollm2-135m-instruct"] = KNOWN_SHAPES["HuggingFaceTB/SmolLM2-135M-Instruct"]


def shape_from_config(cfg: dict[str, Any]) -> ModelShape:
    text = cfg.get("text_config") or cfg
    try:
        heads = text["num_attention_heads"]
        return ModelShape(text["hidden_size"], text["num_hidden_layers"], heads, text.get("num_key_value_heads") or heads,
                          text["intermediate_size"], text["vocab_size"], bool(cfg.get("tie_word_embeddings", False)))
    except KeyError as exc:
        raise InputError(f"config.json lacks {exc.args[0]!r}; cannot estimate memory for this architecture") from exc


def model_shape(model_ref: str) -> ModelShape:
    """The shape of ``model_ref`` from its config.json or ``KNOWN_SHAPES``, without loading weights."""
    from aligntax.models.resolve import resolve_model

    if model_ref in KNOWN_SHAPES:
        return KNOWN_SHAPES[model_ref]
    spec = resolve_model(model_ref, fetch=False)
    if spec.kind == "peft" and spec.base is not None:
        spec = spec.base
    config = Path(spec.path) / "config.json"
    if spec.kind in ("local", "embedded") and config.is_file():
        return shape_from_config(json.loads(config.read_text(encoding="utf-8")))
    if spec.kind == "hub":
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(spec.path, "config.json", revision=spec.revision)
            if isinstance(cached, str):
                return shape_from_config(json.loads(Path(cached).read_text(encoding="utf-8")))
        except ImportError:
            pass
    raise InputError(f"cannot read the shape of {model_ref!r} without downloading it; known Hub ids: "
                     f"{', '.join(sorted(k for k in KNOWN_SHAPES if '/' in k))}")


@dataclass
class MemoryEstimate:
    params: int
    trainable_params: int
    weights_gib: float
    gradients_gib: float
    optimizer_gib: float
    activations_gib: float
    logits_gib: float
    gather_gib: float
    overhead_gib: float
    total_gib: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_memory(shape: ModelShape, recipe: TrainRecipe, *, lora: bool, world_size: int) -> MemoryEstimate:
    """Per-GPU memory for ``recipe`` on ``world_size`` GPUs (formula in the module docstring)."""
    n = max(1, world_size)
    stage = {"zero2": 2, "zero3": 3}.get(recipe.deepspeed or "", 0)
    p = shape.params
    t = shape.lora_params(recipe.lora_r, recipe.lora_target_modules) if lora else p
    width = 2 if recipe.bf16 else 4
    weights = width * p / (n if stage == 3 else 1)
    gradients = width * t / (n if stage >= 2 else 1)
    optimizer = (12 if recipe.bf16 else 8) * t / (n if stage >= 1 else 1)
    b, s, h, L = recipe.per_device_batch_size, recipe.max_seq_len, shape.hidden, shape.layers
    per_layer = 34 * s * b * h
    activations = (L * 2 * s * b * h + per_layer) if recipe.gradient_checkpointing else L * per_layer
    activations *= 1 if recipe.bf16 else 2
    logits = 8 * b * s * shape.vocab
    gather = 4 * shape.layer_params if stage == 3 else 0
    parts = [weights, gradients, optimizer, activations, logits, gather, CUDA_OVERHEAD_BYTES]
    g = [round(x / GIB, 2) for x in parts]
    return MemoryEstimate(p, t, *g, total_gib=round(sum(parts) / GIB, 2))


@dataclass
class LaunchPlan:
    command: list[str]
    world_size: int
    num_machines: int
    gpus_per_machine: int
    per_device_batch_size: int
    grad_accum: int
    effective_batch_size: int
    memory: MemoryEstimate | None
    deepspeed: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def command_line(self) -> str:
        return shlex.join(self.command)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["command_line"] = self.command_line
        return out


def accelerate_config_path(stage: str | None) -> Path | None:
    return CONFIG_DIR / f"accelerate_{stage}.yaml" if stage else None


def plan_launch(recipe: TrainRecipe, train_args: Sequence[str], *, model_ref: str, lora: bool, gpus_per_machine: int,
                num_machines: int = 1, machine_rank: int = 0, main_process_ip: str | None = None,
                main_process_port: int = 29500) -> LaunchPlan:
    """The command that runs ``python -m aligntax.train <train_args>`` on every GPU of every machine."""
    if num_machines < 1 or gpus_per_machine < 1:
        raise InputError("--gpus and --num-machines must be >= 1")
    if num_machines > 1 and not main_process_ip:
        raise InputError("multi-node training needs --main-process-ip (the rank-0 machine's address)")
    world = gpus_per_machine * num_machines
    notes = list(recipe.notes)
    if recipe.deepspeed is None and world == 1:
        command = ["python", "-m", "aligntax.train", *train_args]
    else:
        command = ["accelerate", "launch"]
        if recipe.deepspeed:
            command += ["--config_file", str(accelerate_config_path(recipe.deepspeed)),
                        "--deepspeed_config_file", str(CONFIG_DIR / f"ds_{recipe.deepspeed}.json")]
        else:
            command += ["--multi_gpu"]
        command += ["--num_processes", str(world), "--num_machines", str(num_machines)]
        if num_machines > 1:
            command += ["--machine_rank", str(machine_rank), "--main_process_ip", main_process_ip,
                        "--main_process_port", str(main_process_port)]
        command += ["-m", "aligntax.train", *train_args]
    effective = recipe.effective_batch_for(world)
    if effective != recipe.effective_batch_size:
        notes.append(f"effective batch {effective} != requested {recipe.effective_batch_size}: "
                     f"{recipe.effective_batch_size} is not divisible by per-device batch x world size")
    try:
        memory = estimate_memory(model_shape(model_ref), recipe, lora=lora, world_size=world)
    except InputError as exc:
        memory = None
        notes.append(f"no memory estimate: {exc}")
    return LaunchPlan(command, world, num_machines, gpus_per_machine, recipe.per_device_batch_size,
                      recipe.grad_accum_for(world), effective, memory, recipe.deepspeed, notes)
