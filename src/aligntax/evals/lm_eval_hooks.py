"""Per-document scoring functions the generated lm-eval YAMLs reference with ``!function``.

lm-eval imports ``hooks.py`` from the YAML directory, which re-exports these. They reuse
lm-eval's own metric code where it exists (DROP, TruthfulQA MC2).
"""

from __future__ import annotations

import re

from aligntax.evals.sandbox import SandboxLimits, check_humaneval_completion


def process_results_mc2(doc, results):
    from lm_eval.tasks.truthfulqa.utils import process_results_mc2 as lm_eval_mc2

    return lm_eval_mc2({"mc2_targets": {"labels": doc["mc2_targets"]["labels"]}}, results)


def process_results_drop(doc, results):
    from lm_eval.tasks.drop.utils import get_metrics

    pred = results[0].strip().split("\n")[0].strip().rstrip(".")
    em, f1 = 0.0, 0.0
    for gold in doc["answers"]:
        g_em, g_f1 = get_metrics(pred, gold)
        em, f1 = max(em, g_em), max(f1, g_f1)
    return {"em": em, "f1": f1}


_CHOICE = re.compile(r"^\(?([A-R])\)?(?:[\s.:,)]|$)")


def _bbh_normalise(text: str) -> str:
    text = text.strip().split("\n")[0].strip()
    text = re.sub(r"^(the answer is|answer:)\s*", "", text, flags=re.I).strip()
    return text.rstrip(".").strip()


def process_results_bbh(doc, results):
    """Exact match on the first line, accepting "B", "(B)" and "(B) text" for option targets."""
    pred, target = _bbh_normalise(results[0]), doc["target"].strip()
    option = re.fullmatch(r"\(([A-R])\)", target)
    if option:
        m = _CHOICE.match(pred)
        hit = bool(m) and m.group(1) == option.group(1)
    else:
        hit = pred.lower() == target.lower()
    return {"exact_match": float(hit)}


# Sandbox limits for HumanEval unit tests: generous for honest solutions, fatal for abuse.
HUMANEVAL_LIMITS = SandboxLimits(cpu_seconds=10, memory_bytes=1 << 30, wall_seconds=20.0)


def process_results_humaneval(doc, results):
    completion = results[0]
    for stop in ("\nclass ", "\ndef ", "\n#", "\nif __name__", "\nprint(", "\n```"):
        completion = completion.split(stop)[0]
    outcome = check_humaneval_completion(doc, completion, HUMANEVAL_LIMITS)
    return {"pass@1": float(outcome.passed)}
