"""``run_eval``: the one entry point the CLI, the ablation runner and corrector loops share."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Sequence

from aligntax import __version__
from aligntax.evals.results import (
    SCHEMA_VERSION, TaskResult, cache_key, file_hash, load_cached_task, write_results, write_task,
)
from aligntax.evals.tasks import TASKS, select_tasks

log = logging.getLogger(__name__)

HEADLINE = {"mmlu": "acc", "mmlu_cloze": "acc", "truthfulqa_mc1": "acc", "truthfulqa_mc2": "acc", "bbh": "exact_match",
            "gsm8k": "exact_match/flexible-extract", "drop": "f1", "humaneval": "pass@1", "hhh": "acc"}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"aligntax_version": __version__}
    for pkg, key in (("lm_eval", "lm_eval_version"), ("transformers", "transformers_version"), ("torch", "torch_version")):
        try:
            out[key] = version(pkg)
        except PackageNotFoundError:
            out[key] = None  # type: ignore[assignment]
    return out


def cpu_threads(requested: int | None = None) -> int:
    """Threads for CPU inference. ``None`` = the cores not already busy (cpu count minus the
    1-minute load average, at least 1): on a shared box, oversubscribed OpenMP threads spin
    against each other and a 135M model decodes ~5x slower with 2 contended threads than with 1."""
    if requested:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


class _ModelHandle:
    """Loads the model at most once, and only if some task actually has to run."""

    def __init__(self, spec, backend: str, backend_args: dict[str, Any], device: str | None, batch_size: int,
                 model=None, tokenizer=None, threads: int | None = None) -> None:
        self.threads = threads
        self.spec, self.backend, self.backend_args = spec, backend, backend_args
        self.device, self.batch_size = device, batch_size
        self.model, self.tokenizer = model, tokenizer
        self._lm = self._gen = None

    def _load(self) -> None:
        if self.model is None and self.backend == "transformers":
            import torch

            from aligntax.models.resolve import default_device

            self.device = self.device or default_device()
            if self.device == "cpu":
                torch.set_num_threads(cpu_threads(self.threads))
            from aligntax.models.resolve import load_model

            self.model, self.tokenizer = load_model(self.spec, device=self.device)
        if self.tokenizer is None and self.backend == "vllm":
            from aligntax.models.resolve import load_tokenizer

            self.tokenizer = load_tokenizer(self.spec)

    def lm(self):
        if self._lm is None:
            from aligntax.evals.reasoning import make_lm

            self._load()
            device = str(self.model.device) if self.model is not None else (self.device or "cuda")
            self._lm = make_lm(self.backend, model=self.model, tokenizer=self.tokenizer, model_path=self.spec.path,
                               batch_size=self.batch_size, device=device,
                               backend_args={**self.backend_args, "model": self.backend_args.get("model", self.spec.ref)})
        return self._lm

    def generator(self):
        if self._gen is None:
            from aligntax.models.backends import BACKENDS

            self._load()
            cls = BACKENDS.get(self.backend)
            if self.backend == "transformers":
                self._gen = cls(self.model, self.tokenizer, batch_size=self.batch_size)
            elif self.backend == "vllm":
                self._gen = cls(self.spec.path, self.tokenizer, trust_remote_code=self.spec.trust_remote_code)
            else:
                self._gen = cls(model=self.backend_args.get("model", self.spec.ref),
                                **{k: v for k, v in self.backend_args.items() if k != "model"})
        return self._gen


def run_eval(
    model_ref: str,
    suites: Sequence[str] = ("reasoning", "safety"),
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 1234,
    out_dir: str | Path = "eval_out",
    *,
    backend: str = "transformers",
    backend_args: dict[str, Any] | None = None,
    base: str | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    allow_code_execution: bool = False,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    device: str | None = None,
    num_fewshot: int | None = None,
    judge: str | None = None,
    judge_backend=None,
    system_prompt: str | None = None,
    reuse: bool = True,
    progress: bool = True,
    threads: int | None = None,
    model=None,
    tokenizer=None,
) -> dict[str, Any]:
    """Evaluate ``model_ref`` and write ``out_dir/results.json`` (+ per-task checkpoints and
    per-sample logs); return the results dict. Finished tasks with an identical cache key are
    reused. ``model``/``tokenizer`` let a caller pass an already-loaded model (``model_ref``
    still names it in the results and must resolve, for the content hash)."""
    from aligntax.evals.safety import LLMJudge, RefusalJudge, run_safety_task, summarize_safety
    from aligntax.models.resolve import ModelSpec, model_hash, resolve_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    backend_args = dict(backend_args or {})
    if backend == "openai":
        spec = ModelSpec(model_ref, "remote", model_ref)
        import xxhash

        mhash = "remote-" + xxhash.xxh3_128_hexdigest(f"{backend_args.get('base_url')}|{model_ref}")
    else:
        spec = resolve_model(model_ref, base=base, revision=revision, trust_remote_code=trust_remote_code)
        mhash = model_hash(spec)
    names = select_tasks(list(suites), list(tasks) if tasks else None, allow_code_execution=allow_code_execution)
    handle = _ModelHandle(spec, backend, backend_args, device, batch_size, model=model, tokenizer=tokenizer,
                          threads=threads)
    judge_obj = LLMJudge(judge_backend) if judge_backend is not None else None

    yaml_dir = out / "lm_eval_tasks"
    if any(TASKS.get(n).suite == "reasoning" for n in names if not n.startswith("lm_eval:")):
        from aligntax.evals.lm_eval_yaml import write_task_yamls

        write_task_yamls(yaml_dir)
    logging.getLogger("lm_eval").setLevel(logging.WARNING)

    results: dict[str, TaskResult] = {}
    started = time.perf_counter()
    bar = _progress(progress)
    with bar or nullcontext():
        overall = bar.add_task("tasks", total=len(names)) if bar else None
        for name in names:
            stock = name.startswith("lm_eval:")
            task = None if stock else TASKS.get(name)
            suite = "reasoning" if stock else task.suite
            if bar:
                bar.update(overall, description=f"[bold]{name}")
            skip = _skip_reason(task, allow_code_execution) if task else None
            if skip:
                results[name] = TaskResult.skipped(name, suite, skip, seed, limit)
                log.warning("skipping %s: %s", name, skip)
                if bar:
                    bar.console.print(f"[yellow]skip[/] {name}: {skip}")
                    bar.advance(overall)
                continue
            if suite == "safety" and judge_obj is None:
                judge_obj = RefusalJudge(judge)
            key = cache_key(
                model_hash=mhash, task=name, task_version=task.version if task else None,
                data=file_hash(task.data_path()) if task else None, limit=limit, seed=seed, backend=backend,
                num_fewshot=num_fewshot if suite == "reasoning" else None,
                max_new_tokens=max_new_tokens if suite == "safety" else None,
                judge=judge_obj.name if suite == "safety" else None,
                system_prompt=system_prompt if suite == "safety" else None,
            )
            cached = load_cached_task(out, name, key) if reuse else None
            if cached is not None:
                results[name] = cached
                if bar:
                    bar.console.print(f"[dim]cached[/] {name}")
                    bar.advance(overall)
                continue
            if suite == "reasoning":
                from aligntax.evals.reasoning import run_reasoning_task

                result = run_reasoning_task(name, handle.lm(), include_path=yaml_dir, limit=limit, seed=seed,
                                            allow_code_execution=allow_code_execution, num_fewshot=num_fewshot)
            else:
                n_rows = min(task.size(), limit) if limit else task.size()
                sub = bar.add_task(f"  {name}", total=n_rows) if bar else None
                result = run_safety_task(
                    name, handle.generator(), judge_obj, limit=limit, seed=seed, max_new_tokens=max_new_tokens,
                    system_prompt=system_prompt, progress=(lambda k: bar.advance(sub, k)) if bar else None,
                )
                if bar:
                    bar.remove_task(sub)
            result.cache_key = key
            write_task(out, result)
            results[name] = result
            if bar:
                bar.console.print(f"[green]done[/] {name} {_headline(result)} ({result.seconds:.1f}s)")
                bar.advance(overall)

    doc = {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **_versions(),
        "model": {**spec.describe(), "hash": mhash},
        "backend": {"name": backend, **{k: v for k, v in backend_args.items() if "key" not in k.lower()}},
        "seed": seed,
        "limit": limit,
        "args": {"suites": list(suites), "tasks": list(tasks) if tasks else None, "max_new_tokens": max_new_tokens,
                 "num_fewshot": num_fewshot, "allow_code_execution": allow_code_execution, "batch_size": batch_size,
                 "threads": threads},
        "tasks": {name: r.to_dict() for name, r in results.items()},
        "summary": {
            "reasoning": {n: r.metrics[HEADLINE[n]].to_dict() for n, r in results.items()
                          if r.suite == "reasoning" and r.status == "ok" and HEADLINE.get(n) in r.metrics},
            "safety": summarize_safety(results),
        },
        "seconds": round(time.perf_counter() - started, 3),
        "reused_tasks": sorted(n for n, r in results.items() if r.cached),
    }
    write_results(out, doc)
    return doc


def _skip_reason(task, allow_code_execution: bool) -> str | None:
    if task.unsafe_code and not allow_code_execution:
        return "executes model-written code; pass --allow-code-execution (runs in the aligntax sandbox)"
    if task.data_path() is None:
        return f"data not available: {task.missing_hint or 'missing file'}"
    return None


def _headline(result: TaskResult) -> str:
    key = HEADLINE.get(result.task) or next(iter(result.metrics), None)
    if key is None or key not in result.metrics:
        return ""
    m = result.metrics[key]
    err = f" ± {m.stderr:.3f}" if m.stderr is not None else ""
    return f"{key}={m.value:.3f}{err} (n={m.n})"


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=False)
