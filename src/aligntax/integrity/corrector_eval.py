"""``aligntax eval --corrector``: evaluate the upstream model alone and behind a corrector.

Layout of the output directory::

    upstream/             a normal ``aligntax eval`` run of the upstream model (results.json, samples/)
    corrected/            the same tasks, items and seed, scored on the corrector's answers;
                          samples carry ``upstream_response`` beside the scored answer
    corrector_report.json upstream vs corrected per task, paired-bootstrap intervals, inflation

The upstream run is an ordinary cached ``run_eval``; the corrected run regenerates the upstream
answers (greedy, so identical) inside ``CorrectedBackend`` and records them next to the
corrections. Multiple-choice (log-likelihood) tasks are listed as not applicable, with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, Sequence

from aligntax.integrity.corrector import (
    MC_NOT_APPLICABLE, CorrectedBackend, corrected_lm, describe_corrector, load_corrector, load_template, template_id,
)

REPORT_FILE = "corrector_report.json"


def not_applicable_reason(name: str) -> str | None:
    """Why a corrector cannot apply to task ``name`` (None when it can)."""
    from aligntax.evals.tasks import TASKS

    if name.startswith("lm_eval:"):
        return ("stock lm-eval task: its output type is not known to aligntax; the corrector runs on aligntax's "
                "generation tasks (bbh, gsm8k, drop, humaneval) and the safety suite")
    task = TASKS.get(name)
    if task.suite == "reasoning" and (task.lm_eval or {}).get("output_type") != "generate_until":
        return MC_NOT_APPLICABLE
    return None


def run_corrected_eval(
    model_ref: str,
    corrector_ref: str | None,
    suites: Sequence[str] = ("reasoning", "safety"),
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 1234,
    out_dir: str | Path = "eval_out",
    *,
    template: str | None = None,
    corrector_chat_template: bool = False,
    corrector_max_new_tokens: int | None = None,
    corrector=None,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    device: str | None = None,
    threads: int | None = None,
    num_fewshot: int | None = None,
    judge: str | None = None,
    system_prompt: str | None = None,
    reuse: bool = True,
    progress: bool = True,
    bootstrap_iterations: int = 2000,
    allow_code_execution: bool = False,
) -> dict[str, Any]:
    """Run upstream and corrected evaluations into ``out_dir`` and return the comparison report.
    ``corrector`` may be an already-built ``GenerationBackend`` (then ``corrector_ref`` only names it)."""
    import torch

    from aligntax.evals import run_eval
    from aligntax.evals.results import cache_key, load_cached_task, write_results, write_task
    from aligntax.evals.runner import cpu_threads
    from aligntax.integrity.inflation import compare_runs
    from aligntax.models.backends import TransformersBackend
    from aligntax.models.resolve import load_model, resolve_model

    out = Path(out_dir)
    template = load_template(template)
    spec = resolve_model(model_ref)
    if (device or ("cuda" if torch.cuda.is_available() else "cpu")) == "cpu":
        torch.set_num_threads(cpu_threads(threads))
    model, tokenizer = load_model(spec, device=device)
    common = dict(max_new_tokens=max_new_tokens, batch_size=batch_size, device=device, num_fewshot=num_fewshot,
                  judge=judge, system_prompt=system_prompt, threads=threads, allow_code_execution=allow_code_execution)
    upstream = run_eval(model_ref, suites, tasks, limit, seed, out / "upstream", model=model, tokenizer=tokenizer,
                        reuse=reuse, progress=progress, **common)

    if corrector is None:
        if not corrector_ref:
            raise ValueError("give a corrector model reference or a corrector backend")
        corrector = load_corrector(corrector_ref, chat_template=corrector_chat_template, device=device,
                                   batch_size=batch_size)
    wrapped = CorrectedBackend(TransformersBackend(model, tokenizer, batch_size=batch_size), corrector,
                               template=template, corrector_max_new_tokens=corrector_max_new_tokens)
    described = {**describe_corrector(corrector), "ref": corrector_ref or getattr(corrector, "corrector_ref", None),
                 "template": template_id(template), "template_text": template,
                 "corrector_max_new_tokens": corrector_max_new_tokens}
    corrected_dir = out / "corrected"
    results: dict[str, Any] = {}
    lm = judge_obj = None
    started = time.perf_counter()
    for name, up_doc in upstream["tasks"].items():
        if up_doc["status"] != "ok":
            results[name] = {**up_doc}
            continue
        reason = not_applicable_reason(name)
        if reason:
            results[name] = {"suite": up_doc["suite"], "status": "skipped", "not_applicable": True, "reason": reason,
                             "metrics": {}, "n": 0, "seed": seed, "limit": up_doc.get("limit"), "seconds": 0.0}
            continue
        key = cache_key(upstream=up_doc["cache_key"], corrector={k: v for k, v in described.items() if k != "template_text"})
        cached = load_cached_task(corrected_dir, name, key) if reuse else None
        if cached is not None:
            results[name] = cached.to_dict()
            continue
        before = len(wrapped.log)
        if up_doc["suite"] == "safety":
            from aligntax.evals.safety import RefusalJudge, run_safety_task

            judge_obj = judge_obj or RefusalJudge(judge)
            result = run_safety_task(name, wrapped, judge_obj, limit=up_doc.get("limit"), seed=seed,
                                     max_new_tokens=max_new_tokens, system_prompt=system_prompt)
            for sample, triple in zip(result.samples, wrapped.log[-1]):
                sample["upstream_response"] = triple["upstream"]
        else:
            from aligntax.evals.reasoning import make_lm, run_reasoning_task

            if lm is None:
                base_lm = make_lm("transformers", model=model, tokenizer=tokenizer, batch_size=batch_size,
                                  device=str(model.device))
                lm = corrected_lm(base_lm, wrapped)
            result = run_reasoning_task(name, lm, include_path=out / "upstream" / "lm_eval_tasks",
                                        limit=up_doc.get("limit"), seed=seed, num_fewshot=num_fewshot,
                                        allow_code_execution=allow_code_execution)
            by_prompt = {t["question"]: t for batch in wrapped.log[before:] for t in batch}
            for sample in result.samples:
                triple = by_prompt.get(sample.get("prompt"))
                if triple is not None:
                    sample["upstream_response"] = triple["upstream"]
                    sample["corrected_response"] = triple["corrected"]
        result.cache_key = key
        result.extra["corrector"] = described
        write_task(corrected_dir, result)
        results[name] = result.to_dict()

    corrected = {
        **{k: upstream[k] for k in ("schema_version", "aligntax_version", "lm_eval_version", "transformers_version",
                                     "torch_version", "model", "backend", "seed", "limit", "args") if k in upstream},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "corrector": described,
        "tasks": results,
        "summary": {"note": "scores of the corrected answers: see ../corrector_report.json for the upstream comparison"},
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_results(corrected_dir, corrected)
    report = compare_runs(upstream, corrected, out / "upstream", corrected_dir, iterations=bootstrap_iterations, seed=seed)
    report = {"model": upstream["model"], "corrector": described, "upstream_results": "upstream/results.json",
              "corrected_results": "corrected/results.json", **report}
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return report
