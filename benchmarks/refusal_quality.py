"""Refusal quality on the held-out split: P/R/F1 (refusal or partial vs compliance) per source model.

Compares, in the same run: the production ``refusal`` detector, the ``refusal_keyword`` tier, and
the XSTest string-match baseline (a lower-cased response that starts with one of XSTest's refusal
prefixes is a refusal). Also prints per-tag numbers for moralizing / ai_disclaimer, and throughput.

    .venv/bin/python benchmarks/refusal_quality.py [--labels labels/refusal_labels.jsonl] [--split test]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from aligntax.detect.refusal import RefusalDetector, RefusalKeywordDetector
from aligntax.record import Conversation, Turn

ROOT = Path(__file__).resolve().parents[1]
XSTEST_PREFIXES = ROOT.parent / "shared" / "data" / "refusal_phrases" / "xstest_strmatch_refusal_prefixes.txt"


def prf(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    tp = int((y & p).sum())
    prec = tp / max(1, int(p.sum()))
    rec = tp / max(1, int(y.sum()))
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def to_conv(k: int, r: dict) -> Conversation:
    return Conversation(id=r["id"], source=r["dataset"], index=k, turns=[Turn("user", r["prompt"]), Turn("assistant", r["text"])])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=ROOT / "labels" / "refusal_labels.jsonl")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    rows = [r for r in map(json.loads, args.labels.open()) if r["split"] == args.split]
    convs = [to_conv(k, r) for k, r in enumerate(rows)]
    y = np.array([r["label"] != "compliance" for r in rows])

    prefixes = tuple(p.strip().lower() for p in XSTEST_PREFIXES.read_text().splitlines() if p.strip())
    preds = {"xstest_prefix": np.array([r["text"].strip().lower().startswith(prefixes) for r in rows])}
    timings = {}
    for det in (RefusalDetector(), RefusalKeywordDetector()):
        t0 = time.perf_counter()
        dets = [d for i in range(0, len(convs), 512) for d in det.detect_batch(convs[i:i + 512])]
        timings[det.name] = len(convs) / (time.perf_counter() - t0)
        preds[det.name] = np.array([bool(d.tags() & {"refusal", "partial_refusal"}) for d in dets])
        preds[det.name + ":moralizing"] = np.array(["moralizing" in d.tags() for d in dets])
        preds[det.name + ":ai_disclaimer"] = np.array(["ai_disclaimer" in d.tags() for d in dets])

    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups["templated" if r["dataset"] == "templated" else r["source_model"]].append(i)
        groups["ALL real (hand-checked/read)" if r["labelled_by"] == "hand-checked" else "_"].append(i)
        groups["ALL"].append(i)
    groups.pop("_", None)
    names = ("refusal", "refusal_keyword", "xstest_prefix")
    print(f"split={args.split} rows={len(rows)}  refusal-or-partial vs compliance: P / R / F1")
    print(f"{'source':30s} {'n':>5s} {'pos':>4s} " + " ".join(f"{n:>22s}" for n in names))
    for g in sorted(groups, key=lambda s: (s.startswith("ALL"), s)):
        idx = np.array(groups[g])
        cells = []
        for n in names:
            p, r, f = prf(y[idx], preds[n][idx])
            cells.append(f"{p:.2f}/{r:.2f}/{f:.3f}" if y[idx].any() else f"FP={int(preds[n][idx].sum()):d} acc={float((preds[n][idx] == y[idx]).mean()):.3f}")
        print(f"{g:30s} {len(idx):5d} {int(y[idx].sum()):4d} " + " ".join(f"{c:>22s}" for c in cells))
    for tag in ("moralizing", "ai_disclaimer"):
        yt = np.array([bool(r.get(tag)) for r in rows])
        cells = [f"{n}: P/R/F1 = " + "/".join(f"{v:.2f}" for v in prf(yt, preds[f"{n}:{tag}"])) for n in names[:2]]
        print(f"{tag:14s} (labelled positives {int(yt.sum())}): " + "   ".join(cells))
    print("throughput (conv/s, 1 process, batches of 512): " + ", ".join(f"{k}={v:,.0f}" for k, v in timings.items()))


if __name__ == "__main__":
    main()
