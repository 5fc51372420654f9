"""Reasoning (lm-evaluation-harness) and safety (refusal) evaluation.

``run_eval`` is the Python entry point; ``TASKS`` the task registry. torch, transformers and
lm-eval are imported lazily, when a task actually runs.
"""

from aligntax.evals.results import SCHEMA_VERSION, Metric, TaskResult, validate_results
from aligntax.evals.runner import run_eval
from aligntax.evals.tasks import TASKS, EvalTask, default_tasks, select_tasks

__all__ = ["SCHEMA_VERSION", "TASKS", "EvalTask", "Metric", "TaskResult", "default_tasks", "run_eval",
           "select_tasks", "validate_results"]
