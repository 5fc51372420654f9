"""One contamination scan over training rows: per-batch hit rows (the unit an engine runs anywhere)
and the driver-side tally that writes ``contamination.parquet`` and ``summary.json``."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa

from aligntax.contamination.index import MATCH_KINDS, ContaminationIndex
from aligntax.record import Conversation

HITS_FILE, SUMMARY_FILE = "contamination.parquet", "summary.json"
HITS_SCHEMA = pa.schema([("source", pa.string()), ("index", pa.int64()), ("sub", pa.int64()), ("id", pa.string()),
                         ("turn", pa.int64()), ("benchmark", pa.string()), ("item_id", pa.string()),
                         ("match", pa.string()), ("score", pa.float64())])


def hit_table(index: ContaminationIndex, batch: Sequence[Conversation]) -> pa.Table:
    """The hits of one batch of conversations, one row per (conversation, item) match."""
    cols: dict[str, list] = defaultdict(list)
    for hit in index.check(batch):
        conv = batch[hit.conversation]
        for name, value in (("source", conv.source), ("index", conv.index), ("sub", conv.sub), ("id", conv.id),
                            ("turn", hit.turn), ("benchmark", hit.benchmark), ("item_id", hit.item_id),
                            ("match", hit.match), ("score", hit.score)):
            cols[name].append(value)
    return pa.table({f.name: cols.get(f.name, []) for f in HITS_SCHEMA}, schema=HITS_SCHEMA)


class ContaminationTally:
    """Collects hit tables in input order and writes the outputs."""

    def __init__(self, items_per_bench: Counter[str]) -> None:
        self.items_per_bench = items_per_bench
        self.tables: list[pa.Table] = []
        self.rows = self.malformed = 0

    def add(self, conversations: int, malformed: int, hits: pa.Table) -> None:
        self.rows += conversations
        self.malformed += malformed
        if hits.num_rows:
            self.tables.append(hits)

    def write(self, out: Path, *, ngram: int, min_overlap: float, inputs: Iterable[str | Path],
              engine: str = "local") -> dict[str, Any]:
        from aligntax.audit.writers import write_text_atomic

        hits = pa.concat_tables(self.tables) if self.tables else HITS_SCHEMA.empty_table()
        out.mkdir(parents=True, exist_ok=True)
        _write_parquet_atomic(hits, out / HITS_FILE)
        flagged_rows: dict[str, set] = defaultdict(set)
        flagged_items: dict[str, set] = defaultdict(set)
        kinds: dict[str, Counter] = defaultdict(Counter)
        for row in hits.select(["source", "index", "sub", "benchmark", "item_id", "match"]).to_pylist():
            bench = row["benchmark"]
            flagged_rows[bench].add((row["source"], row["index"], row["sub"]))
            flagged_items[bench].add(row["item_id"])
            kinds[bench][row["match"]] += 1
        all_flagged = set().union(*flagged_rows.values()) if flagged_rows else set()
        summary = {
            "rows": self.rows,
            "malformed": self.malformed,
            "contaminated_rows": len(all_flagged),
            "pairs": hits.num_rows,
            "ngram": ngram,
            "min_overlap": min_overlap,
            "benchmarks": {
                b: {"items": self.items_per_bench[b], "contaminated_rows": len(flagged_rows[b]),
                    "items_found": len(flagged_items[b]), "matches": {k: kinds[b][k] for k in MATCH_KINDS}}
                for b in self.items_per_bench
            },
            "inputs": [str(p) for p in inputs],
            "engine": engine,
        }
        write_text_atomic(out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
        return summary


def _write_parquet_atomic(table: pa.Table, path: Path) -> None:
    import os

    import pyarrow.parquet as pq

    from aligntax.util import temp_beside

    tmp = temp_beside(path)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
