"""Local vs Ray engine throughput on the same input, same run, same machine: ``audit`` (default
detectors) and ``clean --policy poison-of-alignment`` (detectors + the dedup pass), plus a check
that both engines wrote the same outputs.

    .venv/bin/python benchmarks/engine_speed.py [--shards 4] [--cpus 2]

Input: the bundled 3,002-conversation sample written ``--shards`` times (one JSONL file per shard).
The local engine uses ``--cpus`` worker processes; Ray is started locally with ``num_cpus=--cpus``.
Ray's start-up is timed on its own line and not included in its rates.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


def timed(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()

    import ray

    from aligntax.engines import get_engine
    from aligntax.shape import run_clean

    work = Path(tempfile.mkdtemp(prefix="engine-speed-"))
    data = work / "data"
    data.mkdir()
    text = SAMPLE.read_text(encoding="utf-8")
    for i in range(args.shards):
        (data / f"part-{i:03d}.jsonl").write_text(text, encoding="utf-8")
    rows = args.shards * len(text.splitlines())

    ray_start = timed(lambda: ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False))
    local, distributed = get_engine("local"), get_engine("ray")
    print(f"input: {rows:,} conversations in {args.shards} shards; {args.cpus} CPUs; "
          f"Ray start-up {ray_start:.1f}s (not in the rates)")
    for task, run in (
        ("audit", lambda engine, out: engine.audit([str(data)], out, jobs=args.cpus, report=False)),
        ("clean", lambda engine, out: run_clean([str(data)], "poison-of-alignment", out,
                                                engine=engine.clean_engine())),
    ):
        seconds = {}
        for engine in (local, distributed):
            seconds[engine.name] = timed(lambda: run(engine, work / f"{task}-{engine.name}"))
        rate = {name: rows / s for name, s in seconds.items()}
        print(f"{task:5s}  local {rate['local']:8,.0f} conv/s ({seconds['local']:5.1f}s)   "
              f"ray {rate['ray']:8,.0f} conv/s ({seconds['ray']:5.1f}s)   ray/local {rate['ray'] / rate['local']:.2f}")
    same_audit = pq.read_table(work / "audit-local" / "annotations.parquet").equals(
        pq.read_table(work / "audit-ray" / "annotations.parquet"))
    same_clean = all((work / "clean-local" / f).read_bytes() == (work / "clean-ray" / f).read_bytes()
                     for f in ("kept.jsonl", "rejected.jsonl"))
    print(f"outputs equal: annotations {same_audit}, kept/rejected {same_clean}")
    ray.shutdown()


if __name__ == "__main__":
    main()
