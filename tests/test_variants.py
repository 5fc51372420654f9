"""``aligntax variants`` (dose-response datasets) and ``aligntax merge``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligntax.errors import PolicyError
from aligntax.util import sha256_file
from aligntax.shape.merge import merge
from aligntax.shape.variants import make_variants, parse_doses, plan_counts

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"
DETECTORS = ["refusal", "too_short"]


def ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def natural(tmp_path_factory):
    out = tmp_path_factory.mktemp("v") / "natural"
    return out, make_variants([SAMPLE], out, tag="aligned", doses="0,0.25,0.5,1", seed=3, detectors=DETECTORS)


def test_doses_are_nested_and_differ_only_in_tagged_rows(natural):
    out, manifest = natural
    tagged, untagged = manifest["counts"]["tagged"], manifest["counts"]["untagged"]
    assert tagged > 100 and untagged > 1000 and tagged + untagged == 3002
    sets = [set(ids(out / f"dose-{d}.jsonl")) for d in ("0", "0.25", "0.5", "1")]
    assert sets[0] < sets[1] < sets[2] < sets[3]
    assert [len(s) for s in sets] == [untagged + round(f * tagged) for f in (0, 0.25, 0.5, 1)]
    all_ids = ids(SAMPLE)
    assert sets[3] == set(all_ids)
    membership = [json.loads(line) for line in (out / "membership.jsonl").read_text().splitlines()]
    untagged_ids = {m["id"] for m in membership if not m["tagged"]}
    assert sets[0] == untagged_ids  # dose 0 holds exactly the untagged rows
    for v, variant in enumerate(manifest["variants"]):
        assert variant["file"]["sha256"] == sha256_file(out / variant["file"]["path"])
        previous = sets[v - 1] if v else untagged_ids
        assert set(variant["tagged_ids_added"]) == sets[v] - previous and variant["untagged_ids_removed"] == []
    # variant files keep input order and bytes
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    half = (out / "dose-0.5.jsonl").read_text(encoding="utf-8").splitlines()
    positions = [lines.index(line) for line in half[:50]]
    assert positions == sorted(positions)


def test_size_matched_variants_have_equal_size_and_nesting(tmp_path, natural):
    _, natural_manifest = natural
    manifest = make_variants([SAMPLE], tmp_path / "sm", doses=[0.25, 0.5, 1], size_matched=True, seed=3,
                             detectors=DETECTORS)
    tagged, untagged = manifest["counts"]["tagged"], manifest["counts"]["untagged"]
    size = untagged + round(0.25 * tagged)
    assert [v["rows"] for v in manifest["variants"]] == [size] * 3
    membership = [json.loads(line) for line in (tmp_path / "sm" / "membership.jsonl").read_text().splitlines()]
    tagged_in = {name: {m["id"] for m in membership if m["tagged"] and name in m["in"]}
                 for name in ("dose-0.25", "dose-0.5", "dose-1")}
    untagged_in = {name: {m["id"] for m in membership if not m["tagged"] and name in m["in"]} for name in tagged_in}
    assert tagged_in["dose-0.25"] < tagged_in["dose-0.5"] < tagged_in["dose-1"]
    assert untagged_in["dose-1"] < untagged_in["dose-0.5"] < untagged_in["dose-0.25"]
    # the same seed picks the same tagged rows with or without size matching
    natural_half = {m for m in natural_manifest["variants"][1]["tagged_ids_added"]}
    assert natural_half == tagged_in["dose-0.25"]
    removed = manifest["variants"][2]["untagged_ids_removed"]
    assert set(removed) == untagged_in["dose-0.5"] - untagged_in["dose-1"]


def test_seed_changes_selection_but_is_reproducible(tmp_path):
    a = make_variants([SAMPLE], tmp_path / "a", doses="0.5", seed=1, detectors=DETECTORS)
    b = make_variants([SAMPLE], tmp_path / "b", doses="0.5", seed=1, detectors=DETECTORS)
    c = make_variants([SAMPLE], tmp_path / "c", doses="0.5", seed=2, detectors=DETECTORS)
    assert a["variants"][0]["file"]["sha256"] == b["variants"][0]["file"]["sha256"]
    assert set(a["variants"][0]["tagged_ids_added"]) != set(c["variants"][0]["tagged_ids_added"])


def test_plan_and_argument_errors(tmp_path):
    assert plan_counts(10, 100, [0.0, 0.5, 1.0], size_matched=True) == [(0, 100), (5, 95), (10, 90)]
    assert plan_counts(10, 100, [0.5, 1.0], size_matched=False) == [(5, 100), (10, 100)]
    assert parse_doses("1,0,0.5,0.5") == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="fractions in"):
        parse_doses("0,1.5")
    with pytest.raises(PolicyError, match="tag 'roleplay' is not emitted"):
        make_variants([SAMPLE], tmp_path / "x", tag="roleplay", detectors=DETECTORS)


def test_merge_dedups_across_inputs_in_own_format(tmp_path, shared_data, write_jsonl):
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    first = write_jsonl("first.jsonl", rows[:300])
    second = write_jsonl("second.jsonl", rows[200:500])  # 100 rows overlap the first file
    result = merge([first, second], tmp_path / "m")
    merged = ids(tmp_path / "m" / "merged.jsonl")
    assert len(merged) == len(set(merged)) and set(merged) <= {r["id"] for r in rows[:500]}
    order = {r["id"]: i for i, r in enumerate(rows)}
    assert [order[i] for i in merged] == sorted(order[i] for i in merged)  # input order is kept
    rejected = [json.loads(line) for line in (tmp_path / "m" / "rejected.jsonl").read_text().splitlines()]
    overlap = {r["id"] for r in rows[200:300]}
    second_copies = {r["id"] for r in rejected if r["source"].endswith("second.jsonl")}
    assert overlap <= second_copies  # the second copy of every overlapping row is the one dropped
    assert result.counts["kept"] + result.counts["rejected"] == 600
    assert result.manifest["output_format"] == {"like": "messages", "file_type": "jsonl"}
    assert result.manifest["command"] == "merge"


def test_merge_of_different_formats_writes_normalised_messages(tmp_path, shared_data):
    hh = shared_data / "hh_rlhf_harmless_base" / "test.jsonl"
    alpaca = shared_data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json"
    result = merge([hh, alpaca], tmp_path / "m", near=False)
    assert result.manifest["output_format"] == {"like": "messages", "file_type": "jsonl"}
    first = json.loads((tmp_path / "m" / "merged.jsonl").read_text().splitlines()[0])
    assert set(first) >= {"id", "source", "index", "messages"}
    assert result.counts["kept"] + result.counts["rejected"] == result.counts["read"]


def test_cli_variants_and_merge(tmp_path, write_jsonl):
    import subprocess
    import sys

    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()[:400]]
    data = write_jsonl("d.jsonl", rows)
    cli = [sys.executable, "-c", "from aligntax.cli import main; main()"]
    run = subprocess.run([*cli, "variants", str(data), "--dose", "0,1", "--size-matched", "--seed", "5",
                          "--detectors", "refusal", "--out", str(tmp_path / "v")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert manifest["size_matched"] and manifest["seed"] == 5
    assert len(set(v["rows"] for v in manifest["variants"])) == 1 and "dose-1" in run.stdout
    bad = subprocess.run([*cli, "variants", str(data), "--dose", "2", "--out", str(tmp_path / "w")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "fractions" in bad.stderr
    merged = subprocess.run([*cli, "merge", str(data), str(write_jsonl("e.jsonl", rows[:50])), "--out",
                             str(tmp_path / "m")], capture_output=True, text=True, timeout=120)
    assert merged.returncode == 0, merged.stderr
    assert len(ids(tmp_path / "m" / "merged.jsonl")) == 400
