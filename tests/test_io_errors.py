"""Bad input: every case gets a precise message naming file and line, and no row is silently lost."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap

import pytest

from aligntax.errors import InputError
from aligntax.io import read_conversations
from aligntax.record import Conversation, Malformed

GOOD = {"instruction": "Say hi.", "input": "", "output": "Hi."}


def read(path, **kw):
    return list(read_conversations([path], **kw))


def only_malformed(items):
    return [i for i in items if isinstance(i, Malformed)]


def test_malformed_json_line_under_each_policy(write_jsonl):
    path = write_jsonl("bad.jsonl", [GOOD, '{"instruction": "x", "output": ', GOOD])
    items = read(path)
    assert [type(i).__name__ for i in items] == ["Conversation", "Malformed", "Conversation"]
    bad = items[1]
    assert (bad.index, bad.line) == (1, 2)
    assert bad.reason == "malformed:json: Expecting value at column 32"
    assert bad.raw_text == '{"instruction": "x", "output": '  # kept for the rejected file
    assert bad.message().startswith(f"{path}:2: malformed:json")
    assert [i.index for i in read(path, on_error="skip")] == [0, 2]
    with pytest.raises(InputError, match=rf"{path}:2: malformed:json: Expecting value"):
        read(path, on_error="fail")


def test_wrong_types_and_missing_fields(write_jsonl):
    path = write_jsonl("types.jsonl", [
        {"messages": "hello"},
        {"messages": [{"role": "user", "content": 42}]},
        {"messages": [{"content": "no role"}]},
        {"messages": [{"role": "wizard", "content": "hi"}]},
        {"messages": ["not an object"]},
        {"messages": []},
        [1, 2, 3],
    ])
    reasons = [m.reason for m in read(path, format="messages")]
    assert reasons == [
        "malformed:wrong-type: 'messages' must be a list, got str",
        "malformed:wrong-type: messages[0].content must be a string or a list of parts, got int",
        "malformed:missing-field: messages[0] has no role",
        "malformed:unknown-role: 'wizard' in messages[0].role",
        "malformed:wrong-type: messages[0] must be an object, got str",
        "malformed:empty-conversation: the row holds no turns",
        "malformed:wrong-type: row must be a JSON object, got list",
    ]
    alpaca = write_jsonl("alpaca.jsonl", [GOOD, {"instruction": "x", "output": None}, {"instruction": 3, "output": "y"}])
    reasons = [m.reason for m in only_malformed(read(alpaca))]
    assert reasons[0].startswith("malformed:missing-field: 'output'")
    assert reasons[1] == "malformed:wrong-type: 'instruction' must be a string, got int"


def test_mixed_formats_in_one_file_are_error_rows(write_jsonl):
    share = {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}
    path = write_jsonl("mixed.jsonl", [GOOD, GOOD, share, {"foo": 1}])
    items = read(path)
    assert [type(i).__name__ for i in items] == ["Conversation", "Conversation", "Malformed", "Malformed"]
    assert items[2].reason == "malformed:format-mismatch: row looks like sharegpt, but this file is read as alpaca"
    assert items[3].reason == "malformed:format-mismatch: row matches no known format (keys ['foo']), but this file is read as alpaca"


def test_unknown_format_is_a_clear_input_error(shared_data):
    path = shared_data / "advbench" / "harmful_behaviors.csv"
    with pytest.raises(InputError, match=r"harmful_behaviors.csv:2: unknown format: the first row has keys \['goal', 'target'\]"):
        read(path)


def test_non_utf8_bytes(tmp_path):
    jsonl = tmp_path / "latin1.jsonl"
    jsonl.write_bytes(json.dumps(GOOD).encode() + b"\n" + '{"instruction": "caf\xe9", "output": "x"}\n'.encode("latin-1"))
    good, bad = read(jsonl)
    assert isinstance(good, Conversation)
    assert bad.reason == "malformed:not-utf8: invalid byte 0xe9 at byte 20 of the line" and bad.line == 2
    assert "\\xe9" in bad.raw_text  # the bytes stay visible in the rejected row
    array = tmp_path / "latin1.json"
    array.write_bytes(b'[' + json.dumps(GOOD).encode() + b',\n {"instruction": "caf\xe9", "output": "x"}]')
    good, bad = read(array)
    assert isinstance(good, Conversation) and bad.reason.startswith("malformed:not-utf8") and bad.line == 2
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes(b"instruction,output\nhi,there\ncaf\xe9,x\n")
    good, bad = read(csv_path)
    assert isinstance(good, Conversation) and bad.reason.startswith("malformed:not-utf8") and bad.line == 3


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"[]", b"[\n]\n", b"instruction,output\n"])
@pytest.mark.parametrize("policy", ["quarantine", "skip", "fail"])
def test_empty_file_is_an_input_error_under_every_policy(tmp_path, content, policy):
    suffix = ".csv" if content.startswith(b"instr") else ".json" if content.startswith(b"[") else ".jsonl"
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"{path}: empty file \(no rows\)"):
        read(path, on_error=policy)


def test_long_line_rejected_above_max_line_bytes_then_reading_goes_on(tmp_path):
    path = tmp_path / "long.jsonl"
    huge = {"instruction": "x" * (50 * 1024 * 1024), "output": "y"}
    with path.open("w") as f:
        f.write(json.dumps(GOOD) + "\n" + json.dumps(huge) + "\n" + json.dumps(GOOD) + "\n")
    first, bad, last = read(path)
    assert isinstance(bad, Malformed) and bad.line == 2 and bad.raw_text is None
    assert bad.reason.startswith("malformed:line-too-long: 52428834 bytes exceed max_line_bytes=33554432")
    assert isinstance(last, Conversation) and last.meta["line"] == 3
    _, big, _ = read(path, max_line_bytes=64 * 1024 * 1024)  # the limit is configurable
    assert isinstance(big, Conversation) and len(big.turns[0].content) == 50 * 1024 * 1024


def test_invalid_json_array_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "a" "output": "b"}\n]')
    with pytest.raises(InputError, match=r"broken.json:3: invalid JSON: Expecting ',' delimiter"):
        read(path)
    scalar = tmp_path / "scalar.json"
    scalar.write_text('"just a string"')
    with pytest.raises(InputError, match="must hold an array or an object"):
        read(scalar)


def test_truncated_gzip_and_missing_paths(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(GOOD) + "\n").encode() * 2000)[:200])
    with pytest.raises(InputError, match="cut.jsonl.gz: cannot read the file"):
        read(path)
    with pytest.raises(InputError, match="nope.jsonl: no such file or directory"):
        read(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match=r"\*.jsonl: no supported files match"):
        read(str(tmp_path / "sub" / "*.jsonl"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match="notes.txt: unsupported file type"):
        read(tmp_path / "notes.txt")


def test_csv_field_count_mismatch_and_embedded_newlines(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes('\ufeffinstruction,output\n"two\nlines","a, b"\nonly-one-field\n'.encode())
    good, bad = read(path)
    assert good.turns[0].content == "two\nlines" and good.turns[1].content == "a, b"  # BOM stripped from the header
    assert bad.reason == "malformed:csv: the row has 1 fields, the header has 2" and bad.line == 4


def test_nothing_lost_every_line_is_a_record(shared_data, tmp_path):
    lines = (shared_data / "hh_rlhf_harmless_base" / "test.jsonl").read_text().splitlines()[:200]
    lines[10] = lines[10][:-5]
    lines[50] = '{"chosen": 5, "rejected": "x"}'
    path = tmp_path / "hh.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = read(path)
    assert len(items) == 200 and sorted(i.index for i in items) == list(range(200))
    assert [i.index for i in only_malformed(items)] == [10, 50]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_peak_memory_does_not_grow_with_file_size(tmp_path, suffix):
    """Read ~10 MB and ~100 MB (JSONL, or one streamed JSON array) in fresh processes; peak RSS stays flat."""
    row = json.dumps({"instruction": "Explain the water cycle. " * 8, "input": "", "output": "Water evaporates. " * 30})
    small, large = tmp_path / f"small{suffix}", tmp_path / f"large{suffix}"
    n_small = 10 * 1024 * 1024 // (len(row) + 2)
    for path, blocks in ((small, 1), (large, 10)):
        with path.open("w") as f:
            f.write("[\n" if suffix == ".json" else "")
            for b in range(blocks):
                sep = ",\n" if suffix == ".json" else "\n"
                f.write(("," if suffix == ".json" and b else "") + sep.join([row] * n_small) + "\n")
            f.write("]\n" if suffix == ".json" else "")
    # VmHWM (Linux) is this process's own peak; ru_maxrss survives exec and may be the parent's.
    script = textwrap.dedent("""
        import resource, sys
        from aligntax.io import read_conversations
        n = sum(1 for _ in read_conversations([sys.argv[1]]))
        try:
            with open("/proc/self/status") as f:
                kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        except OSError:
            kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(n, kib)
    """)

    def peak(path):
        out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
        count, kib = out.stdout.split()
        return int(count), int(kib) / 1024

    (n1, mb_small), (n2, mb_large) = peak(small), peak(large)
    assert (n1, n2) == (n_small, 10 * n_small)
    assert mb_large < mb_small + 40, f"peak RSS {mb_small:.0f} MB for 10 MB vs {mb_large:.0f} MB for 100 MB"
