"""Train the shipped refusal classifier (src/aligntax/data/models/refusal_clf.npz) from labels/.

Reproducible: fixed seed, deterministic solver, vocabulary sorted. scikit-learn is used here only;
inference (aligntax.detect.refusal_classifier) needs numpy alone. Only ``split == "train"`` rows
are used, so benchmarks/refusal_quality.py measures unseen models and prompts.

    .venv/bin/python scripts/train_refusal_classifier.py [--labels labels/refusal_labels.jsonl]
        [--out src/aligntax/data/models/refusal_clf.npz] [--limit N] [--loso]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from aligntax.detect.textscan import normalise
from aligntax.detect.refusal_classifier import HEADS, Featurizer, RefusalClassifier, ngram_keys

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
MIN_DF = 3
MIN_SOURCES = 2  # an n-gram must occur in responses of >= 2 source models: generalise, don't memorise
C = 0.3


def load(path: Path, split: str | None = "train", limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.open()]
    rows = [r for r in rows if split is None or r["split"] == split]
    return rows[:limit] if limit else rows


def source_group(r: dict) -> str:
    return r["source_model"].split("-")[0] if r["dataset"] == "templated" else r["source_model"]


def vocab_source(r: dict) -> str:
    """Who an n-gram's wording comes from: one writer imitating several models still counts once."""
    return f"written-{r['writer']}" if r["dataset"] == "written" else r["source_model"]


def build_vocab(rows: list[dict]) -> list[str]:
    df: Counter[str] = Counter()
    sources: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        for k in set(ngram_keys(normalise(r["text"]))):
            df[k] += 1
            if len(sources[k]) < MIN_SOURCES:
                sources[k].add(vocab_source(r))
    return sorted(k for k, n in df.items() if n >= MIN_DF and len(sources[k]) >= MIN_SOURCES)


def design(feat: Featurizer, rows: list[dict]) -> sparse.csr_matrix:
    f = feat([r["text"] for r in rows], [r["prompt"] for r in rows])
    data = np.ones(len(f.ids), dtype=np.float32)
    sp = sparse.csr_matrix((data, f.ids, f.offsets), shape=(len(rows), len(feat.vocab)))
    return sparse.hstack([sp, sparse.csr_matrix(f.dense)], format="csr")


def targets(rows: list[dict]) -> dict[str, np.ndarray]:
    return {
        "refusal_any": np.array([r["label"] != "compliance" for r in rows], dtype=int),
        "partial": np.array([r["label"] == "partial_refusal" for r in rows], dtype=int),
        "moralizing": np.array([bool(r.get("moralizing")) for r in rows], dtype=int),
    }


def fit(rows: list[dict]) -> RefusalClassifier:
    vocab = build_vocab(rows)
    feat = Featurizer({k: i for i, k in enumerate(vocab)})
    X = design(feat, rows)
    y = targets(rows)
    # balance sources so 1,400 templated rows do not outvote 250 real ones per model
    per_source = Counter(source_group(r) for r in rows)
    w = np.array([1.0 / per_source[source_group(r)] ** 0.5 for r in rows])
    w *= len(rows) / w.sum()
    n_dense = X.shape[1] - len(vocab)
    sparse_w = np.zeros((len(vocab), len(HEADS)), dtype=np.float32)
    dense_w = np.zeros((n_dense, len(HEADS)), dtype=np.float32)
    bias = np.zeros(len(HEADS), dtype=np.float32)
    for j, head in enumerate(HEADS):
        mask = np.ones(len(rows), dtype=bool) if head != "partial" else y["refusal_any"] == 1
        yy = y[head][mask]
        if yy.min() == yy.max():
            bias[j] = 10.0 if yy[0] else -10.0
            continue
        clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=SEED, solver="liblinear")
        clf.fit(X[mask], yy, sample_weight=w[mask])
        coef = clf.coef_[0]
        sparse_w[:, j] = coef[: len(vocab)]
        dense_w[:, j] = coef[len(vocab):]
        bias[j] = clf.intercept_[0]
    meta = {"threshold": "0.5", "rows": str(len(rows)), "vocab": str(len(vocab)), "C": str(C), "seed": str(SEED)}
    return RefusalClassifier(vocab, sparse_w, dense_w, bias, HEADS, meta)


def prf(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    tp = int((y & p).sum())
    prec = tp / max(1, int(p.sum()))
    rec = tp / max(1, int(y.sum()))
    return prec, rec, 2 * prec * rec / max(1e-9, prec + rec)


def leave_one_source_out(rows: list[dict]) -> None:
    groups = sorted({source_group(r) for r in rows})
    for g in groups:
        train = [r for r in rows if source_group(r) != g]
        test = [r for r in rows if source_group(r) == g]
        model = fit(train)
        probs, _ = model.predict([r["text"] for r in test], [r["prompt"] for r in test])
        y = targets(test)["refusal_any"].astype(bool)
        p, rc, f1 = prf(y, probs[:, 0] >= 0.5)
        acc = float(((probs[:, 0] >= 0.5) == y).mean())
        print(f"LOSO {g:22s} n={len(test):4d} pos={int(y.sum()):3d} P={p:.3f} R={rc:.3f} F1={f1:.3f} acc={acc:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=ROOT / "labels" / "refusal_labels.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "aligntax" / "data" / "models" / "refusal_clf.npz")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N training rows (smoke tests)")
    ap.add_argument("--loso", action="store_true", help="also report leave-one-source-out F1 on the train split")
    args = ap.parse_args()
    rows = load(args.labels, "train", args.limit)
    if args.loso:
        leave_one_source_out(rows)
    model = fit(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"trained on {len(rows)} rows, vocab {len(model.vocab_list)}; wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
