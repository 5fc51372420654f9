"""Read → write round trips: byte for byte for untouched JSONL rows, field for field for JSON/Parquet/CSV,
rewrites keep every untouched column, and writes are atomic."""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from aligntax.io import open_rejected_writer, open_writer, read_conversations
from aligntax.record import Conversation, Malformed, Turn


def read(paths, **kw) -> list[Conversation]:
    items = list(read_conversations(paths if isinstance(paths, list) else [paths], **kw))
    assert all(isinstance(i, Conversation) for i in items)
    return items


def write(items, path, like, file_type=None):
    with open_writer(path, like=like, file_type=file_type) as out:
        for conv in items:
            out.write(conv)
    return path


def content(items):
    return [(c.system, c.turns) for c in items]


def _synthetic_rows():
    return {
        "dolly": [{"instruction": "Summarise.", "context": "Cats purr.", "response": "They purr.", "category": "summarization"},
                  {"instruction": "Name a colour.", "context": "", "response": "Blue.", "category": "open_qa"}],
        "sharegpt": [{"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hey"}],
                      "source": "x"}],
        # Parquet structs share one field set, so every message carries the same keys here (see docs/formats.md).
        "messages": [{"id": 7, "messages": [{"role": "user", "content": "q", "weight": 0},
                                            {"role": "assistant", "content": "a", "weight": 1}], "lang": "en"}],
        "prompt_completion": [{"prompt": "2+2=", "completion": " 4", "meta": {"k": [1, 2]}}],
        "oasst": [{"message_tree_id": "t", "prompt": {"message_id": "m0", "role": "prompter", "text": "Q",
                                                      "replies": [{"message_id": "m1", "role": "assistant", "text": "A",
                                                                   "rank": 0, "replies": []}]}}],
    }


@pytest.mark.parametrize("relpath", [
    "hh_rlhf_harmless_base/test.jsonl",
    "self_instruct/text-davinci-003_predictions.jsonl",
    "self_instruct/seed_tasks.jsonl",
    "gsm8k/test.jsonl",
])
def test_untouched_jsonl_is_copied_byte_for_byte(shared_data, tmp_path, relpath):
    src = shared_data / relpath
    items = read(src)
    out = write(items, tmp_path / "out.jsonl", like=items[0].format)
    assert out.read_bytes() == src.read_bytes()


def test_vicuna_answers_round_trip_byte_for_byte(shared_data, tmp_path):
    for name in ("question.jsonl", "answer_vicuna-13b.jsonl"):
        shutil.copy(shared_data / "vicuna_bench_answers" / name, tmp_path / name)
    items = read(tmp_path / "answer_vicuna-13b.jsonl")
    out = write(items, tmp_path / "out" / "answer.jsonl", like="vicuna_answers")
    assert out.read_bytes() == (tmp_path / "answer_vicuna-13b.jsonl").read_bytes()


@pytest.mark.parametrize("fmt", list(_synthetic_rows()))
def test_synthetic_formats_round_trip_in_every_file_type(tmp_path, fmt):
    rows = _synthetic_rows()[fmt]
    src = tmp_path / f"{fmt}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = read(src)
    assert {c.format for c in items} == {fmt}
    assert write(items, tmp_path / "copy.jsonl", like=fmt).read_bytes() == src.read_bytes()
    # Nested tree rows do not fit CSV cells: OpenAssistant trees are JSON/JSONL/Parquet only.
    for file_type in ("json", "parquet") if fmt == "oasst" else ("json", "parquet", "csv"):
        out = write(items, tmp_path / f"copy.{file_type}", like=fmt)
        again = read(out)
        assert content(again) == content(items), file_type
        if file_type != "csv":  # CSV cells are strings; structured columns come back as JSON
            assert [c.raw for c in again] == rows, file_type


def test_json_real_rows_field_for_field(shared_data, tmp_path):
    src = shared_data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json"
    items = read(src)
    out = write(items, tmp_path / "gpteacher.json", like="alpaca")
    assert json.loads(out.read_text()) == json.loads(src.read_text())
    report = shared_data / "oasst_model_eval_samples" / "2023-04-16_gpt-4_sample.json"
    evals = read(report)
    rows = json.loads(write(evals, tmp_path / "gpt4.json", like="oasst_eval").read_text())
    assert rows == json.loads(report.read_text())["prompts"]  # the envelope's list, row for row
    assert content(read(tmp_path / "gpt4.json")) == content(evals)


def test_parquet_source_round_trip(shared_data, tmp_path):
    rows = [c.raw for c in read(shared_data / "hh_rlhf_harmless_base" / "test.jsonl", limit=300)]
    src = tmp_path / "hh.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src, row_group_size=100)
    items = read(src)
    assert len(items) == 300 and items[5].meta == {"hh_side": "chosen"} and items[5].index == 5
    out = write(items, tmp_path / "out.parquet", like="hh")
    assert pq.read_table(out).to_pylist() == rows


def test_csv_real_rows_and_messages_column(shared_data, tmp_path):
    items = read(shared_data / "self_instruct" / "text-davinci-003_predictions.jsonl")
    out = write(items, tmp_path / "preds.csv", like="alpaca")
    again = read(out)
    assert content(again) == content(items) and [c.raw for c in again] == [c.raw for c in items]
    sample = read(shared_data / "hh_rlhf_harmless_base" / "test.jsonl", limit=50)
    normalised = write(sample, tmp_path / "msgs.csv", like=None)
    back = read(normalised)
    assert {c.format for c in back} == {"messages"} and content(back) == content(sample)


@pytest.mark.parametrize("suffix,decompress", [(".gz", gzip.decompress),
                                               (".zst", lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b))])
def test_compressed_inputs_and_outputs(shared_data, tmp_path, suffix, decompress):
    raw = (shared_data / "hh_rlhf_harmless_base" / "test.jsonl").read_bytes()
    src = tmp_path / f"hh.jsonl{suffix}"
    src.write_bytes(gzip.compress(raw) if suffix == ".gz" else zstandard.ZstdCompressor().compress(raw))
    items = read(src)
    assert content(items) == content(read(shared_data / "hh_rlhf_harmless_base" / "test.jsonl"))
    out = write(items, tmp_path / f"out.jsonl{suffix}", like="hh")
    assert decompress(out.read_bytes()) == raw
    array = tmp_path / f"gp.json{suffix}"
    gp = (shared_data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json").read_bytes()
    array.write_bytes(gzip.compress(gp) if suffix == ".gz" else zstandard.ZstdCompressor().compress(gp))
    assert len(read(array)) == 1923


def test_rewrite_updates_only_text_fields(shared_data, tmp_path):
    gp = read(shared_data / "gpteacher_roleplay", limit=3)
    edited = dataclasses.replace(gp[0], turns=[gp[0].turns[0], Turn("assistant", "Rewritten.")])
    [row] = json.loads(write([edited], tmp_path / "gp.json", like="alpaca").read_text())
    assert row == {**gp[0].raw, "response": "Rewritten."} and list(row) == list(gp[0].raw)

    hh = read(shared_data / "hh_rlhf_harmless_base" / "test.jsonl", limit=1)[0]
    edited = dataclasses.replace(hh, turns=hh.turns[:-1] + [Turn("assistant", "I can't help with that.")])
    row = json.loads(write([edited], tmp_path / "hh.jsonl", like="hh").read_text())
    assert row["rejected"] == hh.raw["rejected"] and row["chosen"].endswith("\n\nAssistant: I can't help with that.")
    assert read(tmp_path / "hh.jsonl")[0].turns == edited.turns

    import aligntax
    from pathlib import Path

    sample = Path(aligntax.__file__).parent / "data" / "sample" / "sft_sample.jsonl"
    conv = read(sample, limit=1)[0]
    edited = dataclasses.replace(conv, turns=conv.turns[:-1] + [Turn("assistant", "Short.")])
    row = json.loads(write([edited], tmp_path / "s.jsonl", like="messages").read_text())
    assert {k: v for k, v in row.items() if k != "messages"} == {k: v for k, v in conv.raw.items() if k != "messages"}
    assert row["messages"][:-1] == conv.raw["messages"][:-1] and row["messages"][-1]["content"] == "Short."


def test_oasst_tree_writes_one_pruned_path_per_conversation(tmp_path):
    tree = {"message_tree_id": "t", "prompt": {"message_id": "m0", "role": "prompter", "text": "Q", "lang": "en",
                                               "replies": [{"message_id": "a", "role": "assistant", "text": "A", "replies": []},
                                                           {"message_id": "b", "role": "assistant", "text": "B", "replies": []}]}}
    src = tmp_path / "t.jsonl"
    src.write_text(json.dumps(tree) + "\n")
    items = read(src)
    rows = [json.loads(line) for line in write(items, tmp_path / "o.jsonl", like="oasst").read_text().splitlines()]
    assert [r["prompt"]["replies"][0]["message_id"] for r in rows] == ["a", "b"]
    assert rows[0]["prompt"]["lang"] == "en" and len(rows[0]["prompt"]["replies"]) == 1
    assert [c.turns for c in read(tmp_path / "o.jsonl")] == [c.turns for c in items]


def test_normalised_messages_with_extra_columns(shared_data, tmp_path):
    items = read(shared_data / "gpteacher_roleplay", limit=20)
    out = tmp_path / "norm.parquet"
    with open_writer(out, like=None, file_type="parquet") as w:
        for c in items:
            w.write(c, extra={"tags": ["roleplay"], "score": 0.5})
    table = pq.read_table(out).to_pylist()
    assert list(table[0]) == ["id", "source", "index", "messages", "tags", "score"]
    assert table[3]["id"] == items[3].id and table[3]["messages"] == items[3].to_messages()
    assert content(read(out)) == content(items)


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    dest = tmp_path / "out.jsonl"
    conv = Conversation("x", "s", 0, [Turn("user", "q"), Turn("assistant", "a")])
    with pytest.raises(RuntimeError):
        with open_writer(dest, like=None, file_type="jsonl") as w:
            w.write(conv)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    dest.write_text("previous\n")
    with pytest.raises(RuntimeError):
        with open_writer(dest, like=None, file_type="parquet") as w:
            w.write(conv)
            raise RuntimeError("boom")
    assert dest.read_text() == "previous\n" and list(tmp_path.iterdir()) == [dest]
    with open_writer(dest, like=None, file_type="jsonl") as w:
        w.write(conv)
        assert dest.read_text() == "previous\n"  # nothing visible until the block exits
    assert json.loads(dest.read_text())["messages"][1] == {"role": "assistant", "content": "a"}


@pytest.mark.parametrize("file_type", ["jsonl", "parquet"])
def test_rejected_writer_keeps_reason_rule_and_raw(tmp_path, write_jsonl, file_type):
    src = write_jsonl("in.jsonl", [{"instruction": "q", "output": "a"}, "{broken"])
    good, bad = read_conversations([src])
    out = tmp_path / f"rejected.{file_type}"
    with open_rejected_writer(out) as rej:
        rej.write(good, reason="refusal", rule="drop_refusals")
        rej.write(bad)
    rows = pq.read_table(out).to_pylist() if file_type == "parquet" else [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[0]["reason"] == "refusal" and rows[0]["rule"] == "drop_refusals" and rows[0]["line"] == 1
    assert json.loads(rows[0]["raw"]) == {"instruction": "q", "output": "a"}
    assert rows[0]["messages"] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert isinstance(bad, Malformed) and rows[1]["reason"] == bad.reason and rows[1]["rule"] == "input"
    assert rows[1]["raw"] == "{broken" and rows[1]["line"] == 2 and rows[1]["messages"] is None


def test_directories_globs_and_hf_save_to_disk(shared_data, tmp_path):
    by_dir = read(shared_data / "self_instruct")
    assert [c.source.rsplit("/", 1)[1] for c in by_dir][::300] == ["seed_tasks.jsonl", "text-davinci-003_predictions.jsonl",
                                                                   "user_oriented_instructions.jsonl"]
    by_glob = read(str(shared_data / "self_instruct" / "*.jsonl"))
    assert content(by_glob) == content(by_dir)
    datasets = pytest.importorskip("datasets")
    rows = [c.raw for c in read(shared_data / "gpteacher_roleplay", limit=50)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    from_disk = read(tmp_path / "hf")
    assert len(from_disk) == 50 and [c.raw for c in from_disk] == rows and from_disk[0].format == "alpaca"
