"""``aligntax audit``: annotate every conversation; write annotations.parquet, summary.json, report.html."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aligntax.cli import ENGINE_OPTION, RAY_ADDRESS_OPTION, app, engine_from_options

BUNDLED_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "sft_sample.jsonl"


@app.command()
def audit(
    inputs: Optional[List[Path]] = typer.Argument(None, help="Input files, directories or globs (any supported format). "
                                                              "Default: the bundled real SFT sample."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: annotations.parquet, summary.json, report.html."),
    detectors: Optional[str] = typer.Option(None, "--detectors", "-d",
                                            help="Comma-separated detector names or module:Class (default: the built-in set; "
                                                 "'default,x' adds x)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Audit only the first N rows."),
    sample: int = typer.Option(8, "--sample", min=0, help="Examples per tag shown in the report."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: CPU count; 1 = inline)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format (default: auto-detect per file)."),
    on_error: str = typer.Option("quarantine", "--on-error",
                                 help="Malformed rows: quarantine (a 'malformed' row in the annotations), skip, or fail."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html."),
    engine: str = ENGINE_OPTION,
    ray_address: Optional[str] = RAY_ADDRESS_OPTION,
) -> None:
    """Detect refusals, moralising, disclaimers, identity claims, role-play, structure and broken
    answers in SFT data. One annotations row per input row, in input order."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from aligntax.audit import default_jobs
    from aligntax.detect.defaults import parse_detector_names

    if not inputs:
        inputs = [BUNDLED_SAMPLE]
    if on_error not in ("quarantine", "skip", "fail"):
        raise typer.BadParameter("must be quarantine, skip or fail", param_hint="--on-error")
    try:
        names = parse_detector_names(detectors)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--detectors") from None
    console = Console(stderr=True)
    jobs = jobs or default_jobs()
    runner = engine_from_options(engine, ray_address)
    columns = [SpinnerColumn(), TextColumn("[bold]audit"), MofNCompleteColumn() if limit else TextColumn("{task.completed} rows"),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn()]
    if limit:
        columns.insert(2, BarColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("audit", total=limit, rate="")

        def advance(n: int) -> None:
            progress.advance(task, n)
            elapsed = progress.tasks[0].elapsed or 0
            if elapsed > 0:
                progress.update(task, rate=f"{progress.tasks[0].completed / elapsed:,.0f} rows/s")

        result = runner.audit([str(p) for p in inputs], out, format=format, on_error=on_error, limit=limit,
                           detectors=names, jobs=jobs, sample=sample, report=report, on_progress=advance)
    s = result.summary
    table = Table(title=f"{s['conversations']:,} conversations, {s['malformed']['count']:,} malformed "
                        f"({s['timing']['seconds']:.1f}s, {s['timing']['rows_per_s']:,.0f} rows/s)")
    table.add_column("tag")
    table.add_column("conversations", justify="right")
    table.add_column("rate", justify="right")
    for tag, v in s["tags"].items():
        table.add_row(tag, f"{v['count']:,}", f"{100 * v['rate']:.2f}%")
    Console().print(table)
    typer.echo(f"annotations: {result.annotations}")
    typer.echo(f"summary:     {result.summary_path}")
    if result.report is not None:
        typer.echo(f"report:      {result.report}")
