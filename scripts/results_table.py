"""Print the headline table of an ablation's results.csv as Markdown (for docs/results/*/README.md).

    python scripts/results_table.py docs/results/testset-inflation/results.csv [--variants base,clean,...]

One row per task x headline metric (aggregate rows, seed ``all``), one column per variant:
``mean [CI]`` and, for every variant but the reference, ``Δ delta [CI]`` against the reference. Every
number is read from the CSV that ``aligntax ablate`` / ``aligntax report`` wrote.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def _f(x: str, signed: bool = False) -> str:
    return "" if x == "" else (f"{float(x):+.3f}" if signed else f"{float(x):.3f}")


def cell(row: dict[str, str]) -> str:
    text = f"{_f(row['value'])} [{_f(row['ci_low'])}, {_f(row['ci_high'])}]"
    if row["delta"] != "":
        text += f"<br>Δ {_f(row['delta'], True)} [{_f(row['delta_low'], True)}, {_f(row['delta_high'], True)}]"
    return text


def table(path: Path, variants: list[str] | None = None) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["row"] == "aggregate" and r["headline"] == "1"]
    order = variants or list(dict.fromkeys(r["variant"] for r in rows))
    keys = list(dict.fromkeys((r["task"], r["metric"], r["n"]) for r in rows))
    by = {(r["task"], r["metric"], r["n"], r["variant"]): r for r in rows}
    lines = ["| benchmark (metric, n) | " + " | ".join(order) + " |", "|---" * (len(order) + 1) + "|"]
    for task, metric, n in keys:
        cells = [cell(by[(task, metric, n, v)]) if (task, metric, n, v) in by else "" for v in order]
        lines.append(f"| {task} ({metric}, n={n}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--variants", help="comma list: column order (default: the CSV's order)")
    args = parser.parse_args()
    print(table(args.csv, args.variants.split(",") if args.variants else None))


if __name__ == "__main__":
    main()
