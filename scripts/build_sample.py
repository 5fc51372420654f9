"""Build the bundled SFT sample (src/aligntax/data/sample/sft_sample.jsonl) from ../shared/data.

Deterministic: the same inputs and seed give the same bytes. Run from the repo root:
    python scripts/build_sample.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "src" / "aligntax" / "data" / "sample"
HH_ROWS = 1000
GPTEACHER_ROWS = 600
SEED = 0
HH_TURN = re.compile(r"\n\n(Human|Assistant): ")
ALIGNED_HINT = re.compile(r"as an ai|language model|i'm sorry|i am sorry|i cannot|i can't|not appropriate", re.I)


def hh_messages(transcript: str) -> list[dict]:
    parts = HH_TURN.split(transcript)
    roles = {"Human": "user", "Assistant": "assistant"}
    return [{"role": roles[r], "content": c.strip()} for r, c in zip(parts[1::2], parts[2::2])]


def from_hh(data: Path, rng: random.Random):
    rows = [json.loads(line) for line in (data / "hh_rlhf_harmless_base" / "test.jsonl").open(encoding="utf-8")]
    for i in sorted(rng.sample(range(len(rows)), HH_ROWS)):
        yield f"hh-{i:05d}", "hh_rlhf_harmless_base", "anthropic-52b-context-distilled", hh_messages(rows[i]["chosen"])


def from_oasst(data: Path, rng: random.Random):
    for path in sorted((data / "oasst_model_eval_samples").glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        for i, p in enumerate(report["prompts"]):
            answer = p["results"][0]["outputs"][0]
            msgs = [{"role": "user", "content": p["prompt"]}, {"role": "assistant", "content": answer}]
            yield f"oasst-{report['model_name']}-{i:03d}", "oasst_model_eval_samples", report["model_name"], msgs


def from_vicuna(data: Path, rng: random.Random):
    folder = data / "vicuna_bench_answers"
    questions = {q["question_id"]: q for q in map(json.loads, (folder / "question.jsonl").open(encoding="utf-8"))}
    for path in sorted(folder.glob("answer_*.jsonl")):
        for a in map(json.loads, path.open(encoding="utf-8")):
            q = questions[a["question_id"]]
            msgs = [{"role": "user", "content": q["text"]}, {"role": "assistant", "content": a["text"]}]
            yield f"vicuna-{a['answer_id']}", "vicuna_bench_answers", a["model_id"], msgs


def from_self_instruct(data: Path, rng: random.Random):
    path = data / "self_instruct" / "text-davinci-003_predictions.jsonl"
    for i, r in enumerate(map(json.loads, path.open(encoding="utf-8"))):
        prompt = r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "")
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": r["response"]}]
        yield f"self-instruct-{i:03d}", "self_instruct", "text-davinci-003", msgs


def from_gpteacher(data: Path, rng: random.Random):
    rows = json.loads((data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json").read_text("utf-8"))
    hinted = {i for i, r in enumerate(rows) if ALIGNED_HINT.search(r["response"])}
    rest = sorted(set(range(len(rows))) - hinted)
    chosen = sorted(hinted | set(rng.sample(rest, GPTEACHER_ROWS - len(hinted))))
    for i in chosen:
        r = rows[i]
        prompt = r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "")
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": r["response"]}]
        yield f"gpteacher-rp-{i:04d}", "gpteacher_roleplay", "gpt-4", msgs


LICENSES = {
    "hh_rlhf_harmless_base": "MIT",
    "oasst_model_eval_samples": "Apache-2.0",
    "vicuna_bench_answers": "Apache-2.0",
    "self_instruct": "Apache-2.0",
    "gpteacher_roleplay": "MIT",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    tmp = OUT_DIR / "sft_sample.jsonl.tmp"
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        for builder in (from_hh, from_oasst, from_vicuna, from_self_instruct, from_gpteacher):
            rng = random.Random(SEED)
            for cid, dataset, model, msgs in builder(args.shared, rng):
                row = {"id": cid, "dataset": dataset, "source_model": model, "license": LICENSES[dataset], "messages": msgs}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts[dataset] = counts.get(dataset, 0) + 1
    tmp.replace(OUT_DIR / "sft_sample.jsonl")
    for dataset in LICENSES:
        for lic in sorted((args.shared / dataset).glob("LICENSE*")):
            shutil.copyfile(lic, OUT_DIR / "licenses" / f"{dataset}-{lic.name}")
    print(json.dumps(counts, indent=1), sum(counts.values()))


if __name__ == "__main__":
    main()
