"""``aligntax dedup``: exact duplicates, near-duplicates and repeated queries across inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from aligntax.cli import ENGINE_OPTION, RAY_ADDRESS_OPTION, app, engine_from_options

COLUMNS = ("source", "index", "sub", "id", "tag", "cluster_id", "representative_id", "similarity")


@app.command()
def dedup(
    inputs: List[Path] = typer.Argument(..., help="Training files (any format aligntax reads)."),
    out: Path = typer.Option(..., "--out", help="Output directory (duplicates.parquet, summary.json)."),
    threshold: float = typer.Option(0.8, help="Near-duplicate Jaccard threshold (MinHash estimate)."),
    num_perm: int = typer.Option(128, help="MinHash permutations."),
    shingle: int = typer.Option(5, help="Words per shingle."),
    max_per_prompt: int = typer.Option(1, help="Rows allowed per normalised first prompt before repeated_query."),
    backend: str = typer.Option("rensa", help="MinHash backend: rensa or datasketch."),
    near: bool = typer.Option(True, "--near/--no-near", help="Find near-duplicates (MinHash LSH)."),
    input_format: Optional[str] = typer.Option(None, "--format", help="Force the input format."),
    limit: Optional[int] = typer.Option(None, help="Read at most this many rows."),
    engine: str = ENGINE_OPTION,
    ray_address: Optional[str] = RAY_ADDRESS_OPTION,
) -> None:
    """Find duplicate conversations, near-duplicates and repeated queries (first occurrence is kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.table import Table

    from aligntax.dedup import TAGS, DedupConfig

    config = DedupConfig(threshold=threshold, num_perm=num_perm, shingle_size=shingle, max_per_prompt=max_per_prompt,
                         backend=backend, near_duplicates=near)
    result, malformed = engine_from_options(engine, ray_address).dedup(inputs, config, format=input_format, limit=limit)
    out.mkdir(parents=True, exist_ok=True)
    rows = {c: [getattr(h, c) for h in result.hits] for c in COLUMNS}
    schema = pa.schema([("source", pa.string()), ("index", pa.int64()), ("sub", pa.int64()), ("id", pa.string()),
                        ("tag", pa.string()), ("cluster_id", pa.int64()), ("representative_id", pa.string()),
                        ("similarity", pa.float64())])
    pq.write_table(pa.table(rows, schema=schema), out / "duplicates.parquet")
    summary = {**result.summary(), "malformed": malformed, "inputs": [str(p) for p in inputs]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"duplicates in {result.rows} conversations")
    for col in ("tag", "rows", "clusters", "share"):
        table.add_column(col, justify="left" if col == "tag" else "right")
    for tag in TAGS:
        n = summary["counts"][tag]
        table.add_row(tag, str(n), str(summary["clusters"][tag]), f"{n / max(result.rows, 1):.1%}")
    Console().print(table)
    Console().print(f"wrote {out / 'duplicates.parquet'} and {out / 'summary.json'}")
