"""Dataset-level duplicate finding: exact duplicates, MinHash-LSH near-duplicates, repeated queries.

    from aligntax.dedup import DedupIndex
    index = DedupIndex(threshold=0.8, max_per_prompt=1)
    index.add(conversations)          # or add_batch(list) repeatedly
    result = index.finalize()         # DedupResult: .hits, .by_key, .tags_for(key), .summary()
"""

from aligntax.dedup.hashing import HashedWords, hash_words, ngram_hashes, text_hashes
from aligntax.dedup.index import TAGS, DedupConfig, DedupHit, DedupIndex, DedupResult, conversation_text

__all__ = [
    "TAGS",
    "DedupConfig",
    "DedupHit",
    "DedupIndex",
    "DedupResult",
    "HashedWords",
    "conversation_text",
    "hash_words",
    "ngram_hashes",
    "text_hashes",
]
