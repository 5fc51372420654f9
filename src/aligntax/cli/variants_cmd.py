"""``aligntax variants`` (dose-response datasets) and ``aligntax merge`` (concatenate + deduplicate)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aligntax.cli import app


@app.command()
def variants(
    inputs: List[str] = typer.Argument(..., help="Input files, globs or directories."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (dose-<d>.* per dose, manifest.json)."),
    tag: str = typer.Option("aligned", "--tag", help="The tag whose rows the doses count."),
    dose: str = typer.Option("0,0.25,0.5,1", "--dose", help="Fractions of tagged rows kept, comma-separated."),
    size_matched: bool = typer.Option(False, "--size-matched",
                                      help="Give every variant the smallest variant's size, filled with untagged rows."),
    seed: int = typer.Option(0, "--seed", help="Seed of the row selection."),
    detectors: Optional[str] = typer.Option(None, "--detectors", help="Detectors to run (default: the default set)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format (default: auto-detect)."),
    on_error: str = typer.Option("quarantine", "--on-error", help="quarantine | skip | fail for malformed rows."),
) -> None:
    """Datasets that differ only in how many tagged rows they keep (nested, seeded)."""
    from rich.console import Console
    from rich.table import Table

    from aligntax.shape.variants import make_variants

    try:
        manifest = make_variants(inputs, out, tag=tag, doses=dose, size_matched=size_matched, seed=seed,
                                 detectors=detectors, format=format, on_error=on_error)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    table = Table(title=f"{tag}: {manifest['counts']['tagged']} tagged, {manifest['counts']['untagged']} untagged")
    for column in ("variant", "rows", "tagged", "untagged", "sha256"):
        table.add_column(column)
    for v in manifest["variants"]:
        table.add_row(v["name"], str(v["rows"]), str(v["tagged"]), str(v["untagged"]), v["file"]["sha256"][:12])
    Console().print(table)


@app.command()
def merge(
    inputs: List[str] = typer.Argument(..., help="Datasets to concatenate, in order (first occurrence wins)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (merged.*, rejected.jsonl, manifest.json)."),
    near: bool = typer.Option(True, "--near/--exact-only", help="Also drop near duplicates."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format (default: auto-detect)."),
    on_error: str = typer.Option("quarantine", "--on-error", help="quarantine | skip | fail for malformed rows."),
) -> None:
    """Concatenate datasets and remove duplicates across them."""
    from rich.console import Console

    from aligntax.shape.merge import merge as run_merge

    result = run_merge(inputs, out, near=near, format=format, on_error=on_error, progress=True)
    counts = result.counts
    Console().print(f"read {counts['read']}  merged {counts['kept']}  dropped {counts['rejected']} "
                    f"(duplicates and malformed) -> {result.out_dir}")
