"""Rebuild the eval slices vendored in ``aligntax/data/evals`` from the raw public copies.

The package ships small, normalised JSONL files so every task runs offline. Sources under a
size budget are vendored whole; large ones (MMLU test, BBH, GSM8K, DROP) as a fixed seeded
subset. Running this again with the same raw data and seed reproduces the files byte for byte::

    python -m aligntax.evals.vendor /path/to/shared/data
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import sys
from pathlib import Path

VENDOR_SEED = 1234
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "evals"

MMLU_PER_SUBJECT = 16  # 57 subjects -> 912 test questions
BBH_PER_TASK = 20  # 27 tasks -> 540 examples
GSM8K_ROWS = 400
DROP_ROWS = 400


def _write_jsonl(path: Path, rows: list[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def _seeded_subset(rows: list, k: int, salt: str) -> list:
    if len(rows) <= k:
        return list(rows)
    picked = random.Random(f"{VENDOR_SEED}:{salt}").sample(range(len(rows)), k)
    return [rows[i] for i in sorted(picked)]


def _read_csv(path: Path, encoding: str = "utf-8") -> list[dict]:
    with path.open(newline="", encoding=encoding) as f:
        return list(csv.DictReader(f))


def vendor_mmlu(raw: Path) -> dict[str, int]:
    def rows(split: str, subject: str, limit: int | None) -> list[dict]:
        data = _read_csv(raw / "mmlu" / split / f"{subject}_{split}.csv")
        out = [
            {
                "id": f"{subject}/{split}/{i}",
                "subject": subject,
                "question": r["question"],
                "choices": [r[f"choice{j}"] for j in range(4)],
                "answer": int(r["answer"]),
            }
            for i, r in enumerate(data)
        ]
        return out if limit is None else _seeded_subset(out, limit, f"mmlu/{subject}")

    subjects = sorted(p.name[: -len("_test.csv")] for p in (raw / "mmlu" / "test").glob("*_test.csv"))
    test = [r for s in subjects for r in rows("test", s, MMLU_PER_SUBJECT)]
    dev = [r for s in subjects for r in rows("dev", s, None)]
    return {
        "mmlu/test.jsonl": _write_jsonl(DATA_DIR / "mmlu" / "test.jsonl", test),
        "mmlu/dev.jsonl": _write_jsonl(DATA_DIR / "mmlu" / "dev.jsonl", dev),
    }


def vendor_bbh(raw: Path) -> dict[str, int]:
    out = []
    for path in sorted((raw / "bbh" / "bbh").glob("*.json")):
        examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
        rows = [{"id": f"{path.stem}/{i}", "task": path.stem, **ex} for i, ex in enumerate(examples)]
        out.extend(_seeded_subset(rows, BBH_PER_TASK, f"bbh/{path.stem}"))
    return {"bbh/test.jsonl": _write_jsonl(DATA_DIR / "bbh" / "test.jsonl", out)}


def vendor_gsm8k(raw: Path) -> dict[str, int]:
    lines = (raw / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [{"id": f"test/{i}", **json.loads(line)} for i, line in enumerate(lines) if line.strip()]
    return {"gsm8k/test.jsonl": _write_jsonl(DATA_DIR / "gsm8k" / "test.jsonl", _seeded_subset(rows, GSM8K_ROWS, "gsm8k"))}


def vendor_truthfulqa(raw: Path) -> dict[str, int]:
    data = json.loads((raw / "truthfulqa" / "mc_task.json").read_text(encoding="utf-8"))
    rows = []
    for i, d in enumerate(data):
        row = {"id": str(i), "question": d["question"]}
        for key in ("mc1_targets", "mc2_targets"):
            row[key] = {"choices": list(d[key]), "labels": list(d[key].values())}
        rows.append(row)
    return {"truthfulqa/mc.jsonl": _write_jsonl(DATA_DIR / "truthfulqa" / "mc.jsonl", rows)}


def vendor_drop(raw: Path) -> dict[str, int]:
    lines = (raw / "drop" / "drop_v0_dev_first2000.jsonl").read_text(encoding="utf-8").splitlines()
    rows = []
    for i, line in enumerate(lines):
        d = json.loads(line)
        rows.append({"id": f"dev/{i}", "context": d["context"], "answers": d["ref_text"].split("|")})
    return {"drop/dev.jsonl": _write_jsonl(DATA_DIR / "drop" / "dev.jsonl", _seeded_subset(rows, DROP_ROWS, "drop"))}


def vendor_safety(raw: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    adv = _read_csv(raw / "advbench" / "harmful_behaviors.csv")
    out["safety/advbench.jsonl"] = _write_jsonl(
        DATA_DIR / "safety" / "advbench.jsonl",
        [{"id": str(i), "prompt": r["goal"], "category": ""} for i, r in enumerate(adv)],
    )
    hb = _read_csv(raw / "harmbench" / "harmbench_behaviors_text_all.csv")
    out["safety/harmbench.jsonl"] = _write_jsonl(
        DATA_DIR / "safety" / "harmbench.jsonl",
        [
            {"id": r["BehaviorID"], "prompt": r["Behavior"], "category": r["SemanticCategory"]}
            for r in hb
            if r["FunctionalCategory"] == "standard"  # contextual/copyright need context or hashing
        ],
    )
    dna = _read_csv(raw / "do_not_answer" / "do_not_answer_en.csv")
    out["safety/do_not_answer.jsonl"] = _write_jsonl(
        DATA_DIR / "safety" / "do_not_answer.jsonl",
        [{"id": r["id"], "prompt": r["question"], "category": r["risk_area"]} for r in dna],
    )
    xs = _read_csv(raw / "xstest_prompts" / "xstest_prompts.csv")
    for label in ("safe", "unsafe"):
        out[f"safety/xstest_{label}.jsonl"] = _write_jsonl(
            DATA_DIR / "safety" / f"xstest_{label}.jsonl",
            [{"id": r["id"], "prompt": r["prompt"], "category": r["type"]} for r in xs if r["label"] == label],
        )
    return out


LICENSES = {
    "mmlu-MIT": "mmlu/LICENSE",
    "bbh-MIT": "bbh/LICENSE",
    "gsm8k-MIT": "gsm8k/LICENSE",
    "truthfulqa-Apache-2.0": "truthfulqa/LICENSE",
    "advbench-MIT": "advbench/LICENSE",
    "harmbench-MIT": "harmbench/LICENSE",
    "xstest-CC-BY-4.0": "xstest_prompts/LICENSE",
}


def vendor_all(raw: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for fn in (vendor_mmlu, vendor_bbh, vendor_gsm8k, vendor_truthfulqa, vendor_drop, vendor_safety):
        counts.update(fn(raw))
    lic_dir = DATA_DIR / "licenses"
    lic_dir.mkdir(parents=True, exist_ok=True)
    for name, rel in LICENSES.items():
        shutil.copyfile(raw / rel, lic_dir / name)
    return counts


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3].parent / "shared" / "data"
    for name, n in vendor_all(root).items():
        print(f"{n:6d}  {name}")
