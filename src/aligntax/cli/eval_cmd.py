"""``aligntax eval``: reasoning (lm-evaluation-harness) + safety (refusal) evaluation of one model."""

from __future__ import annotations

from pathlib import Path

import typer

from aligntax.cli import app


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _print_task_list() -> None:
    from rich.console import Console
    from rich.table import Table

    from aligntax.evals.tasks import TASKS

    table = Table("task", "suite", "default", "available", "description")
    for name in TASKS.names():
        t = TASKS.get(name)
        table.add_row(name, t.suite, "yes" if t.default else "", "yes" if t.data_path() else "no", t.description)
    Console().print(table)


def _print_summary(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("task", "metric", "value", "stderr", "n", "seconds", title=f"aligntax eval: {results['model']['ref']}")
    for name, task in results["tasks"].items():
        if task["status"] != "ok":
            table.add_row(name, f"[yellow]skipped[/]: {task.get('reason', '')}", "", "", "", "")
            continue
        for metric, m in task["metrics"].items():
            stderr = "" if m["stderr"] is None else f"{m['stderr']:.3f}"
            table.add_row(name, metric, f"{m['value']:.3f}", stderr, str(m["n"]), f"{task['seconds']:.1f}")
    Console().print(table)


@app.command("eval")
def eval_command(
    model: str = typer.Option(None, "--model", "-m", help="Embedded name, local dir, .gguf, PEFT adapter dir or Hub id."),
    suite: str = typer.Option("reasoning,safety", "--suite", help="Comma list of suites: reasoning, safety."),
    tasks: str = typer.Option(None, "--tasks", help="Comma list of tasks (see --list-tasks); lm_eval:<name> runs a stock "
                                                    "lm-eval (Hub) task. Default: each suite's default set."),
    limit: int = typer.Option(None, "--limit", help="Evaluate a seeded random subset of N documents per task."),
    seed: int = typer.Option(1234, "--seed", help="Seed for subsampling, few-shot sampling and generation."),
    backend: str = typer.Option("transformers", "--backend", help="transformers | vllm | openai."),
    base_url: str = typer.Option(None, "--base-url", help="openai backend: the server's /v1 URL."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="openai backend: env var holding the key."),
    out: Path = typer.Option(None, "--out", "-o", help="Output directory (results.json, samples/, tasks/)."),
    base: str = typer.Option(None, "--base", help="Base model for a PEFT adapter (overrides adapter_config.json)."),
    revision: str = typer.Option(None, "--revision", help="Hub revision."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow model repos to run their own code."),
    allow_code_execution: bool = typer.Option(False, "--allow-code-execution",
                                              help="Run model-written code (HumanEval) in the sandbox; adds humaneval."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", help="Safety answers' length budget."),
    batch_size: int = typer.Option(8, "--batch-size"),
    device: str = typer.Option(None, "--device", help="cpu | cuda (default: cuda when available)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads (default: cores not already busy)."),
    num_fewshot: int = typer.Option(None, "--num-fewshot", help="Override every reasoning task's few-shot count."),
    judge: str = typer.Option(None, "--judge", help="Refusal detector name (default: refusal, else refusal_keyword)."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="Judge refusals with an LLM at this "
                                                                      "OpenAI-compatible endpoint instead."),
    judge_model: str = typer.Option(None, "--judge-model", help="Model name for --judge-base-url."),
    system_prompt: str = typer.Option(None, "--system-prompt", help="System prompt for safety generations."),
    reuse: bool = typer.Option(True, "--reuse/--no-reuse", help="Reuse finished tasks with identical settings."),
    list_tasks: bool = typer.Option(False, "--list-tasks", help="List the registered tasks and exit."),
    write_tasks: Path = typer.Option(None, "--write-tasks", help="Write the lm-eval task YAMLs to DIR and exit."),
    corrector: str = typer.Option(None, "--corrector", help="Pass every answer through this corrector model (Aligner-"
                                                            "style) and report upstream vs corrected scores."),
    corrector_template: str = typer.Option(None, "--corrector-template", help="Corrector prompt (string or file) with "
                                                                              "{question} and {answer}; default Aligner's."),
    corrector_chat_template: bool = typer.Option(False, "--corrector-chat-template", help="Send the corrector prompt "
                                                 "through the corrector's chat template (default: raw string)."),
    corrector_max_new_tokens: int = typer.Option(None, "--corrector-max-new-tokens", help="Corrector length budget."),
) -> None:
    """Evaluate a model on reasoning (lm-eval) and safety (refusal / over-refusal) tasks."""
    if list_tasks:
        _print_task_list()
        return
    if write_tasks is not None:
        from aligntax.evals.lm_eval_yaml import write_task_yamls

        for name, path in write_task_yamls(write_tasks).items():
            typer.echo(f"{name}\t{path}")
        return
    if not model or out is None:
        raise typer.BadParameter("--model and --out are required")
    from aligntax.errors import InputError
    from aligntax.evals import run_eval
    from aligntax.evals.tasks import SUITES

    suites = _split(suite)
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise typer.BadParameter(f"unknown suite(s) {unknown}; choose from {list(SUITES)}")
    backend_args = {}
    if backend == "openai":
        if not base_url:
            raise typer.BadParameter("--backend openai needs --base-url")
        backend_args = {"base_url": base_url, "api_key_env": api_key_env}
    if corrector:  # integrity: upstream -> corrector -> score (aligntax.integrity.corrector_eval)
        _eval_with_corrector(model, corrector, suites, _split(tasks) or None, limit, seed, out, backend, corrector_template,
                             corrector_chat_template, corrector_max_new_tokens, max_new_tokens, batch_size, device,
                             threads, num_fewshot, judge, system_prompt, reuse, allow_code_execution)
        return
    judge_backend = None
    if judge_base_url:
        from aligntax.models.openai_backend import OpenAIBackend

        judge_backend = OpenAIBackend(judge_base_url, judge_model or "judge", api_key_env=api_key_env)
    try:
        results = run_eval(
            model, suites, _split(tasks) or None, limit, seed, out, backend=backend, backend_args=backend_args,
            base=base, revision=revision, trust_remote_code=trust_remote_code,
            allow_code_execution=allow_code_execution, max_new_tokens=max_new_tokens, batch_size=batch_size,
            device=device, num_fewshot=num_fewshot, judge=judge, judge_backend=judge_backend,
            system_prompt=system_prompt, reuse=reuse, threads=threads,
        )
    except KeyError as exc:
        raise InputError(str(exc.args[0] if exc.args else exc)) from None
    _print_summary(results)
    typer.echo(str(Path(out) / "results.json"))


def _eval_with_corrector(model, corrector, suites, tasks, limit, seed, out, backend, template, chat_template,
                         corrector_max_new_tokens, max_new_tokens, batch_size, device, threads, num_fewshot, judge,
                         system_prompt, reuse, allow_code_execution) -> None:
    from aligntax.integrity.corrector_eval import REPORT_FILE, run_corrected_eval
    from aligntax.integrity.inflation import print_inflation_table

    if backend != "transformers":
        raise typer.BadParameter("--corrector runs the upstream model with the transformers backend")
    report = run_corrected_eval(
        model, corrector, suites, tasks, limit, seed, out, template=template, corrector_chat_template=chat_template,
        corrector_max_new_tokens=corrector_max_new_tokens, max_new_tokens=max_new_tokens, batch_size=batch_size,
        device=device, threads=threads, num_fewshot=num_fewshot, judge=judge, system_prompt=system_prompt,
        reuse=reuse, allow_code_execution=allow_code_execution,
    )
    print_inflation_table(report, title=f"{model} -> corrector {corrector}")
    typer.echo(str(Path(out) / REPORT_FILE))
