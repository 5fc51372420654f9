"""Supervised fine-tuning with TRL's ``SFTTrainer`` (full or LoRA via PEFT), loss on assistant turns.

    card = train("smollm2-135m-instruct", ["clean.jsonl"], "runs/clean", preset="cpu-mini", seed=0)

writes DIR/checkpoint-*/ (resumable), DIR/loss.jsonl, DIR/model/ (a full HF model directory, or a
PEFT adapter whose ``base_model_name_or_path`` resolves with ``aligntax.models.resolve_model``) and
DIR/run_card.json. ``prepare`` builds the trainer without training (tests inspect its labels).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from aligntax.errors import InputError
from aligntax.train.data import DataManifest, DataStats, build_dataset, data_manifest
from aligntax.train.presets import TrainRecipe, resolve_recipe
from aligntax.train.runcard import LOSS_LOG, RunCard, read_loss_log, truncate_loss_log
from aligntax.train.template import TrainingTemplate, resolve_training_template

log = logging.getLogger("aligntax.train")
MODEL_SUBDIR = "model"


@dataclass
class TrainingJob:
    trainer: Any  # trl.SFTTrainer
    recipe: TrainRecipe
    spec: Any  # aligntax.models.ModelSpec
    model_hash: str
    manifest: DataManifest
    stats: DataStats
    template: TrainingTemplate | None
    world_size: int
    out_dir: Path
    preset: str
    lora: bool
    seed: int
    data_paths: list[str]


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def deepspeed_config_path(stage: str) -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "train" / f"ds_{stage}.json"


def _lora_config(recipe: TrainRecipe):
    from peft import LoraConfig

    targets = recipe.lora_target_modules
    return LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      target_modules=list(targets) if isinstance(targets, tuple) else targets,
                      bias="none", task_type="CAUSAL_LM")


def _sft_config(recipe: TrainRecipe, out: Path, *, lora: bool, seed: int, world: int, spec, progress: bool):
    from trl import SFTConfig

    deepspeed = None
    if recipe.deepspeed:
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            raise InputError(f"the recipe uses DeepSpeed {recipe.deepspeed} but deepspeed is not installed "
                             "(pip install deepspeed, on a GPU machine), or pass --deepspeed none")
        deepspeed = str(deepspeed_config_path(recipe.deepspeed))
    import torch

    # Under DeepSpeed bf16 the engine keeps fp32 master weights itself; otherwise load fp32 and autocast.
    dtype = "bfloat16" if recipe.bf16 and deepspeed else "float32"
    init_kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": spec.trust_remote_code}
    if spec.revision:
        init_kwargs["revision"] = spec.revision
    if spec.gguf_file:
        init_kwargs["gguf_file"] = spec.gguf_file
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    checkpointing_field = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    checkpointing = {checkpointing_field: recipe.gradient_checkpointing,
                     f"{checkpointing_field}_kwargs": {"use_reentrant": False} if recipe.gradient_checkpointing else None}
    sampler = ({"train_sampling_strategy": recipe.sampler} if "train_sampling_strategy" in names
               else {"group_by_length": recipe.sampler == "group_by_length"})
    return SFTConfig(
        output_dir=str(out),
        **sampler,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps if recipe.max_steps > 0 else -1,
        per_device_train_batch_size=recipe.per_device_batch_size,
        gradient_accumulation_steps=recipe.grad_accum_for(world),
        learning_rate=recipe.learning_rate(lora),
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        max_length=recipe.max_seq_len,
        bf16=recipe.bf16 and torch.cuda.is_available(),
        **checkpointing,
        deepspeed=deepspeed,
        assistant_only_loss=recipe.assistant_only_loss,
        packing=False,
        logging_steps=recipe.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        include_num_input_tokens_seen="non_padding",
        seed=seed,
        data_seed=seed,
        report_to="none",
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        model_init_kwargs=init_kwargs,
    )


def _loss_callback(out: Path):
    from transformers import TrainerCallback

    class LossLog(TrainerCallback):
        """Appends every logged training loss to DIR/loss.jsonl (main process only)."""

        def __init__(self) -> None:
            self.start = time.monotonic()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            row = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), "loss": logs["loss"],
                   "lr": logs.get("learning_rate"), "grad_norm": logs.get("grad_norm"),
                   "tokens": state.num_input_tokens_seen, "elapsed_s": round(time.monotonic() - self.start, 2)}
            with (out / LOSS_LOG).open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

    return LossLog()


def prepare(model_ref: str, data_paths: Sequence[str | Path], out_dir: str | Path, preset: str = "cpu-mini",
            lora: bool = False, seed: int = 0, *, chat_template: str | None = None, data_format: str | None = None,
            limit: int | None = None, callbacks: Sequence[Any] = (), progress: bool = True,
            trust_remote_code: bool = False, **overrides: Any) -> TrainingJob:
    """Resolve recipe, model, data and template, and build the ``SFTTrainer`` (nothing is trained)."""
    from transformers import set_seed
    from trl import SFTTrainer

    from aligntax.models import load_model, load_tokenizer, model_hash, resolve_model

    recipe = resolve_recipe(preset, lora=lora, **overrides)
    for note in recipe.notes:
        log.warning(note)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(p) for p in data_paths]
    spec = resolve_model(model_ref, trust_remote_code=trust_remote_code)
    manifest = data_manifest(paths)
    dataset, stats = build_dataset(paths, format=data_format, limit=limit, manifest=manifest)
    tokenizer = load_tokenizer(spec)
    template = None
    if recipe.assistant_only_loss:
        template = resolve_training_template(tokenizer, chat_template)
        tokenizer.chat_template = template.template
    world = world_size()
    set_seed(seed)
    args = _sft_config(recipe, out, lora=lora, seed=seed, world=world, spec=spec, progress=progress)
    if spec.kind == "peft":  # continue from a fine-tuned adapter: train its merged weights
        model, _ = load_model(spec, device="cpu")
        model.train()
    else:
        model = spec.path
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=_lora_config(recipe) if lora else None,
                         callbacks=[_loss_callback(out), *callbacks])
    return TrainingJob(trainer, recipe, spec, model_hash(spec), manifest, stats, template, world, out, preset, lora,
                       seed, paths)


def train(model_ref: str, data_paths: Sequence[str | Path], out_dir: str | Path, preset: str = "cpu-mini",
          lora: bool = False, seed: int = 0, *, resume: bool = False, **kwargs: Any) -> RunCard:
    """Fine-tune ``model_ref`` on ``data_paths``; returns the run card also written to DIR/run_card.json.

    ``kwargs`` are ``prepare``'s options (chat_template, data_format, limit, callbacks, progress,
    trust_remote_code) and recipe overrides (lr, epochs, max_steps, batch_size, grad_accum, max_seq_len,
    lora_r, ..., see ``aligntax.train.presets``). ``resume`` continues from DIR's latest checkpoint-*.
    """
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(out_dir)
    checkpoint = get_last_checkpoint(str(out)) if resume and out.is_dir() else None
    if resume and checkpoint is None:
        log.warning("--resume: no checkpoint-* in %s, training from the start", out)
    job = prepare(model_ref, data_paths, out_dir, preset, lora, seed, **kwargs)
    trainer = job.trainer
    if trainer.is_world_process_zero():
        if checkpoint:
            truncate_loss_log(out, int(Path(checkpoint).name.split("-")[-1]))
        else:
            (out / LOSS_LOG).unlink(missing_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.monotonic() - t0
    model_dir = out / MODEL_SUBDIR
    trainer.save_model(str(model_dir))  # gathers ZeRO-3 shards; saves only the adapter for PEFT
    if not trainer.is_world_process_zero():
        return _run_card(job, result, started, wall, checkpoint)
    _save_tokenizer_and_base(job, model_dir)
    card = _run_card(job, result, started, wall, checkpoint)
    card.write(out)
    return card


def _save_tokenizer_and_base(job: TrainingJob, model_dir: Path) -> None:
    tokenizer = job.trainer.processing_class
    if job.template is not None:
        # Ship the model's own (inference) template; base models that had none keep the training one,
        # whose {% generation %} markers render nothing at inference.
        tokenizer.chat_template = job.template.original or job.template.template
    tokenizer.save_pretrained(str(model_dir))
    (model_dir / "training_args.bin").unlink(missing_ok=True)  # a pickle; the run card records the arguments
    adapter_cfg = model_dir / "adapter_config.json"
    if job.lora and adapter_cfg.is_file():
        cfg = json.loads(adapter_cfg.read_text(encoding="utf-8"))
        # Embedded names and Hub ids stay portable; local bases are recorded by absolute path.
        cfg["base_model_name_or_path"] = job.spec.ref if job.spec.kind in ("embedded", "hub") else job.spec.path
        adapter_cfg.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")


def _assistant_tokens(dataset) -> int:
    if "labels" in dataset.column_names:
        return sum(sum(1 for t in row if t != -100) for row in dataset["labels"])
    return sum(len(row) for row in dataset["input_ids"])


def _run_card(job: TrainingJob, result, started: str, wall: float, checkpoint: str | None) -> RunCard:
    state = job.trainer.state
    recipe, world = job.recipe, job.world_size
    losses = read_loss_log(job.out_dir)
    hyper = recipe.to_dict() | {
        "world_size": world,
        "grad_accum": recipe.grad_accum_for(world),
        "effective_batch_size": recipe.effective_batch_for(world),
        "learning_rate": recipe.learning_rate(job.lora),
    }
    lora_cfg = None
    if job.lora:
        lora_cfg = {"r": recipe.lora_r, "alpha": recipe.lora_alpha, "dropout": recipe.lora_dropout,
                    "target_modules": hyper["lora_target_modules"]}
    n_examples = len(job.trainer.train_dataset)
    return RunCard(
        model={**job.spec.describe(), "hash": job.model_hash},
        data={"paths": job.data_paths, "manifest": job.manifest.to_dict(), "stats": job.stats.to_dict(),
              "examples": n_examples},
        preset=job.preset, lora=lora_cfg, hyperparameters=hyper, seed=job.seed,
        chat_template=job.template.source if job.template else "none (loss on full sequences)",
        started_at=started, wall_time_s=round(wall, 2), global_step=state.global_step, max_steps=state.max_steps,
        epochs_completed=round(state.epoch or 0.0, 4),
        final_loss=losses[-1]["loss"] if losses else None,
        mean_train_loss=getattr(result, "training_loss", None),
        examples_trained=round((state.epoch or 0.0) * n_examples),
        tokens_trained=int(state.num_input_tokens_seen or 0),
        assistant_tokens_per_epoch=_assistant_tokens(job.trainer.train_dataset),
        resumed_from=checkpoint, completed=state.global_step >= state.max_steps,
        outputs={"model": str(job.out_dir / MODEL_SUBDIR), "loss_log": str(job.out_dir / LOSS_LOG)},
        notes=list(recipe.notes),
    )
