"""``aligntax train``: supervised fine-tuning on a data variant (TRL SFTTrainer, full or LoRA).

    from aligntax.train import train
    card = train("smollm2-135m-instruct", ["clean.jsonl"], "runs/clean", preset="cpu-mini", seed=0)

torch/transformers/trl/peft load only when training or a trainer is built; presets, templates,
run cards and launch plans (``--dry-run``) import nothing heavy. See docs/training.md.
"""

from aligntax.train.launch import LaunchPlan, MemoryEstimate, estimate_memory, plan_launch
from aligntax.train.presets import PRESETS, TrainRecipe, resolve_recipe
from aligntax.train.runcard import RunCard, read_loss_log
from aligntax.train.template import TRAINING_TEMPLATES, resolve_training_template
from aligntax.train.trainer import prepare, train

__all__ = [
    "PRESETS",
    "TRAINING_TEMPLATES",
    "LaunchPlan",
    "MemoryEstimate",
    "RunCard",
    "TrainRecipe",
    "estimate_memory",
    "plan_launch",
    "prepare",
    "read_loss_log",
    "resolve_recipe",
    "resolve_training_template",
    "train",
]
