"""``aligntax contamination``: which training rows contain benchmark items."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import List, Optional

import typer

from aligntax.cli import app

BATCH = 2048


@app.command()
def contamination(
    inputs: List[Path] = typer.Argument(..., help="Training files (any format aligntax reads)."),
    out: Path = typer.Option(..., "--out", help="Output directory (contamination.parquet, summary.json)."),
    against: Optional[List[str]] = typer.Option(
        None, "--against", help="Bundled benchmark name or eval file (jsonl/json/csv); repeatable. Default: all bundled."
    ),
    field: Optional[str] = typer.Option(None, "--field", help="Text field of --against files (default: guessed)."),
    ngram: int = typer.Option(13, "--ngram", help="Word n-gram size."),
    min_overlap: float = typer.Option(0.5, "--min-overlap", help="Minimum share of an item's words in shared n-grams."),
    min_contain_words: int = typer.Option(5, help="Shorter items only match exactly; longer short items by containment."),
    input_format: Optional[str] = typer.Option(None, "--format", help="Force the input format."),
    limit: Optional[int] = typer.Option(None, help="Read at most this many rows."),
) -> None:
    """Check training data for eval contamination (exact, near-exact and 13-gram overlap)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.table import Table

    from aligntax.contamination import MATCH_KINDS, ContaminationIndex, resolve
    from aligntax.io import read_conversations
    from aligntax.record import Conversation

    console = Console()
    items = resolve(against, field)
    started = time.perf_counter()
    index = ContaminationIndex(items, ngram=ngram, min_overlap=min_overlap, min_contain_words=min_contain_words)
    items_per_bench = Counter(it.benchmark for it in items)
    console.print(f"indexed {len(items)} items from {len(items_per_bench)} benchmarks "
                  f"({index.indexed_ngrams} {ngram}-grams) in {time.perf_counter() - started:.1f}s")

    cols: dict[str, list] = defaultdict(list)
    rows_seen = malformed = 0
    flagged_rows: dict[str, set] = defaultdict(set)
    flagged_items: dict[str, set] = defaultdict(set)
    kinds: dict[str, Counter] = defaultdict(Counter)

    def flush(batch: list[Conversation]) -> None:
        for hit in index.check(batch):
            conv = batch[hit.conversation]
            for name, value in (("source", conv.source), ("index", conv.index), ("sub", conv.sub), ("id", conv.id),
                                ("turn", hit.turn), ("benchmark", hit.benchmark), ("item_id", hit.item_id),
                                ("match", hit.match), ("score", hit.score)):
                cols[name].append(value)
            flagged_rows[hit.benchmark].add(conv.key)
            flagged_items[hit.benchmark].add(hit.item_id)
            kinds[hit.benchmark][hit.match] += 1

    batch: list[Conversation] = []
    for item in read_conversations(inputs, format=input_format, on_error="quarantine", limit=limit):
        if not isinstance(item, Conversation):
            malformed += 1
            continue
        rows_seen += 1
        batch.append(item)
        if len(batch) >= BATCH:
            flush(batch)
            batch = []
    flush(batch)

    out.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("source", pa.string()), ("index", pa.int64()), ("sub", pa.int64()), ("id", pa.string()),
                        ("turn", pa.int64()), ("benchmark", pa.string()), ("item_id", pa.string()),
                        ("match", pa.string()), ("score", pa.float64())])
    pq.write_table(pa.table({f.name: cols.get(f.name, []) for f in schema}, schema=schema), out / "contamination.parquet")
    all_flagged = set().union(*flagged_rows.values()) if flagged_rows else set()
    summary = {
        "rows": rows_seen,
        "malformed": malformed,
        "contaminated_rows": len(all_flagged),
        "pairs": len(cols["benchmark"]),
        "ngram": ngram,
        "min_overlap": min_overlap,
        "benchmarks": {
            b: {
                "items": items_per_bench[b],
                "contaminated_rows": len(flagged_rows[b]),
                "items_found": len(flagged_items[b]),
                "matches": {k: kinds[b][k] for k in MATCH_KINDS},
            }
            for b in items_per_bench
        },
        "inputs": [str(p) for p in inputs],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"eval contamination in {rows_seen} conversations ({len(all_flagged)} flagged)")
    for col in ("benchmark", "items", "rows flagged", "items found", *MATCH_KINDS):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    for b, s in summary["benchmarks"].items():
        table.add_row(b, str(s["items"]), str(s["contaminated_rows"]), str(s["items_found"]),
                      *(str(s["matches"][k]) for k in MATCH_KINDS))
    console.print(table)
    console.print(f"wrote {out / 'contamination.parquet'} and {out / 'summary.json'}")
