"""Near-duplicate signature speed and agreement: rensa vs datasketch, vectorised vs naive shingling.

    .venv/bin/python benchmarks/dedup_speed.py [--rows 20000]

Corpus: real HH-RLHF conversations (../shared/data), repeated with light edits to reach --rows,
so it also contains near-duplicates. Measures conversations/s for
  1. aligntax: vectorised normalisation + shingle hashing + rensa signatures (the default path);
  2. the same shingles + datasketch MinHash (backend="datasketch");
  3. naive baseline: per-text regex normalisation, shingle strings, datasketch MinHash.update_batch;
  4. the whole DedupIndex (signatures + LSH + union-find + exact/prompt hashes) with rensa;
and the agreement of the near-duplicate sets the rensa and datasketch backends find.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

import numpy as np

from aligntax.dedup import DedupIndex, conversation_text, hash_words, ngram_hashes
from aligntax.dedup.minhash import datasketch_signatures, rensa_signatures
from aligntax.io import read_conversations
from aligntax.record import Conversation, Turn

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NUM_PERM, SHINGLE, SEED = 128, 5, 1


def corpus(rows: int) -> list[Conversation]:
    base = [c for c in read_conversations([DATA / "hh_rlhf_harmless_base" / "test.jsonl"]) if isinstance(c, Conversation)]
    rng = random.Random(0)
    out = list(base)
    while len(out) < rows:
        c = rng.choice(base)
        turns = [Turn(t.role, t.content) for t in c.turns]
        words = turns[-1].content.split()
        if words and rng.random() < 0.5:
            words[rng.randrange(len(words))] = "edited"
        turns[-1] = Turn(turns[-1].role, " ".join(words))
        out.append(Conversation(id=f"syn{len(out)}", source="synthetic", index=len(out), turns=turns))
    return out[:rows]


def vectorised(texts: list[str], signatures) -> np.ndarray:
    return signatures(ngram_hashes(hash_words(texts), SHINGLE), NUM_PERM, SEED)


_WORD = re.compile(r"\w+")


def naive_datasketch(texts: list[str]) -> list:
    from datasketch import MinHash

    out = []
    for t in texts:
        words = _WORD.findall(t.lower())
        shingles = {" ".join(words[i : i + SHINGLE]).encode() for i in range(max(len(words) - SHINGLE + 1, 1))}
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        m.update_batch(list(shingles))
        out.append(m)
    return out


def rate(fn, n: int, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--baseline-rows", type=int, default=3000, help="rows for the slow datasketch runs")
    args = parser.parse_args()
    convs = corpus(args.rows)
    texts = [conversation_text(c) for c in convs]
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} conversations, mean {mean_chars:.0f} chars, num_perm={NUM_PERM}, shingle={SHINGLE} words")

    batches = [texts[i : i + 4096] for i in range(0, len(texts), 4096)]
    r_rensa = rate(lambda: [vectorised(b, rensa_signatures) for b in batches], len(texts), repeat=3)
    small = texts[: args.baseline_rows]
    r_ds = rate(lambda: vectorised(small, datasketch_signatures), len(small))
    r_naive = rate(lambda: naive_datasketch(small), len(small))

    def full_index():
        ix = DedupIndex(num_perm=NUM_PERM, shingle_size=SHINGLE)
        ix.add(convs)
        return ix.finalize()

    r_index = rate(full_index, len(convs))
    print(f"  aligntax signatures (rensa)        {r_rensa:10.0f} conv/s")
    print(f"  same shingles, datasketch MinHash  {r_ds:10.0f} conv/s   rensa is {r_rensa / r_ds:5.1f}x faster")
    print(f"  naive datasketch pipeline          {r_naive:10.0f} conv/s   aligntax is {r_rensa / r_naive:5.1f}x faster")
    print(f"  full DedupIndex add+finalize       {r_index:10.0f} conv/s")

    found = {}
    sample = convs[: args.baseline_rows]
    for backend in ("rensa", "datasketch"):
        ix = DedupIndex(backend=backend, num_perm=NUM_PERM, shingle_size=SHINGLE)
        ix.add(sample)
        found[backend] = {h.key for h in ix.finalize().hits if h.tag == "near_duplicate"}
    union = found["rensa"] | found["datasketch"]
    agree = len(found["rensa"] & found["datasketch"]) / max(len(union), 1)
    print(f"  near-duplicates on {len(sample)} rows: rensa {len(found['rensa'])}, datasketch {len(found['datasketch'])}, "
          f"agreement (Jaccard of tagged rows) {agree:.3f}")


if __name__ == "__main__":
    main()
