"""Contamination check speed: the hashed n-gram index vs a naive n-gram-set baseline.

    .venv/bin/python benchmarks/contamination_speed.py [--rows 5000]

Training data: the bundled SFT sample plus HH-RLHF conversations (real rows), repeated to --rows.
Both methods check the same conversations against the same benchmarks (all bundled) with
13-grams; the naive baseline builds a Python dict {13-gram tuple -> items} and looks up every
n-gram of every turn (the textbook GPT-3-style implementation). Prints conversations/s, the
ratio, and whether both flag the same conversations.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from aligntax.contamination import ContaminationIndex, resolve
from aligntax.io import read_conversations
from aligntax.record import Conversation

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
N = 13
_WORD = re.compile(r"[a-z0-9\x80-\U0010ffff]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def naive_index(items) -> dict:
    table: dict[tuple, set] = {}
    for k, it in enumerate(items):
        w = words(it.text)
        for i in range(len(w) - N + 1):
            table.setdefault(tuple(w[i : i + N]), set()).add(k)
    return table


def naive_check(table: dict, convs: list[Conversation]) -> set[int]:
    flagged = set()
    for ci, c in enumerate(convs):
        for t in c.turns:
            w = words(t.content)
            if any(tuple(w[i : i + N]) in table for i in range(len(w) - N + 1)):
                flagged.add(ci)
                break
    return flagged


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    sample = ROOT / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"
    base = [c for c in read_conversations([sample, DATA / "hh_rlhf_harmless_base" / "test.jsonl"])
            if isinstance(c, Conversation)]
    convs = (base * (args.rows // len(base) + 1))[: args.rows]
    items = resolve(None)

    t = time.perf_counter()
    index = ContaminationIndex(items, ngram=N)
    build = time.perf_counter() - t
    t = time.perf_counter()
    flagged = set()
    for s in range(0, len(convs), 2048):
        flagged |= {s + h.conversation for h in index.check(convs[s : s + 2048])}
    ours = len(convs) / (time.perf_counter() - t)

    t = time.perf_counter()
    table = naive_index(items)
    naive_build = time.perf_counter() - t
    t = time.perf_counter()
    naive_flagged = naive_check(table, convs)
    naive = len(convs) / (time.perf_counter() - t)

    print(f"{len(convs)} conversations vs {len(items)} benchmark items ({N}-grams)")
    print(f"  index build: aligntax {build:.1f}s, naive dict {naive_build:.1f}s")
    print(f"  aligntax check   {ours:9.0f} conv/s")
    print(f"  naive baseline   {naive:9.0f} conv/s   aligntax is {ours / naive:.1f}x faster")
    print(f"  flagged conversations: aligntax {len(flagged)}, naive any-13-gram {len(naive_flagged)}")


if __name__ == "__main__":
    main()
