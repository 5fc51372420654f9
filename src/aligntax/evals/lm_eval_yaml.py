"""Write lm-evaluation-harness task YAMLs for the registered reasoning tasks.

The YAMLs use ``dataset_path: json`` with absolute ``data_files`` into the vendored (or
cached) JSONL, so they run offline and can also be used with the stock CLI::

    aligntax eval --write-tasks DIR   # or write_task_yamls(DIR)
    lm_eval --include_path DIR --tasks aligntax_mmlu_cloze --model hf --model_args pretrained=...
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import yaml

from aligntax.evals.tasks import TASKS, EvalTask, FunctionRef

_HOOKS_PY = '"""Loaded by lm-eval for `!function hooks.*` in these YAMLs."""\nfrom aligntax.evals.lm_eval_hooks import *  # noqa: F401,F403\n'


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(FunctionRef, lambda dumper, value: dumper.represent_scalar("!function", str(value)))


def task_config(task: EvalTask) -> dict:
    """The complete lm-eval config dict for ``task`` (data files resolved to absolute paths)."""
    if task.lm_eval is None:
        raise ValueError(f"{task.name} is not an lm-eval task")
    data = task.data_path()
    if data is None:
        raise FileNotFoundError(f"data for task {task.name!r} is not available: {task.missing_hint}")
    files = {"test": str(data)}
    for split, path_fn in task.extra_files.items():
        files[split] = str(path_fn())
    config = {
        "task": task.lm_eval_name,
        "tag": ["aligntax", f"aligntax_{task.suite}"],
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": files},
        "test_split": "test",
        **task.lm_eval,
        "metadata": {"version": float(task.version), "aligntax_task": task.name},
    }
    if task.unsafe_code:
        config["unsafe_code"] = True
    return config


def write_task_yamls(out_dir: str | Path, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Write one YAML per available lm-eval task (plus ``hooks.py``); return name -> path.
    Tasks whose data is missing here (HHH) are skipped silently - callers report that."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "hooks.py").write_text(_HOOKS_PY, encoding="utf-8")
    written: dict[str, Path] = {}
    for name in names if names is not None else TASKS.names():
        task = TASKS.get(name)
        if task.lm_eval is None or task.data_path() is None:
            continue
        path = out / f"{task.lm_eval_name}.yaml"
        text = yaml.dump(task_config(task), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written[name] = path
    return written
