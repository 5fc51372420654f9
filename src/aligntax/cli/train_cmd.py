"""``aligntax train``: fine-tune a model on SFT data (TRL SFTTrainer; full or LoRA; presets paper | cpu-mini)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer

from aligntax.cli import app


def _forwarded_args(values: dict) -> list[str]:
    """The arguments each launched worker gets: the training options, not the launcher's own."""
    out: list[str] = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, list):
            for v in value:
                out += [flag, str(v)]
        else:
            out += [flag, str(value)]
    return [*out, "--no-launch"]


def _visible_gpus() -> tuple[int, bool]:
    """(GPU count, detected?) - 8 is assumed for planning when none is visible (the paper's node)."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.device_count(), True
    except ImportError:
        pass
    return 8, False


@app.command("train")
def train_command(
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="Base model: embedded name, local dir, "
                              ".gguf, PEFT adapter dir or Hub id."),
    data: list[Path] = typer.Option(..., "--data", "-d", help="Training data files/dirs (any supported format); repeat."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: checkpoints, loss.jsonl, model/, run_card.json."),
    preset: str = typer.Option("cpu-mini", "--preset", help="paper | cpu-mini (see docs/training.md)."),
    lora: bool = typer.Option(False, "--lora/--full", help="Train a LoRA adapter instead of all weights."),
    seed: int = typer.Option(0, "--seed"),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint-* in --out."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the launch command, batch geometry and per-GPU "
                                 "memory estimate; load nothing."),
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after N optimizer steps (overrides --epochs)."),
    epochs: float = typer.Option(None, "--epochs"),
    lr: float = typer.Option(None, "--lr", help="Learning rate (full fine-tuning)."),
    lora_lr: float = typer.Option(None, "--lora-lr", help="Learning rate with --lora."),
    batch_size: int = typer.Option(None, "--batch-size", help="Per-device batch size."),
    grad_accum: int = typer.Option(None, "--grad-accum", help="Gradient accumulation (default: from the effective batch)."),
    effective_batch: int = typer.Option(None, "--effective-batch", help="Target per-device x accum x world size."),
    max_seq_len: int = typer.Option(None, "--max-seq-len", help="Truncate tokenized conversations to N tokens."),
    warmup_ratio: float = typer.Option(None, "--warmup-ratio"),
    scheduler: str = typer.Option(None, "--scheduler", help="cosine | linear | constant_with_warmup | ..."),
    save_steps: int = typer.Option(None, "--save-steps", help="Checkpoint every N steps."),
    deepspeed: str = typer.Option(None, "--deepspeed", help="none | zero2 | zero3 (default: the preset's)."),
    lora_r: int = typer.Option(None, "--lora-r"),
    lora_alpha: int = typer.Option(None, "--lora-alpha"),
    lora_dropout: float = typer.Option(None, "--lora-dropout"),
    lora_targets: str = typer.Option(None, "--lora-targets", help="Comma list of module names, or all-linear."),
    chat_template: str = typer.Option(None, "--chat-template", help="Training template: smollm2 | chatml | plain | a "
                                      ".jinja file with {% generation %} markers (default: from the tokenizer)."),
    full_sequence_loss: bool = typer.Option(False, "--no-assistant-only-loss", help="Train on every token, not just "
                                            "assistant turns."),
    data_format: str = typer.Option(None, "--format", help="Input format (default: auto-detect per file)."),
    limit: int = typer.Option(None, "--limit", help="Train on the first N trainable conversations."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code"),
    gpus: int = typer.Option(None, "--gpus", help="GPUs per machine (default: all visible)."),
    num_machines: int = typer.Option(1, "--num-machines"),
    machine_rank: int = typer.Option(0, "--machine-rank"),
    main_process_ip: str = typer.Option(None, "--main-process-ip", help="Rank-0 machine address (multi-node)."),
    main_process_port: int = typer.Option(29500, "--main-process-port"),
    no_launch: bool = typer.Option(False, "--no-launch", help="Train in this process even if the recipe asks for "
                                   "DeepSpeed (set by the launcher for its workers)."),
) -> None:
    """Fine-tune MODEL on DATA with loss on assistant turns; writes OUT/model and OUT/run_card.json.

    DeepSpeed recipes (the paper preset) re-launch themselves with `accelerate launch` on every GPU;
    --dry-run prints that command without running anything."""
    from rich.console import Console

    from aligntax.train.launch import plan_launch
    from aligntax.train.presets import resolve_recipe

    overrides = {"max_steps": max_steps, "epochs": epochs, "lr": lr, "lora_lr": lora_lr, "batch_size": batch_size,
                 "grad_accum": grad_accum, "effective_batch": effective_batch, "max_seq_len": max_seq_len,
                 "warmup_ratio": warmup_ratio, "scheduler": scheduler, "save_steps": save_steps, "deepspeed": deepspeed,
                 "lora_r": lora_r, "lora_alpha": lora_alpha, "lora_dropout": lora_dropout,
                 "lora_targets": _targets(lora_targets),
                 "assistant_only_loss": False if full_sequence_loss else None}
    recipe = resolve_recipe(preset, lora=lora, **overrides)
    console = Console(stderr=True)
    for note in recipe.notes:
        console.print(f"[yellow]note:[/] {note}")
    launched = "LOCAL_RANK" in os.environ or no_launch
    needs_launcher = recipe.deepspeed is not None or (gpus or 1) * num_machines > 1
    if dry_run or (needs_launcher and not launched):
        detected = True
        if gpus is None:
            gpus, detected = _visible_gpus() if needs_launcher or dry_run else (1, True)
        forwarded = _forwarded_args({
            "model": model, "data": [str(p) for p in data], "out": str(out), "preset": preset, "lora": lora, "seed": seed,
            "resume": resume, "max_steps": max_steps, "epochs": epochs, "lr": lr, "lora_lr": lora_lr,
            "batch_size": batch_size, "grad_accum": grad_accum, "effective_batch": effective_batch,
            "max_seq_len": max_seq_len, "warmup_ratio": warmup_ratio, "scheduler": scheduler, "save_steps": save_steps,
            "deepspeed": deepspeed, "lora_r": lora_r, "lora_alpha": lora_alpha, "lora_dropout": lora_dropout,
            "lora_targets": lora_targets, "chat_template": chat_template, "no_assistant_only_loss": full_sequence_loss,
            "format": data_format, "limit": limit, "trust_remote_code": trust_remote_code})
        plan = plan_launch(recipe, forwarded, model_ref=model, lora=lora, gpus_per_machine=gpus,
                           num_machines=num_machines, machine_rank=machine_rank, main_process_ip=main_process_ip,
                           main_process_port=main_process_port)
        _print_plan(plan, preset, detected)
        if dry_run:
            return
        raise typer.Exit(subprocess.call(plan.command))
    from aligntax.train.trainer import train

    card = train(model, [str(p) for p in data], out, preset=preset, lora=lora, seed=seed, resume=resume,
                 chat_template=chat_template, data_format=data_format, limit=limit, trust_remote_code=trust_remote_code,
                 **overrides)
    if card is not None and card.global_step:
        console.print(f"[green]trained[/] {card.global_step} steps in {card.wall_time_s:.0f}s; final loss "
                      f"{card.final_loss:.4f}; model: {card.outputs['model']}; run card: {out / 'run_card.json'}")


def _targets(value: str | None) -> list[str] | str | None:
    if value is None or value == "all-linear":
        return value
    return [t.strip() for t in value.split(",") if t.strip()]


def _print_plan(plan, preset: str, detected: bool) -> None:
    lines = [
        f"preset: {preset}   deepspeed: {plan.deepspeed or 'none'}",
        f"world size: {plan.world_size} ({plan.num_machines} machine(s) x {plan.gpus_per_machine} GPU(s)"
        + ("" if detected else ", assumed: no GPU visible") + ")",
        f"effective batch: {plan.effective_batch_size} = {plan.per_device_batch_size} per device x "
        f"{plan.grad_accum} grad accum x {plan.world_size} processes",
    ]
    m = plan.memory
    if m is not None:
        lines.append(f"per-GPU memory estimate: {m.total_gib:.1f} GiB  (params {m.params / 1e9:.2f}B, trainable "
                     f"{m.trainable_params / 1e9:.3f}B; weights {m.weights_gib} + grads {m.gradients_gib} + optimizer "
                     f"{m.optimizer_gib} + activations {m.activations_gib} + logits {m.logits_gib} + ZeRO-3 gather "
                     f"{m.gather_gib} + overhead {m.overhead_gib} GiB)")
    lines += [f"note: {n}" for n in plan.notes]
    lines.append("launch command" + (" (run on every machine, with its --machine_rank)" if plan.num_machines > 1 else "")
                 + ":")
    typer.echo("\n".join(lines))
    typer.echo(plan.command_line)
