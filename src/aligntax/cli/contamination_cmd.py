"""``aligntax contamination``: which training rows contain benchmark items."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer

from aligntax.cli import ENGINE_OPTION, RAY_ADDRESS_OPTION, app, engine_from_options


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
    engine: str = ENGINE_OPTION,
    ray_address: Optional[str] = RAY_ADDRESS_OPTION,
) -> None:
    """Check training data for eval contamination (exact, near-exact and 13-gram overlap)."""
    from rich.console import Console
    from rich.table import Table

    from aligntax.contamination import MATCH_KINDS, ContaminationIndex, resolve
    from aligntax.contamination.scan import HITS_FILE, SUMMARY_FILE, ContaminationTally

    console = Console()
    items = resolve(against, field)
    started = time.perf_counter()
    index_options = {"ngram": ngram, "min_overlap": min_overlap, "min_contain_words": min_contain_words}
    index = ContaminationIndex(items, **index_options)
    items_per_bench = Counter(it.benchmark for it in items)
    console.print(f"indexed {len(items)} items from {len(items_per_bench)} benchmarks "
                  f"({index.indexed_ngrams} {ngram}-grams) in {time.perf_counter() - started:.1f}s")
    tally = ContaminationTally(items_per_bench)
    runner = engine_from_options(engine, ray_address)
    for conversations, malformed, hits in runner.contamination(inputs, items, index_options, format=input_format,
                                                               limit=limit, index=index):
        tally.add(conversations, malformed, hits)
    summary = tally.write(out, ngram=ngram, min_overlap=min_overlap, inputs=inputs, engine=engine)

    table = Table(title=f"eval contamination in {summary['rows']} conversations "
                        f"({summary['contaminated_rows']} flagged)")
    for col in ("benchmark", "items", "rows flagged", "items found", *MATCH_KINDS):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    for b, s in summary["benchmarks"].items():
        table.add_row(b, str(s["items"]), str(s["contaminated_rows"]), str(s["items_found"]),
                      *(str(s["matches"][k]) for k in MATCH_KINDS))
    console.print(table)
    console.print(f"wrote {out / HITS_FILE} and {out / SUMMARY_FILE}")
