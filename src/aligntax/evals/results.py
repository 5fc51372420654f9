"""The versioned results schema, per-task checkpoints and the resume cache.

Layout of an eval output directory::

    results.json            schema_version, versions, model (ref + content hash), tasks, summary
    tasks/<task>.json       one finished task (same shape as results["tasks"][task]) - the cache
    samples/<task>.jsonl    per-sample log (prompt, response, target, per-sample metrics)

A task is reused when ``tasks/<task>.json`` exists with the same ``cache_key`` (model hash +
task + task version + data hash + limit + seed + every argument that changes the numbers).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aligntax.util import write_text_atomic

SCHEMA_VERSION = 1


@dataclass
class Metric:
    value: float
    stderr: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "stderr": self.stderr, "n": self.n}


def mean_with_stderr(values: list[float]) -> Metric:
    """Sample mean and its standard error (sample std / sqrt(n)), like lm-eval's ``mean_stderr``."""
    n = len(values)
    if n == 0:
        return Metric(float("nan"), None, 0)
    mean = sum(values) / n
    if n < 2:
        return Metric(mean, None, n)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return Metric(mean, math.sqrt(var / n), n)


@dataclass
class TaskResult:
    task: str
    suite: str
    metrics: dict[str, Metric]
    n: int
    seed: int
    limit: int | None
    seconds: float
    samples: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"  # ok | skipped
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    cache_key: str = ""
    cached: bool = False
    samples_file: str | None = None  # kept when the task is reloaded from its checkpoint

    def to_dict(self) -> dict[str, Any]:
        out = {
            "suite": self.suite,
            "status": self.status,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "n": self.n,
            "seed": self.seed,
            "limit": self.limit,
            "seconds": round(self.seconds, 3),
            "cache_key": self.cache_key,
            **({"reason": self.reason} if self.reason else {}),
            **self.extra,
        }
        if self.samples:
            out["samples_file"] = f"samples/{_safe(self.task)}.jsonl"
        elif self.samples_file:
            out["samples_file"] = self.samples_file
        return out

    @classmethod
    def skipped(cls, task: str, suite: str, reason: str, seed: int, limit: int | None) -> "TaskResult":
        return cls(task, suite, {}, 0, seed, limit, 0.0, status="skipped", reason=reason)


_KNOWN_KEYS = {"suite", "status", "metrics", "n", "seed", "limit", "seconds", "cache_key", "reason", "samples_file"}


def task_result_from_dict(task: str, d: dict[str, Any]) -> TaskResult:
    return TaskResult(
        task=task, suite=d["suite"], n=d["n"], seed=d["seed"], limit=d["limit"], seconds=d["seconds"],
        metrics={k: Metric(m["value"], m["stderr"], m["n"]) for k, m in d["metrics"].items()},
        status=d["status"], reason=d.get("reason", ""), cache_key=d.get("cache_key", ""),
        extra={k: v for k, v in d.items() if k not in _KNOWN_KEYS}, cached=True,
        samples_file=d.get("samples_file"),
    )


def _safe(name: str) -> str:
    return name.replace(":", "__").replace("/", "_")


def cache_key(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def file_hash(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    import xxhash

    return xxhash.xxh3_64_hexdigest(path.read_bytes())




def write_task(out_dir: Path, result: TaskResult) -> None:
    """Checkpoint one finished task: its samples first, then the entry that marks it done."""
    if result.samples:
        lines = "".join(json.dumps(s, ensure_ascii=False, default=str) + "\n" for s in result.samples)
        write_text_atomic(out_dir / "samples" / f"{_safe(result.task)}.jsonl", lines)
    write_text_atomic(out_dir / "tasks" / f"{_safe(result.task)}.json", json.dumps(result.to_dict(), indent=2))


def load_cached_task(out_dir: Path, task: str, key: str) -> TaskResult | None:
    path = out_dir / "tasks" / f"{_safe(task)}.json"
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    if d.get("cache_key") != key or d.get("status") != "ok":
        return None
    if "samples_file" in d and not (out_dir / d["samples_file"]).is_file():
        return None
    return task_result_from_dict(task, d)


def write_results(out_dir: Path, results: dict[str, Any]) -> Path:
    path = out_dir / "results.json"
    write_text_atomic(path, json.dumps(results, indent=2, default=str) + "\n")
    return path


def validate_results(results: dict[str, Any]) -> None:
    """Raise ValueError when ``results`` does not follow the schema (used by tests and readers)."""
    if results.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"unsupported schema_version {results.get('schema_version')!r}")
    for key in ("aligntax_version", "lm_eval_version", "model", "tasks", "summary", "seed", "created"):
        if key not in results:
            raise ValueError(f"results.json lacks {key!r}")
    if not results["model"].get("hash") or not results["model"].get("ref"):
        raise ValueError("model needs 'ref' and 'hash'")
    for name, task in results["tasks"].items():
        for key in ("suite", "status", "metrics", "n", "seed", "seconds"):
            if key not in task:
                raise ValueError(f"task {name!r} lacks {key!r}")
        for metric, m in task["metrics"].items():
            if set(m) != {"value", "stderr", "n"}:
                raise ValueError(f"{name}.{metric} must have exactly value, stderr, n")
