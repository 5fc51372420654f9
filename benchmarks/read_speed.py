"""Read throughput of ``read_conversations`` against naive baselines, on ~100 MB of real SFT rows.

    .venv/bin/python benchmarks/read_speed.py [--size-mb 100] [--repeat 3]

Builds a JSONL file by repeating the bundled real sample (src/aligntax/data/sample/sft_sample.jsonl,
``messages`` format) up to the size asked, and a Parquet file with the same rows, in a temporary
directory. Baselines: ``json.loads`` per line (dicts only, no conversations) and
``pyarrow.parquet.read_table().to_pylist()``. Prints MB/s, conversations/s and our/baseline ratios
(best of ``--repeat`` runs each).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import aligntax
from aligntax.io import read_conversations

SAMPLE = Path(aligntax.__file__).parent / "data" / "sample" / "sft_sample.jsonl"


def build_inputs(directory: Path, size_mb: int) -> tuple[Path, Path, int]:
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    block = "\n".join(lines) + "\n"
    repeats = max(1, size_mb * 1024 * 1024 // len(block.encode()))
    jsonl = directory / "rows.jsonl"
    with jsonl.open("w", encoding="utf-8") as f:
        for _ in range(repeats):
            f.write(block)
    parquet = directory / "rows.parquet"
    rows = [json.loads(line) for line in lines]
    table = pa.Table.from_pylist(rows)
    with pq.ParquetWriter(parquet, table.schema) as writer:
        for _ in range(repeats):
            writer.write_table(table)
    return jsonl, parquet, len(lines) * repeats


def best_of(repeat: int, fn) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - start)
    return min(times), count


def baseline_jsonl(path: Path) -> int:
    n = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                json.loads(line)
                n += 1
    return n


def baseline_parquet(path: Path) -> int:
    return len(pq.read_table(path).to_pylist())


def ours(path: Path) -> int:
    return sum(1 for _ in read_conversations([path]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jsonl, parquet, rows = build_inputs(Path(tmp), args.size_mb)
        print(f"{rows:,} conversations; JSONL {jsonl.stat().st_size / 2**20:.1f} MB, "
              f"Parquet {parquet.stat().st_size / 2**20:.1f} MB (sizes on disk; MB/s below is JSONL-equivalent MB)")
        mb = jsonl.stat().st_size / 2**20
        print(f"{'input':8} {'reader':28} {'seconds':>8} {'MB/s':>8} {'conv/s':>10} {'vs baseline':>12}")
        for label, path, baseline, base_name in (("jsonl", jsonl, baseline_jsonl, "json.loads per line"),
                                                 ("parquet", parquet, baseline_parquet, "read_table().to_pylist()")):
            t_base, n_base = best_of(args.repeat, lambda: baseline(path))
            t_ours, n_ours = best_of(args.repeat, lambda: ours(path))
            assert n_base == n_ours == rows, (n_base, n_ours, rows)
            for name, t in ((base_name, t_base), ("read_conversations", t_ours)):
                ratio = f"{t_base / t:.2f}x" if name == "read_conversations" else "1.00x"
                print(f"{label:8} {name:28} {t:8.2f} {mb / t:8.1f} {rows / t:10,.0f} {ratio:>12}")


if __name__ == "__main__":
    main()
