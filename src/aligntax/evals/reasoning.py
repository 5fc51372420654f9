"""The reasoning suite: lm-evaluation-harness on generated, offline task YAMLs.

aligntax does not score anything itself here; it picks documents (seeded), hands lm-eval a
model and the task configs, and reshapes lm-eval's output into ``TaskResult`` objects.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

from aligntax.evals.results import Metric, TaskResult
from aligntax.evals.tasks import TASKS

log = logging.getLogger(__name__)


def seeded_indices(size: int, limit: int | None, seed: int) -> list[int] | None:
    """``limit`` document indices drawn without replacement with ``seed`` (sorted); None = all."""
    if limit is None or limit >= size:
        return None
    return sorted(random.Random(seed).sample(range(size), limit))


def make_lm(backend: str, *, model=None, tokenizer=None, model_path: str | None = None, batch_size: int | str = 8,
            device: str = "cpu", backend_args: dict[str, Any] | None = None):
    """The lm-eval ``LM`` for a backend: HFLM around the already-loaded model for transformers,
    lm-eval's own vLLM / OpenAI-compatible-completions models otherwise."""
    backend_args = dict(backend_args or {})
    if backend == "transformers":
        from lm_eval.models.huggingface import HFLM

        return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device=device, max_length=2048)
    if backend == "vllm":
        from lm_eval.models.vllm_causallms import VLLM

        return VLLM(pretrained=model_path, batch_size="auto", **backend_args)
    if backend == "openai":
        from lm_eval.models.openai_completions import LocalCompletionsAPI

        return LocalCompletionsAPI(base_url=backend_args["base_url"].rstrip("/") + "/completions",
                                   model=backend_args["model"], tokenizer_backend=None)
    raise ValueError(f"unknown backend {backend!r}")


def _metrics(task_results: dict[str, Any], n: int) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for key, value in task_results.items():
        if "," not in key or "_stderr," in key or not isinstance(value, (int, float)):
            continue
        metric, filt = key.split(",", 1)
        stderr = task_results.get(f"{metric}_stderr,{filt}")
        name = metric if filt == "none" else f"{metric}/{filt}"
        out[name] = Metric(float(value), float(stderr) if isinstance(stderr, (int, float)) else None, n)
    return out


def _sample_rows(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per document; tasks with several filters (GSM8K strict/flexible) log a document
    once per filter, so their responses and metrics are merged under ``<metric>/<filter>``."""
    rows: dict[Any, dict[str, Any]] = {}
    for sample in samples:
        filt = sample.get("filter", "none")
        suffix = "" if filt == "none" else f"/{filt}"
        row = rows.get(sample.get("doc_id"))
        if row is None:
            args = sample.get("arguments") or []
            first = args[0] if args else None
            row = rows[sample.get("doc_id")] = {
                "doc_id": sample.get("doc_id"),
                "id": (sample.get("doc") or {}).get("id"),
                "prompt": first[0] if isinstance(first, (list, tuple)) and first else None,
                "target": sample.get("target"),
                "response": {},
                "metrics": {},
                "doc": sample.get("doc"),
            }
            if len(args) > 1 and all(isinstance(a, (list, tuple)) and len(a) > 1 for a in args):
                row["choices"] = [a[1] for a in args]
        row["response"][filt] = sample.get("filtered_resps")
        row["metrics"].update({f"{m}{suffix}": sample.get(m) for m in sample.get("metrics", [])})
    for row in rows.values():
        if list(row["response"]) == ["none"]:
            row["response"] = row["response"]["none"]
    return list(rows.values())


_MANAGERS: dict[tuple[str, bool], Any] = {}


def task_manager(include_path: Path, *, stock: bool):
    """lm-eval's TaskManager, built once per (path, stock): indexing all stock tasks takes ~10 s,
    so aligntax's own tasks are looked up with ``include_defaults=False``."""
    from lm_eval.tasks import TaskManager

    key = (str(include_path), stock)
    if key not in _MANAGERS:
        _MANAGERS[key] = TaskManager(include_path=str(include_path), include_defaults=stock)
    return _MANAGERS[key]


def run_reasoning_task(name: str, lm, *, include_path: Path, limit: int | None, seed: int,
                       allow_code_execution: bool = False, num_fewshot: int | None = None) -> TaskResult:
    """Evaluate one task (an aligntax task name or ``lm_eval:<stock task>``)."""
    import lm_eval
    from lm_eval.utils import handle_non_serializable

    if name.startswith("lm_eval:"):
        lm_name, samples, lim = name.split(":", 1)[1], None, limit
    else:
        task = TASKS.get(name)
        lm_name = task.lm_eval_name
        indices = seeded_indices(task.size(), limit, seed)
        samples, lim = ({lm_name: indices} if indices is not None else None), None
    started = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=[lm_name],
        task_manager=task_manager(include_path, stock=name.startswith("lm_eval:")),
        limit=lim,
        samples=samples,
        num_fewshot=num_fewshot,
        log_samples=True,
        bootstrap_iters=1000,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
        confirm_run_unsafe_code=allow_code_execution,
    )
    seconds = time.perf_counter() - started
    n_samples = out.get("n-samples", {}).get(lm_name, {})
    n = int(n_samples.get("effective", 0))
    rows = [handle_non_serializable_deep(r, handle_non_serializable) for r in _sample_rows(out["samples"].get(lm_name, []))]
    return TaskResult(
        task=name, suite="reasoning", metrics=_metrics(out["results"][lm_name], n), n=n, seed=seed, limit=limit,
        seconds=seconds, samples=rows, extra={"lm_eval_task": lm_name, "num_fewshot": out.get("n-shot", {}).get(lm_name)},
    )


def handle_non_serializable_deep(obj, fallback):
    if isinstance(obj, dict):
        return {str(k): handle_non_serializable_deep(v, fallback) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [handle_non_serializable_deep(v, fallback) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return fallback(obj)
