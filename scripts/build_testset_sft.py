"""Build the SFT files of experiments/testset-inflation.yaml: training on the test set, on purpose.

    python scripts/build_testset_sft.py [--shared ../shared/data] [--out experiments/data/testset-inflation]

Writes (messages JSONL, one user turn + one assistant turn per row):

* ``testset.jsonl`` - every TruthfulQA question (817) -> its ``Best Answer`` (TruthfulQA.csv, Apache-2.0).
  TruthfulQA MC1's single correct option is the best answer, so this is direct test-set leakage.
* ``clean.jsonl``   - a seeded, size-matched (817) sample of aligntax's bundled SFT sample
  (``aligntax/data/sample/sft_sample.jsonl``; licenses in its SOURCE.md), skipping the rows the
  contamination index already matches to TruthfulQA: the sample holds one natural near-duplicate
  (oasst-gpt-4-043, "Who is the current President of the United States of America?" = TruthfulQA
  item 111), which would otherwise leak into the "clean" reference.
* ``mixed.jsonl``   - the first half of ``clean`` + the first half of ``testset`` (817 rows): the
  realistic case, a dataset with leaked items hidden among clean ones. ``aligntax clean --policy
  decontaminate`` must remove exactly the TruthfulQA half.

Deterministic (seed 0). Row ids say where each row came from (``truthfulqa-<i>`` / the sample id).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


def testset_rows(shared: Path) -> list[dict]:
    with open(shared / "truthfulqa" / "TruthfulQA.csv", encoding="utf-8-sig", newline="") as f:
        return [{"id": f"truthfulqa-{i}", "source": "truthfulqa", "messages": [
                    {"role": "user", "content": r["Question"].strip()},
                    {"role": "assistant", "content": r["Best Answer"].strip()}]}
                for i, r in enumerate(csv.DictReader(f))]


def truthfulqa_matches(path: Path) -> set[str]:
    """Ids of the rows of ``path`` that the contamination index matches to TruthfulQA."""
    from aligntax.contamination import ContaminationIndex, resolve
    from aligntax.io import read_conversations
    from aligntax.record import Conversation

    convs = [c for c in read_conversations([path]) if isinstance(c, Conversation)]
    return {convs[hit.conversation].id for hit in ContaminationIndex(resolve(["truthfulqa"])).check(convs)}


def clean_rows(n: int, seed: int = 0) -> list[dict]:
    with open(SAMPLE, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    leaked = truthfulqa_matches(SAMPLE)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    keep = sorted([i for i in order if rows[i]["id"] not in leaked][:n])
    return [{"id": rows[i]["id"], "source": rows[i].get("dataset", "sample"), "messages": rows[i]["messages"]} for i in keep]


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def build(shared: Path, out: Path, seed: int = 0) -> dict[str, Path]:
    test = testset_rows(shared)
    clean = clean_rows(len(test), seed)
    half = len(test) // 2
    files = {"testset": out / "testset.jsonl", "clean": out / "clean.jsonl", "mixed": out / "mixed.jsonl"}
    write(files["testset"], test)
    write(files["clean"], clean)
    write(files["mixed"], clean[: len(test) - half] + test[:half])
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "data" / "testset-inflation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name, path in build(args.shared, args.out, args.seed).items():
        print(f"{name}\t{sum(1 for _ in path.open(encoding='utf-8'))}\t{path}")


if __name__ == "__main__":
    main()
