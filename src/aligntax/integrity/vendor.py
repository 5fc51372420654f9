"""Build the bundled preference-pair sources in ``aligntax/data/integrity`` from the raw public copies.

    python -m aligntax.integrity.vendor /path/to/shared/data

Deterministic: AdvBench and HarmBench targets are copied whole; HH-RLHF harmless-base test is
a seeded subset (``random.Random(1234).sample``, kept in file order) of ``HH_ROWS`` pairs.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "data" / "integrity"
HH_ROWS = 500


def _write(name: str, rows: list[dict]) -> None:
    # mtime=0: byte-identical output on every rebuild
    with open(OUT_DIR / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for row in rows:
            gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


def build(shared: Path) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "licenses").mkdir(exist_ok=True)
    with open(shared / "advbench" / "harmful_behaviors.csv", encoding="utf-8", newline="") as f:
        adv = [{"id": str(i), "prompt": r["goal"], "target": r["target"]} for i, r in enumerate(csv.DictReader(f))]
    _write("advbench_targets.jsonl.gz", adv)
    targets = json.loads((shared / "harmbench" / "harmbench_targets_text.json").read_text(encoding="utf-8"))
    _write("harmbench_targets.jsonl.gz", [{"id": k, "target": v} for k, v in targets.items()])
    with open(shared / "hh_rlhf_harmless_base" / "test.jsonl", encoding="utf-8") as f:
        hh = [json.loads(line) for line in f if line.strip()]
    keep = sorted(random.Random(1234).sample(range(len(hh)), HH_ROWS))
    _write("hh_rlhf_harmless.jsonl.gz", [{"id": f"test-{i}", **hh[i]} for i in keep])
    shutil.copy(shared / "advbench" / "LICENSE", OUT_DIR / "licenses" / "advbench-MIT")
    shutil.copy(shared / "harmbench" / "LICENSE", OUT_DIR / "licenses" / "harmbench-MIT")
    shutil.copy(shared / "hh_rlhf_harmless_base" / "LICENSE", OUT_DIR / "licenses" / "hh-rlhf-MIT")


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
