"""Train the ``harmful_prompt`` classifier and write src/aligntax/data/models/harmful_prompt.npz.

    .venv/bin/python scripts/train_harmful_prompt.py [--data ../shared/data]

Harmful: AdvBench behaviours, HarmBench behaviours, Do-Not-Answer questions, XSTest unsafe.
Benign: XSTest safe (hard negatives, up-weighted), Self-Instruct instructions, Vicuna questions,
OASST prompts, GSM8K test questions, a fixed MMLU sample, TruthfulQA questions. Features and the 20% hold-out split
come from ``aligntax.detect.harmful_prompt`` so training and inference cannot drift.

Prints (1) leave-one-source-out results: the model is trained without a whole source and scored
on it (recall for harmful sources, false-positive rate for benign ones) and (2) precision/recall
per source on the fixed hold-out split for the shipped model, which is fit on non-hold-out rows.
Needs scikit-learn and scipy (training only).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

from aligntax.detect.harmful_prompt import MODEL_PATH, N_BUCKETS, HarmfulPromptModel, feature_buckets, is_holdout

SEED = 13
HARD_NEGATIVE_WEIGHT = 10.0  # XSTest safe; XSTest unsafe gets half of it
C = 4.0


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_sources(root: Path) -> dict[str, tuple[int, list[str]]]:
    """source -> (label, prompts); label 1 = harmful."""
    xstest = _csv(root / "xstest_prompts" / "xstest_prompts.csv")
    oasst = []
    for path in sorted((root / "oasst_model_eval_samples").glob("*.json")):
        oasst += [p["prompt"] for p in json.loads(path.read_text(encoding="utf-8"))["prompts"]]
    self_instruct = [r["instruction"] for r in _jsonl(root / "self_instruct" / "seed_tasks.jsonl")]
    self_instruct += [r["instruction"] for r in _jsonl(root / "self_instruct" / "user_oriented_instructions.jsonl")]
    mmlu = []
    for path in sorted((root / "mmlu" / "test").glob("*_test.csv")):
        mmlu += [r["question"] for r in _csv(path)]
    random.Random(SEED).shuffle(mmlu)
    sources = {
        "advbench": (1, [r["goal"] for r in _csv(root / "advbench" / "harmful_behaviors.csv")]),
        "harmbench": (1, [r["Behavior"] for r in _csv(root / "harmbench" / "harmbench_behaviors_text_all.csv")]),
        "do_not_answer": (1, [r["question"] for r in _csv(root / "do_not_answer" / "do_not_answer_en.csv")]),
        "xstest_unsafe": (1, [r["prompt"] for r in xstest if r["label"] == "unsafe"]),
        "xstest_safe": (0, [r["prompt"] for r in xstest if r["label"] == "safe"]),
        "self_instruct": (0, self_instruct),
        "vicuna": (0, [r["text"] for r in _jsonl(root / "vicuna_bench_answers" / "question.jsonl")]),
        "oasst": (0, sorted(set(oasst))),
        "gsm8k": (0, [r["question"] for r in _jsonl(root / "gsm8k" / "test.jsonl")]),
        "mmlu": (0, mmlu[:1500]),
        # question-style benign prompts, so "How do I ...?" alone does not read as harmful
        "truthfulqa": (0, [r["Question"] for r in _csv(root / "truthfulqa" / "TruthfulQA.csv")]),
    }
    return sources


@lru_cache(maxsize=None)
def _features(text: str) -> np.ndarray:
    return feature_buckets(text)


def _matrix(texts: list[str]) -> csr_matrix:
    rows = [_features(t) for t in texts]
    indptr = np.r_[0, np.cumsum([len(r) for r in rows])]
    indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    return csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(texts), N_BUCKETS))


def _fit(texts: list[str], labels: list[int], sources: list[str]) -> HarmfulPromptModel:
    names = np.asarray(sources)
    weight = np.where(names == "xstest_safe", HARD_NEGATIVE_WEIGHT, np.where(names == "xstest_unsafe", HARD_NEGATIVE_WEIGHT / 2, 1.0))
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=SEED)
    clf.fit(_matrix(texts), np.asarray(labels), sample_weight=weight)
    return HarmfulPromptModel(np.arange(N_BUCKETS), clf.coef_[0].astype(np.float32), float(clf.intercept_[0]))


def _rows(sources: dict[str, tuple[int, list[str]]], *, holdout: bool | None, exclude: str | None = None):
    texts, labels, names = [], [], []
    for name, (label, prompts) in sources.items():
        if name == exclude:
            continue
        for p in prompts:
            if holdout is None or is_holdout(p) == holdout:
                texts.append(p), labels.append(label), names.append(name)
    return texts, labels, names


def _report(model: HarmfulPromptModel, sources, *, holdout: bool | None, only: str | None = None) -> None:
    for name, (label, prompts) in sources.items():
        if only and name != only:
            continue
        sel = [p for p in prompts if holdout is None or is_holdout(p) == holdout]
        flagged = int((model.score(sel) >= 0.5).sum()) if sel else 0
        rate = flagged / max(len(sel), 1)
        what = "recall" if label else "false-positive rate"
        print(f"  {name:15s} n={len(sel):5d} flagged={flagged:5d}  {what} = {rate:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    sources = load_sources(args.data)

    print("leave-one-source-out (trained without the source, scored on all of it):")
    for name in sources:
        model = _fit(*_rows(sources, holdout=None, exclude=name))
        _report(model, sources, holdout=None, only=name)

    model = _fit(*_rows(sources, holdout=False))
    texts, labels, names = _rows(sources, holdout=True)
    pred = model.score(texts) >= 0.5
    y = np.asarray(labels) == 1
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    print(f"\nshipped model on the 20% hold-out split: precision={tp / max(tp + fp, 1):.3f} "
          f"recall={tp / max(tp + fn, 1):.3f} (n={len(texts)})")
    _report(model, sources, holdout=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out, seed=SEED, C=C, sources=np.array(sorted(sources)))
    print(f"\nwrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
