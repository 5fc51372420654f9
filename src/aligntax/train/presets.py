"""Training recipes: named presets plus per-run overrides.

``paper`` replicates "The Poison of Alignment" (arXiv 2308.13449): Llama-2-7B, 1 epoch, effective
batch 512, lr 1e-4, bf16, DeepSpeed ZeRO-3. The paper does not state the schedule; we use the
Alpaca/Vicuna recipe it builds on (cosine decay, 3% linear warmup, no weight decay).
``cpu-mini`` trains the 135M default model on a few hundred conversations in minutes on 2 CPU cores.

The effective batch is a recipe property: gradient accumulation is derived from it and the world
size (``per_device_batch_size x grad_accum x world_size``) unless ``grad_accum`` is set explicitly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from aligntax.errors import PolicyError

# Llama-family projection names; "all-linear" (PEFT) is the catch-all for other architectures.
LLAMA_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEEPSPEED_STAGES = ("zero2", "zero3")


@dataclass(frozen=True)
class TrainRecipe:
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    effective_batch_size: int = 8
    per_device_batch_size: int = 8
    grad_accum: int | None = None  # None: derived from effective_batch_size and world size
    lr: float = 1e-4
    lora_lr: float | None = None  # LoRA learning rate (None: same as lr)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_seq_len: int = 512
    bf16: bool = False
    gradient_checkpointing: bool = False
    deepspeed: str | None = None  # None | "zero2" | "zero3"
    assistant_only_loss: bool = True
    sampler: str = "random"  # "group_by_length" batches similar lengths: far less padding (CPU runs)
    logging_steps: int = 1
    save_steps: int = 50
    save_total_limit: int | None = 2
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] | str = LLAMA_LORA_TARGETS
    notes: tuple[str, ...] = field(default=(), compare=False)

    def grad_accum_for(self, world_size: int) -> int:
        if self.grad_accum is not None:
            return self.grad_accum
        return max(1, math.ceil(self.effective_batch_size / (self.per_device_batch_size * max(1, world_size))))

    def effective_batch_for(self, world_size: int) -> int:
        return self.per_device_batch_size * self.grad_accum_for(world_size) * max(1, world_size)

    def learning_rate(self, lora: bool) -> float:
        return self.lora_lr if lora and self.lora_lr is not None else self.lr

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["lora_target_modules"] = (list(self.lora_target_modules) if isinstance(self.lora_target_modules, tuple)
                                      else self.lora_target_modules)
        out["notes"] = list(self.notes)
        return out


PRESETS: dict[str, TrainRecipe] = {
    "paper": TrainRecipe(
        epochs=1.0, effective_batch_size=512, per_device_batch_size=4, lr=1e-4, lora_lr=1e-4,
        lr_scheduler="cosine", warmup_ratio=0.03, weight_decay=0.0, max_seq_len=2048, bf16=True,
        gradient_checkpointing=True, deepspeed="zero3", logging_steps=1, save_steps=50, save_total_limit=2,
        lora_r=64, lora_alpha=16, lora_dropout=0.05,
    ),
    # Measured on the embedded SmolLM2-135M, 2 CPU cores: see docs/training.md.
    "cpu-mini": TrainRecipe(
        epochs=1.0, effective_batch_size=8, per_device_batch_size=8, lr=2e-5, lora_lr=2e-4,
        lr_scheduler="cosine", warmup_ratio=0.05, weight_decay=0.0, max_seq_len=256, bf16=False,
        gradient_checkpointing=False, deepspeed=None, sampler="group_by_length", logging_steps=1, save_steps=25, save_total_limit=2,
        lora_r=16, lora_alpha=32, lora_dropout=0.05,
    ),
}

# CLI/API override names -> recipe fields (the API also accepts the field names themselves).
OVERRIDE_ALIASES = {"batch_size": "per_device_batch_size", "effective_batch": "effective_batch_size",
                    "seq_len": "max_seq_len", "lora_targets": "lora_target_modules", "scheduler": "lr_scheduler"}


def resolve_recipe(preset: str = "cpu-mini", *, lora: bool = False, **overrides: Any) -> TrainRecipe:
    """The preset with ``overrides`` applied (``None`` values are ignored), validated."""
    if preset not in PRESETS:
        raise PolicyError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    recipe = PRESETS[preset]
    fields = {f.name for f in dataclasses.fields(TrainRecipe)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        name = OVERRIDE_ALIASES.get(key, key)
        if name not in fields or name == "notes":
            raise PolicyError(f"unknown training override {key!r}; known: {', '.join(sorted(fields - {'notes'}))}")
        if name == "lora_target_modules" and isinstance(value, (list, tuple)):
            value = tuple(value)
        if name == "deepspeed" and value in ("none", "", False):
            value = None
        changes[name] = value
    if "per_device_batch_size" in changes and "effective_batch_size" not in changes and "grad_accum" not in changes \
            and recipe.effective_batch_size == recipe.per_device_batch_size:
        changes["effective_batch_size"] = changes["per_device_batch_size"]  # a no-accumulation preset stays so
    recipe = dataclasses.replace(recipe, **changes)
    notes = list(recipe.notes)
    if lora and recipe.deepspeed == "zero3":
        # Saving LoRA adapters from ZeRO-3 shards is a known upstream bug (docs/training.md).
        recipe = dataclasses.replace(recipe, deepspeed="zero2")
        notes.append("LoRA + ZeRO-3 adapter saving is broken upstream; switched to ZeRO-2 (docs/training.md)")
    _validate(recipe)
    return dataclasses.replace(recipe, notes=tuple(notes))


def _validate(r: TrainRecipe) -> None:
    problems = []
    if r.deepspeed not in (None, *DEEPSPEED_STAGES):
        problems.append(f"deepspeed must be one of none, {', '.join(DEEPSPEED_STAGES)}")
    for name in ("effective_batch_size", "per_device_batch_size", "max_seq_len", "logging_steps", "save_steps", "lora_r"):
        if getattr(r, name) < 1:
            problems.append(f"{name} must be >= 1")
    if r.grad_accum is not None and r.grad_accum < 1:
        problems.append("grad_accum must be >= 1")
    if r.lr <= 0 or (r.lora_lr is not None and r.lora_lr <= 0):
        problems.append("learning rates must be > 0")
    if r.max_steps <= 0 and r.epochs <= 0:
        problems.append("set epochs > 0 or max_steps > 0")
    if r.sampler not in ("random", "sequential", "group_by_length"):
        problems.append("sampler must be random, sequential or group_by_length")
    if not 0 <= r.warmup_ratio < 1:
        problems.append("warmup_ratio must be in [0, 1)")
    if problems:
        raise PolicyError("invalid training recipe: " + "; ".join(problems))
