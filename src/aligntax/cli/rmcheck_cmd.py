"""``aligntax rm-check``: reward-model / LLM-judge reliability on bundled preference pairs."""

from __future__ import annotations

from pathlib import Path

import typer

from aligntax.cli import app


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@app.command("rm-check")
def rm_check_command(
    rm: str = typer.Option(None, "--rm", help="Sequence-classification reward model: local HF dir or Hub id."),
    judge: str = typer.Option(None, "--judge", help="Generative judge: any model reference (pairwise A/B prompt)."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="Judge behind an OpenAI-compatible endpoint "
                                                                      "(--judge names the served model)."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Env var holding the judge endpoint key."),
    pairs: list[str] = typer.Option(["all"], "--pairs", help="Pair subsets or groups (safety, picky, all); repeat "
                                                             "or comma-separate."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (rm_check.json, scores/)."),
    limit: int = typer.Option(None, "--limit", help="Seeded subset of N pairs per subset."),
    seed: int = typer.Option(0, "--seed"),
    order: str = typer.Option("both", "--order", help="Judge: 'both' orders per pair, or one seeded 'random' order."),
    fallback_format: str = typer.Option("hh", "--fallback-format", help="RM without a chat template: hh | plain."),
    batch_size: int = typer.Option(8, "--batch-size"),
    max_length: int = typer.Option(2048, "--max-length", help="RM: truncate conversations to N tokens."),
    device: str = typer.Option(None, "--device"),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code"),
    iterations: int = typer.Option(2000, "--bootstrap-iterations"),
    list_pairs: bool = typer.Option(False, "--list-pairs", help="List pair subsets with their sizes and exit."),
) -> None:
    """Score preference pairs with a reward model or judge: accuracy per subset, length and position bias."""
    from rich.console import Console

    console = Console()
    if list_pairs:
        from aligntax.integrity.pairs import SUBSETS, build_pairs

        for name in SUBSETS:
            built = build_pairs(name, seed=seed)
            typer.echo(f"{name}\t{len(built)}\t{built[0].kind if built else ''}")
        return
    if bool(rm) == bool(judge):
        raise typer.BadParameter("give exactly one of --rm or --judge")
    from aligntax.integrity.pairs import expand_subsets

    try:
        subsets = expand_subsets(_split(pairs))
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from None
    from aligntax.integrity.rm_check import print_rm_table, run_rm_check

    if rm:
        from aligntax.integrity.reward import SequenceClassifierRM

        scorer = SequenceClassifierRM(rm, device=device, batch_size=batch_size, max_length=max_length,
                                      fallback_format=fallback_format, trust_remote_code=trust_remote_code)
        if scorer.format != "chat_template":
            console.print(f"[yellow]warning[/] {rm} has no chat template: conversations use the {fallback_format!r} "
                          "format; check it matches how the RM was trained (see docs/integrity.md)")
    else:
        from aligntax.integrity.reward import GenerativeJudge
        from aligntax.models.backends import BACKENDS

        if judge_base_url:
            backend = BACKENDS.get("openai")(judge_base_url, judge, api_key_env=api_key_env)
        else:
            backend = BACKENDS.get("transformers").from_ref(judge, device=device, batch_size=batch_size,
                                                            trust_remote_code=trust_remote_code)
        scorer = GenerativeJudge(backend, ref=judge, order=order, seed=seed)
    report = run_rm_check(scorer, subsets, out, limit=limit, seed=seed, iterations=iterations,
                          progress=lambda name, e: console.print(f"[green]done[/] {name} (n={e['n']}, {e['seconds']:.1f}s)"))
    print_rm_table(report, console)
    typer.echo(str(out / "rm_check.json"))
