"""End-to-end audit throughput (read -> default detectors -> annotations.parquet) on ~1 KB real
conversations, against a naive per-row Python keyword loop in the same run; and peak RSS of
the audit process at two input sizes, to show memory stays flat.

    .venv/bin/python benchmarks/audit_speed.py [--rows 50000] [--jobs 2] [--repeat 3]

Each audit runs ``--repeat`` times in fresh processes and the median is reported with the range: on a
shared 2-core machine one run can be 20 % off the next.

Conversations are sampled (with replacement, seeded) from the ~3.4k real prompt/answer pairs in
../shared/data and written as messages JSONL. Rows repeat, but nothing in the audit caches by
content (the shared phrase scan is keyed by string identity), so a repeated row costs full price.

For comparing two versions on a noisy machine, count instructions instead of seconds, e.g.
``valgrind --tool=callgrind python -c "..."`` over a fixed number of batches.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_pairs() -> list[tuple[str, str]]:
    pairs = []
    for path in sorted((DATA / "oasst_model_eval_samples").glob("*.json")):
        pairs += [(p["prompt"], p["results"][0]["outputs"][0]) for p in json.loads(path.read_text())["prompts"]]
    questions = {json.loads(l)["question_id"]: json.loads(l)["text"] for l in (DATA / "vicuna_bench_answers" / "question.jsonl").open()}
    for path in sorted((DATA / "vicuna_bench_answers").glob("answer_*.jsonl")):
        pairs += [(questions[r["question_id"]], r["text"]) for r in map(json.loads, path.open())]
    rows = json.loads((DATA / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json").read_text())
    pairs += [((r["instruction"] + "\n\n" + r["input"]).strip(), r["response"]) for r in rows]
    for line in (DATA / "hh_rlhf_harmless_base" / "test.jsonl").open():
        text = json.loads(line)["chosen"]
        human, _, assistant = text.partition("\n\nAssistant:")
        pairs.append((human.replace("\n\nHuman:", "").strip(), assistant.split("\n\nHuman:")[0].strip()))
    return [(p, a) for p, a in pairs if 300 <= len(p) + len(a) <= 2500]  # ~1 KB conversations


def write_input(path: Path, rows: int, seed: int = 0) -> None:
    pairs, rng = real_pairs(), random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for _ in range(rows):
            prompt, answer = rng.choice(pairs)
            f.write(json.dumps({"messages": [{"role": "user", "content": prompt},
                                             {"role": "assistant", "content": answer}]}) + "\n")


def naive_baseline(path: Path) -> int:
    """What people write first: json.loads each line, lower() each answer, `in` for every phrase."""
    phrases = [l.strip().lower() for l in (DATA / "refusal_phrases" / "sharegpt_vicuna_unfiltered_mitigation_phrases.txt").open() if l.strip()]
    flagged = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = row["messages"][-1]["content"].lower()
            flagged += any(p in text for p in phrases)
    return flagged


def child(path: str, out: str, jobs: int) -> None:
    from aligntax.audit import run_audit

    t = time.perf_counter()
    res = run_audit([path], out, jobs=jobs, report=False)
    elapsed = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "rows": res.summary["rows"], "rss_mb": rss_mb,
                      "detectors": [d["name"] for d in res.summary["detectors"]]}))


def audit_in_subprocess(path: Path, out: Path, jobs: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", str(path), str(out), str(jobs)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="runs per setting; the median is reported")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big, small = tmp / "big.jsonl", tmp / "small.jsonl"
        write_input(big, args.rows)
        write_input(small, args.rows // 4, seed=1)
        mb = big.stat().st_size / 1e6
        print(f"input: {args.rows:,} conversations, {mb:.1f} MB ({big.stat().st_size / args.rows:.0f} B/conv)")

        t = time.perf_counter()
        naive_baseline(big)
        naive_s = time.perf_counter() - t
        print(f"naive keyword loop (1 phrase list, 1 core): {args.rows / naive_s:>9,.0f} conv/s  {mb / naive_s:6.1f} MB/s")

        results = {}
        for jobs in sorted({1, args.jobs}):
            runs = sorted((audit_in_subprocess(big, tmp / f"out{jobs}", jobs) for _ in range(max(1, args.repeat))),
                          key=lambda r: r["seconds"])
            r = results[jobs] = runs[len(runs) // 2]
            spread = (f" (runs {r['rows'] / runs[-1]['seconds']:,.0f}-{r['rows'] / runs[0]['seconds']:,.0f})"
                      if len(runs) > 1 else "")
            print(f"aligntax audit, jobs={jobs} ({len(r['detectors'])} detectors): {r['rows'] / r['seconds']:>9,.0f} conv/s  "
                  f"{mb / r['seconds']:6.1f} MB/s  peak RSS {r['rss_mb']:.0f} MB{spread}")
        best = results[args.jobs]
        print(f"ratio audit(jobs={args.jobs}) / naive: {(best['rows'] / best['seconds']) / (args.rows / naive_s):.2f}x "
              f"(the audit runs {len(best['detectors'])} detectors and writes Parquet; the baseline matches one list)")
        print(f"ratio jobs={args.jobs} / jobs=1: {results[1]['seconds'] / best['seconds']:.2f}x")
        small_r = audit_in_subprocess(small, tmp / "small_out", args.jobs)
        print(f"peak RSS: {args.rows // 4:,} rows {small_r['rss_mb']:.0f} MB, {args.rows:,} rows {best['rss_mb']:.0f} MB "
              f"(ratio {best['rss_mb'] / small_r['rss_mb']:.2f}x for 4x the rows)")


if __name__ == "__main__":
    main()
