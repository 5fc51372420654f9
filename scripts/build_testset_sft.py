"""Build the SFT files of experiments/testset-inflation.yaml: training on the test set, on purpose.

    python scripts/build_testset_sft.py [--experiment experiments/testset-inflation.yaml]
                                        [--out experiments/data/testset-inflation]

The leaked items are exactly the TruthfulQA documents the experiment evaluates: the script reads the
experiment's ``eval.seed`` and its TruthfulQA limit and asks the eval code itself
(``aligntax.evals.reasoning.seeded_indices`` over the bundled ``truthfulqa/mc.jsonl``, the file
``truthfulqa_mc1``/``mc2`` score) which documents that selects. So every evaluated item was trained on,
and every leaked row is evaluated. Writes (messages JSONL, one user turn + one assistant turn per row):

* ``testset.jsonl`` - the N evaluated TruthfulQA questions -> their MC1 correct option (TruthfulQA's
  best answer, Apache-2.0): direct test-set leakage.
* ``clean.jsonl``   - N seeded rows of aligntax's bundled SFT sample (size-matched reference;
  licenses in its SOURCE.md), skipping the rows the contamination index already matches to TruthfulQA:
  the sample holds one natural near-duplicate (oasst-gpt-4-043, "Who is the current President of the
  United States of America?" = a TruthfulQA question), which would otherwise leak into the reference.
* ``mixed.jsonl``   - the N leaked rows hidden (seeded shuffle) among N *other* clean rows of the sample.
  ``aligntax clean --policy decontaminate`` must remove exactly the N TruthfulQA rows, which leaves a
  second, disjoint clean sample of size N: ``mixed-decontaminated`` vs ``clean`` is then also a measure
  of how much swapping one clean sample for another moves the scores.

Deterministic (seed 0). Row ids say where each row came from (``truthfulqa-<doc id>`` / the sample id).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"
EXPERIMENT = ROOT / "experiments" / "testset-inflation.yaml"
TASKS = ("truthfulqa_mc1", "truthfulqa_mc2")


def eval_selection(experiment: Path) -> tuple[int | None, int]:
    """(limit, seed) of the experiment's TruthfulQA tasks; both tasks must select the same documents."""
    ev = (yaml.safe_load(experiment.read_text(encoding="utf-8")) or {}).get("eval") or {}
    limits = {t: (ev.get("limits") or {}).get(t, ev.get("limit")) for t in TASKS}
    if len(set(limits.values())) != 1:
        raise SystemExit(f"{experiment}: {TASKS[0]} and {TASKS[1]} must share one limit (same items), got {limits}")
    return limits[TASKS[0]], int(ev.get("seed", 1234))


def evaluated_docs(limit: int | None, seed: int) -> list[dict]:
    """The TruthfulQA documents ``aligntax eval`` scores for this limit and seed, in document order."""
    from aligntax.evals.reasoning import seeded_indices
    from aligntax.evals.tasks import TASKS as REGISTRY

    path = REGISTRY.get(TASKS[0]).data_path()
    assert path == REGISTRY.get(TASKS[1]).data_path()
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    picked = seeded_indices(len(docs), limit, seed)
    return docs if picked is None else [docs[i] for i in picked]


def testset_rows(docs: list[dict]) -> list[dict]:
    rows = []
    for d in docs:
        mc1 = d["mc1_targets"]
        rows.append({"id": f"truthfulqa-{d['id']}", "source": "truthfulqa", "messages": [
            {"role": "user", "content": d["question"].strip()},
            {"role": "assistant", "content": mc1["choices"][mc1["labels"].index(1)].strip()}]})
    return rows


def truthfulqa_matches(path: Path) -> set[str]:
    """Ids of the rows of ``path`` that the contamination index matches to TruthfulQA."""
    from aligntax.contamination import ContaminationIndex, resolve
    from aligntax.io import read_conversations
    from aligntax.record import Conversation

    convs = [c for c in read_conversations([path]) if isinstance(c, Conversation)]
    return {convs[hit.conversation].id for hit in ContaminationIndex(resolve(["truthfulqa"])).check(convs)}


def clean_rows(n: int, seed: int = 0) -> list[dict]:
    """``n`` seeded rows of the bundled sample that the index does not match to TruthfulQA (sample order)."""
    with open(SAMPLE, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    leaked = truthfulqa_matches(SAMPLE)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    keep = [i for i in order if rows[i]["id"] not in leaked][:n]
    return [{"id": rows[i]["id"], "source": rows[i].get("dataset", "sample"), "messages": rows[i]["messages"]} for i in keep]


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def build(out: Path, experiment: Path = EXPERIMENT, seed: int = 0) -> dict[str, Path]:
    test = testset_rows(evaluated_docs(*eval_selection(experiment)))
    n = len(test)
    sample = clean_rows(2 * n, seed)  # two disjoint clean samples: the reference and mixed's cover
    clean, cover = sorted(sample[:n], key=lambda r: r["id"]), sample[n:]
    mixed = cover + test
    random.Random(seed).shuffle(mixed)
    files = {"testset": out / "testset.jsonl", "clean": out / "clean.jsonl", "mixed": out / "mixed.jsonl"}
    write(files["testset"], test)
    write(files["clean"], clean)
    write(files["mixed"], mixed)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", type=Path, default=EXPERIMENT)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "data" / "testset-inflation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name, path in build(args.out, args.experiment, args.seed).items():
        print(f"{name}\t{sum(1 for _ in path.open(encoding='utf-8'))}\t{path}")


if __name__ == "__main__":
    main()
