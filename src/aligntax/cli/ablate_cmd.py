"""``aligntax ablate`` (data -> train -> eval per variant x seed, cached) and ``aligntax report``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aligntax.cli import app


@app.command()
def ablate(
    experiment: Path = typer.Argument(..., help="Experiment YAML (see docs/ablate.md and experiments/)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: cache/, ablation.json, results.csv, report.html."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Run only these variants (repeatable; 'base' = the untrained baseline)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print which steps would run or are cached; run nothing."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write results.csv and report.html at the end."),
) -> None:
    """Train the base model on every data variant and seed, evaluate each, report deltas vs the reference.

    Every step is content-addressed (input bytes + config + upstream steps + aligntax version):
    an interrupted run resumes, an unchanged re-run does nothing."""
    from rich.console import Console

    from aligntax.ablate import build_report, load_experiment, run_experiment

    console = Console()
    exp = load_experiment(experiment)
    unknown = sorted(set(only or []) - {v.name for v in exp.variants} - {"base"})
    if unknown:
        raise typer.BadParameter(f"unknown variant(s) {', '.join(unknown)}; "
                                 f"variants: {', '.join(v.name for v in exp.variants)}", param_hint="--only")
    console.print(f"[bold]{exp.name}[/]: {len(exp.variants)} variants x {len(exp.seeds)} seeds"
                  f"{' + base' if exp.baseline else ''} on {exp.base_model}")
    result = run_experiment(exp, out, dry_run=dry_run, only=only, echo=console.print)
    console.print(f"{len(result.executed)} step(s) {'to run' if dry_run else 'run'}, {len(result.reused)} cached")
    if report and not dry_run:
        from aligntax.errors import InputError

        try:
            rep = build_report([out])
        except InputError as exc:  # e.g. --only left the reference variant unevaluated so far
            console.print(f"[yellow]no report yet:[/] {exc}")
            return
        console.print(f"wrote {rep.csv} and {rep.html}")
        _print_table(console, rep)


@app.command()
def report(
    dirs: List[Path] = typer.Argument(..., help="Ablation directories (several merge into one report)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write results.csv and report.html (default: the first DIR)."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Reference variant (default: the experiment's)."),
    iterations: Optional[int] = typer.Option(None, "--iterations", help="Bootstrap iterations (default: the experiment's)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Bootstrap seed (default: the experiment's)."),
) -> None:
    """Rebuild results.csv and report.html from finished ablation directories."""
    from rich.console import Console

    from aligntax.ablate import build_report

    console = Console()
    rep = build_report(dirs, out, reference=reference, iterations=iterations, seed=seed)
    console.print(f"wrote {rep.csv} and {rep.html}")
    _print_table(console, rep)


def _print_table(console, rep) -> None:
    from rich.table import Table

    headline = [a for a in rep.rows if a.headline]
    variants = list(dict.fromkeys(a.variant for a in headline))
    table = Table(title=f"headline scores (delta vs {rep.reference})")
    table.add_column("benchmark")
    for v in variants:
        table.add_column(v, justify="right")
    for key in dict.fromkeys((a.task, a.metric) for a in headline):
        cells = {a.variant: a for a in headline if (a.task, a.metric) == key}
        row = [f"{key[0]}:{key[1]}" if key[0] == "ALL" else key[0]]
        for v in variants:
            a = cells.get(v)
            if a is None:
                row.append("")
                continue
            text = f"{a.score.value:.3f}"
            if a.rel_delta is not None and a.rel_delta.value == a.rel_delta.value:
                text += f" ({a.rel_delta.value * 100:+.1f}%)"
            row.append(text)
        table.add_row(*row)
    console.print(table)
