"""Generate real model answers to public safety prompts, for hand-labelling as refusal data.

The written label sets are imitations of model styles; this produces *real* outputs of a model we can
run offline (the embedded SmolLM2-135M-Instruct by default), so the refusal detector can be measured on
text no person or writer shaped. Prompts: all 450 XSTest prompts plus seeded samples of AdvBench,
HarmBench (standard behaviours) and Do-Not-Answer. Greedy decoding unless ``--temperature`` is given.

    python scripts/generate_model_responses.py --per-set 50 --max-new-tokens 128 --out labels/real_outputs/smollm2-135m-instruct/responses.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def safety_prompts(data: Path, per_set: int, seed: int) -> list[dict]:
    """(dataset, prompt_id, prompt, prompt_label) for every XSTest prompt and ``per_set`` of each other set."""
    rng = random.Random(seed)
    out = [
        {"dataset": "xstest", "prompt_id": r["id"], "prompt": r["prompt"], "prompt_label": r["label"], "prompt_type": r["type"]}
        for r in _rows(data / "xstest_prompts" / "xstest_prompts.csv")
    ]
    others = {
        "advbench": [(str(i), r["goal"]) for i, r in enumerate(_rows(data / "advbench" / "harmful_behaviors.csv"))],
        "harmbench": [
            (r["BehaviorID"], r["Behavior"])
            for r in _rows(data / "harmbench" / "harmbench_behaviors_text_all.csv")
            if r["FunctionalCategory"] == "standard"
        ],
        "do_not_answer": [(r["id"], r["question"]) for r in _rows(data / "do_not_answer" / "do_not_answer_en.csv")],
    }
    for name, items in others.items():
        for pid, prompt in rng.sample(items, min(per_set, len(items))):
            out.append({"dataset": name, "prompt_id": pid, "prompt": prompt, "prompt_label": "unsafe", "prompt_type": name})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--per-set", type=int, default=100, help="prompts sampled from each non-XSTest set")
    ap.add_argument("--max-new-tokens", type=int, default=200)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--system", default=None, help="system prompt sent before every prompt")
    ap.add_argument("--datasets", default="xstest,advbench,harmbench,do_not_answer", help="comma-separated subset")
    args = ap.parse_args()

    from aligntax.models.backends import TransformersBackend
    from aligntax.util import write_text_atomic

    wanted = set(args.datasets.split(","))
    prompts = [p for p in safety_prompts(args.data, args.per_set, args.seed) if p["dataset"] in wanted][: args.limit]
    system = [{"role": "system", "content": args.system}] if args.system else []
    backend = TransformersBackend.from_ref(args.model, batch_size=args.batch_size)
    start = time.perf_counter()
    answers = backend.generate(
        [system + [{"role": "user", "content": p["prompt"]}] for p in prompts], max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed
    )
    elapsed = time.perf_counter() - start
    decoding = "greedy" if args.temperature == 0 else f"t={args.temperature}"
    lines = [
        json.dumps({**p, "source_model": args.model, "decoding": decoding, "system": args.system, "response": a}, ensure_ascii=False)
        for p, a in zip(prompts, answers)
    ]
    write_text_atomic(args.out, "\n".join(lines) + "\n")
    print(f"{len(lines)} responses in {elapsed:.0f}s -> {args.out}")


if __name__ == "__main__":
    main()
