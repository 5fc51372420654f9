"""``aligntax clean``: shape a dataset by a declarative policy (preset name or YAML file)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aligntax.cli import ENGINE_OPTION, RAY_ADDRESS_OPTION, app, engine_from_options


@app.command()
def clean(
    inputs: List[str] = typer.Argument(..., help="Input files, globs, directories or dataset ids."),
    policy: str = typer.Option(..., "--policy", "-p",
                               help="A preset (poison-of-alignment, unfiltered, safety-preserving, decontaminate) "
                                    "or a policy YAML file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (kept.*, rejected.jsonl, manifest.json)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format (default: auto-detect)."),
    on_error: str = typer.Option("quarantine", "--on-error", help="quarantine | skip | fail for malformed rows."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Read at most this many rows."),
    samples: int = typer.Option(10, "--sample-rewrites", help="Rewrites per rewriter kept in the manifest."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    engine: str = ENGINE_OPTION,
    ray_address: Optional[str] = RAY_ADDRESS_OPTION,
) -> None:
    """Drop, keep and rewrite rows by ordered policy rules; nothing is lost (see rejected.jsonl)."""
    from rich.console import Console
    from rich.table import Table

    from aligntax.shape import run_clean

    result = run_clean(inputs, policy, out, format=format, on_error=on_error, limit=limit,
                       sample_rewrites=samples, progress=progress,
                       engine=engine_from_options(engine, ray_address).clean_engine())
    manifest = result.manifest
    counts = manifest["counts"]
    console = Console()
    table = Table(title=f"policy {manifest['policy']['name']} ({manifest['policy']['sha256'][:12]})")
    table.add_column("rule")
    table.add_column("action")
    table.add_column("rows", justify="right")
    for row in manifest["per_rule"]:
        table.add_row(row["rule"], row["action"], str(row["rows"]))
    for name, n in manifest["rewrites"].items():
        table.add_row(name, "rewrite", str(n))
    console.print(table)
    seconds = manifest["timing"]["seconds"]
    console.print(f"read {counts['read']}  kept {counts['kept']}  rejected {counts['rejected']}  "
                  f"rewritten {counts['rewritten']}  in {seconds:.1f}s -> {result.out_dir}")
