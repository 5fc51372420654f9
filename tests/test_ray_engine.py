"""The Ray engine equals the local engine on the bundled sample (plus injected exact and near
duplicates, a benchmark item and a malformed row), sharded across two input files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aligntax.dedup import DedupConfig
from aligntax.engines import get_engine
from aligntax.shape import run_clean

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.ray]
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


@pytest.fixture(scope="module")
def engines():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield get_engine("local"), get_engine("ray")
    ray.shutdown()


def _near_copy(row: dict, suffix: str) -> dict:
    """The row with one word of its longest assistant answer changed and a new id."""
    row = json.loads(json.dumps(row))
    turn = max((t for t in row["messages"] if t["role"] == "assistant"), key=lambda t: len(t["content"]))
    words = turn["content"].split(" ")
    words[len(words) // 2] = "banana"
    turn["content"] = " ".join(words)
    row["id"] = f"{row['id']}-{suffix}"
    return row


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    from aligntax.contamination import resolve

    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    long_rows = [r for r in rows if sum(len(t["content"]) for t in r["messages"]) > 1500][:5]
    item = resolve(["gsm8k"])[0]
    leaked = {"id": "leak-0", "messages": [{"role": "user", "content": item.text},
                                          {"role": "assistant", "content": "Let me work it out step by step."}]}
    first = rows[:1500] + [leaked]
    # second shard: an exact copy and near copies of first-shard rows, so clusters span shards
    second = rows[1500:] + [dict(rows[3], id="copy-3")] + [_near_copy(r, "near") for r in long_rows]
    root = tmp_path_factory.mktemp("shards") / "data"
    root.mkdir()
    (root / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in first), encoding="utf-8")
    lines = [json.dumps(r) for r in second]
    lines.insert(10, '{"messages": [broken json')
    (root / "part-1.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def test_near_duplicate_clusters_and_representatives_equal_local(engines, shards):
    local, distributed = engines
    config = DedupConfig(threshold=0.8, seed=3)
    expected, expected_malformed = local.dedup([str(shards)], config)
    found, malformed = distributed.dedup([str(shards)], config)
    assert found.rows == expected.rows == 3009 and malformed == expected_malformed == 1
    assert found.hits == expected.hits  # same rows, tags, cluster ids, representatives and similarities
    injected = [h for h in found.hits if h.id.endswith("-near") and h.tag == "near_duplicate"]
    assert len(injected) >= 4 and all(h.id == f"{h.representative_id}-near" for h in injected)
    copy = [h for h in found.hits if h.id == "copy-3"]
    assert [(h.tag, h.cluster_id) for h in copy if h.tag == "duplicate"] == [("duplicate", 3)]


def test_audit_annotations_equal_local(engines, shards, tmp_path):
    local, distributed = engines
    a = local.audit([str(shards)], tmp_path / "local", jobs=2, report=False)
    b = distributed.audit([str(shards)], tmp_path / "ray", report=False)
    expected, found = pq.read_table(a.annotations), pq.read_table(b.annotations)
    assert found.num_rows == expected.num_rows == 3010
    assert found.equals(expected)  # same rows in the same order, every column
    assert found.schema.metadata == expected.schema.metadata
    assert b.summary["tags"] == a.summary["tags"] and b.summary["malformed"] == a.summary["malformed"]


def test_clean_outputs_and_conservation_equal_local(engines, shards, tmp_path):
    local, distributed = engines
    a = run_clean([str(shards)], "poison-of-alignment", tmp_path / "local", engine=local.clean_engine())
    b = run_clean([str(shards)], "poison-of-alignment", tmp_path / "ray", engine=distributed.clean_engine())
    for name in ("kept.jsonl", "rejected.jsonl", "kept.annotations.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert b.counts == a.counts and b.manifest["per_rule"] == a.manifest["per_rule"]
    assert b.manifest["per_shard"] == a.manifest["per_shard"]
    assert b.counts["dedup_flagged"] > 800  # the sample's repeated queries plus the injected copies
    for shard in b.manifest["per_shard"].values():
        assert shard["kept"] + shard["rejected"] == shard["read"]
    assert sum(s["read"] for s in b.manifest["per_shard"].values()) == b.counts["read"] == 3010
    rejected_ids = {json.loads(line).get("id") for line in (tmp_path / "ray" / "rejected.jsonl").open()}
    assert {"copy-3"} <= rejected_ids


def test_contamination_hits_equal_local(engines, shards):
    from aligntax.contamination import ContaminationIndex, resolve

    local, distributed = engines
    items = resolve(["gsm8k", "mmlu"])
    options = {"ngram": 13, "min_overlap": 0.5, "min_contain_words": 5}
    index = ContaminationIndex(items, **options)

    def run(engine):
        batches = list(engine.contamination([shards], items, options, index=index))
        hits = [row for _, _, table in batches for row in table.to_pylist()]
        return sum(b[0] for b in batches), sum(b[1] for b in batches), hits

    expected, found = run(local), run(distributed)
    assert found == expected
    assert any(h["id"] == "leak-0" and h["benchmark"] == "gsm8k" for h in found[2])
