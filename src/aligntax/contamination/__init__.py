"""Eval contamination: which training conversations contain benchmark items.

    from aligntax.contamination import ContaminationIndex, resolve
    index = ContaminationIndex(resolve(["gsm8k", "mmlu"]), ngram=13)
    hits = index.check(conversations)   # ContaminationHit(conversation, turn, benchmark, item_id, match, score)
"""

from aligntax.contamination.benchmarks import BUNDLED, BenchmarkItem, load_benchmark, load_eval_file, resolve
from aligntax.contamination.index import MATCH_KINDS, ContaminationHit, ContaminationIndex

__all__ = [
    "BUNDLED",
    "MATCH_KINDS",
    "BenchmarkItem",
    "ContaminationHit",
    "ContaminationIndex",
    "load_benchmark",
    "load_eval_file",
    "resolve",
]
