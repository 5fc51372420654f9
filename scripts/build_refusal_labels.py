"""Build labels/refusal_labels.jsonl: real model responses with refusal-quality labels.

Every row: id, dataset, source_model, prompt, text, label (compliance | refusal | partial_refusal),
moralizing, ai_disclaimer (bool), split (train | test), labelled_by (weak | hand-checked |
hand-written | templated), note.

Real responses come from /work/shared/data (oasst_model_eval_samples, vicuna_bench_answers,
self_instruct, gpteacher_roleplay, hh_rlhf_harmless_base). They get a weak label from the keyword
tier, then labels/hand_checked.tsv (written by reading the rows; see docs/labelling-guide.md)
overrides it. labels/handwritten.jsonl and labels/templated.jsonl are appended as they are.

Held-out split: whole source models (claude-v1.3, bard, vicuna-13b, gpt-4-gpteacher) plus every
HH-RLHF and hand-written row whose prompt hashes into the test bucket, so the benchmark measures
generalisation to unseen models and unseen prompts.

    .venv/bin/python scripts/build_refusal_labels.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
from pathlib import Path

from aligntax.detect.refusal import RefusalKeywordDetector

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "labels"
TEST_MODELS = {"claude-v1.3", "bard", "vicuna-13b", "gpt-4-gpteacher"}
SEED = 13
LABELS_ALLOWED = frozenset({"compliance", "refusal", "partial_refusal"})
# Writers added after the detector was last tuned: never trained on, never looked at while tuning, so the
# benchmark's group (e) stays an untouched estimate for model styles nobody trained for. F and G were fresh for
# one round and measured (e: 0.97; Zephyr 0.83, GPT-3.5 0.90) before their errors were used for tuning; so
# were H and I (e with D, E: 0.98; Mistral-7B-instruct-v0.1 0.85, Zephyr 0.90, Gemini-1.0 0.92), L (0.93) and
# M and N (0.93 and 0.88; Mistral-7B-instruct-v0.1 with/without its guardrail prompt, Zephyr-7b-beta lowest), and P
# (0.96; every model >= 0.91). O is fresh (0.98 on arrival; Zephyr-7b-beta 0.90).
FRESH_WRITERS = frozenset({"D", "E", "J", "K", "O"})


def _prompt_bucket(prompt: str) -> str:
    return "test" if int(hashlib.sha1(prompt.encode()).hexdigest(), 16) % 4 == 0 else "train"


def oasst(data: Path):
    for path in sorted((data / "oasst_model_eval_samples").glob("*.json")):
        doc = json.loads(path.read_text())
        model = doc["model_name"].split("/")[-1]
        model = {"gpt-3.5-turbo": "gpt-3.5-turbo", "gpt-4": "gpt-4"}.get(model, model)
        if "claude" in path.name:
            model = "claude-v1.3"
        for k, p in enumerate(doc["prompts"]):
            yield f"oasst/{model}/{k}", "oasst_model_eval_samples", model, p["prompt"], p["results"][0]["outputs"][0]


def vicuna(data: Path):
    base = data / "vicuna_bench_answers"
    questions = {q["question_id"]: q["text"] for q in map(json.loads, (base / "question.jsonl").open())}
    for path in sorted(base.glob("answer_*.jsonl")):
        model = path.stem.removeprefix("answer_")
        for row in map(json.loads, path.open()):
            yield f"vicuna/{model}/{row['question_id']}", "vicuna_bench_answers", model, questions[row["question_id"]], row["text"]


def self_instruct(data: Path):
    for k, row in enumerate(map(json.loads, (data / "self_instruct" / "text-davinci-003_predictions.jsonl").open())):
        prompt = row["instruction"] + (("\n\n" + row["input"]) if row.get("input") else "")
        yield f"self_instruct/{k}", "self_instruct", "text-davinci-003", prompt, row["response"]


def gpteacher(data: Path, n: int = 320, keep: frozenset[str] = frozenset()):
    rows = json.loads((data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json").read_text())
    kw = RefusalKeywordDetector()
    flagged = [k for k, r in enumerate(rows) if kw.score_text(r["response"], r["instruction"]).refusal_any >= 0.3]
    rest = [k for k in range(len(rows)) if k not in set(flagged)]
    kept = {int(k.split("/")[1]) for k in keep if k.startswith("gpteacher/")}
    picked = sorted(set(flagged) | set(random.Random(SEED).sample(rest, n)) | kept)
    for k in picked:
        r = rows[k]
        prompt = r["instruction"] + (("\n\n" + r["input"]) if r.get("input") else "")
        yield f"gpteacher/{k}", "gpteacher_roleplay", "gpt-4-gpteacher", prompt, r["response"]


def _last_turns(transcript: str) -> tuple[str, str]:
    head, _, answer = transcript.rpartition("\n\nAssistant:")
    prompt = head.rpartition("\n\nHuman:")[2]
    return prompt.strip(), answer.strip()


def hh(data: Path, n: int = 500):
    rows = [json.loads(line) for line in (data / "hh_rlhf_harmless_base" / "test.jsonl").open()]
    for k in sorted(random.Random(SEED).sample(range(len(rows)), n // 2)):
        for side in ("chosen", "rejected"):
            prompt, answer = _last_turns(rows[k][side])
            if answer:
                yield f"hh/{k}/{side}", "hh_rlhf_harmless_base", "anthropic-hh", prompt, answer


def handwritten_style_heldout() -> list[dict]:
    """labels/handwritten_style_heldout.tsv: refusal styles written by hand, never trained on."""
    path = LABELS / "handwritten_style_heldout.tsv"
    rows = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        label, flags, style, prompt, text = line.split("\t")
        rows.append({"id": f"handwritten/{k}", "dataset": "handwritten", "source_model": "handwritten",
                     "prompt": prompt, "text": text.replace("\\n", "\n"), "label": label,
                     "moralizing": "M" in flags, "ai_disclaimer": "D" in flags, "note": style,
                     "split": "style_heldout", "labelled_by": "hand-written"})
    return rows


def written() -> list[dict]:
    """labels/written/writer_*.jsonl: responses written in named models' styles (docs/labelling-guide.md).

    Each file is one writer; ``source_model`` is the imitated model, ``writer`` the file, so the benchmark
    can hold a whole writer out. Rows whose prompt hashes into the test bucket are held out as ``test``;
    a ``FRESH_WRITERS`` file is held out whole (``fresh_heldout``)."""
    rows = []
    for path in sorted((LABELS / "written").glob("writer_*.jsonl")):
        writer = path.stem.removeprefix("writer_")
        for line_no, line in enumerate(path.open(encoding="utf-8"), 1):
            r = json.loads(line)
            if r["label"] not in LABELS_ALLOWED:
                raise SystemExit(f"{path}:{line_no}: unknown label {r['label']!r}")
            rows.append({"id": r["id"], "dataset": "written", "source_model": r["style"], "writer": writer,
                         "prompt": r["prompt"], "text": r["text"], "label": r["label"],
                         "moralizing": bool(r["moralizing"]), "ai_disclaimer": bool(r["ai_disclaimer"]),
                         "note": r.get("note", ""), "prompt_source": r.get("prompt_source", ""),
                         "split": "fresh_heldout" if writer in FRESH_WRITERS else _prompt_bucket(r["prompt"]),
                         "labelled_by": "hand-written"})
    return rows


def _real_bucket(prompt: str) -> str:
    return "real_heldout" if int(hashlib.sha1(prompt.encode()).hexdigest(), 16) % 2 else "train"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def real_outputs() -> list[dict]:
    """labels/real_outputs/<model>/: real generations of a model run offline (scripts/generate_model_responses.py),
    labelled independently by two people (labels_*.jsonl, one line per response, same order); every row on
    which they disagree is settled in adjudicated.tsv by a third reader. Half the prompts (by hash) are
    ``train`` - the only real outputs the lexicon was tuned on and the classifier sees - and half are
    held out (``real_heldout``), never trained or tuned on."""
    rows = []
    root = LABELS / "real_outputs"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        responses = _jsonl(folder / "responses.jsonl")
        labellers = {p.stem.removeprefix("labels_"): _jsonl(p) for p in sorted(folder.glob("labels_*.jsonl"))}
        if len(labellers) != 2 or any(len(v) != len(responses) for v in labellers.values()):
            raise SystemExit(f"{folder}: expected two labels_*.jsonl files with {len(responses)} lines each")
        adjudicated = {}
        for line in (folder / "adjudicated.tsv").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                row, label, reason = line.split("\t")
                adjudicated[int(row)] = (label, reason)
        (na, a), (nb, b) = labellers.items()
        for i, r in enumerate(responses):
            la, lb = a[i], b[i]
            if la["row"] != i or lb["row"] != i:
                raise SystemExit(f"{folder}: labels out of order at row {i}")
            if i in adjudicated:
                label, note = adjudicated[i]
            elif la["label"] == lb["label"]:
                label, note = la["label"], la["note"]
            else:
                raise SystemExit(f"{folder}/adjudicated.tsv: row {i} ({na}={la['label']}, {nb}={lb['label']}) is not settled")
            if label not in LABELS_ALLOWED:
                raise SystemExit(f"{folder}: row {i}: unknown label {label!r}")
            rows.append({"id": f"real/{folder.name}/{i}", "dataset": "real_outputs", "source_model": r["source_model"],
                         "prompt": r["prompt"], "text": r["response"], "label": label,
                         "moralizing": la["moralizing"] and lb["moralizing"],  # flags: both labellers
                         "ai_disclaimer": la["ai_disclaimer"] and lb["ai_disclaimer"], "note": note,
                         "prompt_source": f"{r['dataset']}:{r['prompt_id']}", "prompt_label": r["prompt_label"],
                         "unclear": bool(la["unclear"] or lb["unclear"] or i in adjudicated),
                         "split": _real_bucket(r["prompt"]), "labelled_by": "hand-labelled x2"})
    return rows


def load_overrides() -> dict[str, dict]:
    path = LABELS / "hand_checked.tsv"
    out: dict[str, dict] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        rid, label = parts[0], parts[1]
        flags = parts[2] if len(parts) > 2 else ""
        out[rid] = {"label": label, "moralizing": "M" in flags, "ai_disclaimer": "D" in flags,
                    "note": parts[3] if len(parts) > 3 else ""}
    return out


def weak_label(kw: RefusalKeywordDetector, text: str, prompt: str) -> dict:
    s = kw.score_text(text, prompt)
    label = "compliance"
    if s.refusal_any >= 0.5:
        label = "partial_refusal" if s.partial >= 0.5 else "refusal"
    return {"label": label, "moralizing": s.moralizing >= 0.5, "ai_disclaimer": s.ai_disclaimer >= 0.5, "note": ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    kw = RefusalKeywordDetector()
    overrides = load_overrides()
    rows = []
    keep = frozenset(overrides)
    for gen in (oasst, vicuna, self_instruct, lambda d: gpteacher(d, keep=keep), hh):
        for rid, dataset, model, prompt, text in gen(args.data):
            if not text.strip():
                continue
            lab = overrides.get(rid)
            if dataset == "hh_rlhf_harmless_base" and not lab:
                continue  # HH labels are too subjective to trust weakly: keep only rows read by hand
            how = "hand-checked" if lab else "weak"
            lab = lab or weak_label(kw, text, prompt)
            split = "test" if model in TEST_MODELS else "train"
            if model in ("anthropic-hh", "gpt-3.5-turbo", "gpt-4", "text-davinci-003"):
                split = _prompt_bucket(prompt) if model == "anthropic-hh" else split
            rows.append({"id": rid, "dataset": dataset, "source_model": model, "prompt": prompt, "text": text,
                         **lab, "split": split, "labelled_by": how})
    for name in ("handwritten.jsonl", "templated.jsonl"):
        path = LABELS / name
        if path.exists():
            for row in map(json.loads, path.open()):
                row.setdefault("split", _prompt_bucket(row["prompt"]))
                rows.append(row)
    rows.extend(handwritten_style_heldout())
    rows.extend(written())
    rows.extend(real_outputs())
    unknown = set(overrides) - {r["id"] for r in rows}
    if unknown:
        raise SystemExit(f"hand_checked.tsv names rows that were not built: {sorted(unknown)[:5]}")
    out = LABELS / "refusal_labels.jsonl"
    with out.open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts: dict[tuple, int] = {}
    for r in rows:
        counts[(r["split"], r["source_model"], r["label"])] = counts.get((r["split"], r["source_model"], r["label"]), 0) + 1
    for key in sorted(counts):
        print(*key, counts[key], sep="\t")
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
