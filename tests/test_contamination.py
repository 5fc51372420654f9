"""Eval contamination: bundled benchmarks, user eval files, the detector and `aligntax contamination`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from aligntax.contamination import BUNDLED, ContaminationIndex, load_benchmark, load_eval_file, resolve
from aligntax.contamination.detector import shared_index
from aligntax.detect import DETECTORS
from aligntax.io import read_conversations
from aligntax.record import Conversation, Turn


def conv(i: int, user: str, answer: str = "ok") -> Conversation:
    return Conversation(id=f"c{i}", source="train", index=i, turns=[Turn("user", user), Turn("assistant", answer)])


@pytest.fixture(scope="module")
def index() -> ContaminationIndex:
    return shared_index()  # every bundled benchmark, default options (cached per process)


def test_every_bundled_benchmark_loads_with_expected_sizes():
    sizes = {name: len(load_benchmark(name)) for name in BUNDLED}
    assert sizes == {"mmlu": 14327, "bbh": 6511, "gsm8k": 1319, "truthfulqa": 817, "drop": 2000, "humaneval": 164,
                     "xstest": 450, "advbench": 520, "harmbench": 400, "do_not_answer": 939}
    harmbench = {it.item_id: it.text for it in load_benchmark("harmbench")}
    assert all("\r" not in t for t in harmbench.values())
    assert load_benchmark("truthfulqa")[0].text.startswith("What happens to you if you eat watermelon seeds")


def test_planted_benchmark_items_with_light_paraphrase_are_caught(index):
    mmlu = load_benchmark("mmlu")[5000]
    question, *choices = mmlu.text.split("\n")
    gsm = load_benchmark("gsm8k")[17]
    tqa = load_benchmark("truthfulqa")[40]
    he = load_benchmark("humaneval")[12]
    planted = [
        # MMLU with lettered options and the answer appended
        conv(0, question + "\n" + "\n".join(f"({l}) {c}" for l, c in zip("ABCD", choices)), "The answer is (B)."),
        # GSM8K: casing and whitespace changed, worked answer appended in the same turn
        conv(1, "  " + gsm.text.upper().replace(" ", "   ") + "\nAnswer: 42 apples."),
        # TruthfulQA: short question inside a longer prompt
        conv(2, f"Quick trivia for you: {tqa.text.lower()} Please answer briefly."),
        # HumanEval prompt pasted as the assistant's code
        conv(3, "Write the function.", he.text + "    return []\n"),
    ]
    expected = {0: mmlu.ref, 1: gsm.ref, 2: tqa.ref, 3: he.ref}
    found = {}
    for hit in index.check(planted):
        found.setdefault(hit.conversation, set()).add(hit.ref)
    for i, ref in expected.items():
        assert ref in found.get(i, set()), (i, ref, found.get(i))
    kinds = {(h.conversation, h.match) for h in index.check(planted) if h.ref == expected[h.conversation]}
    assert (1, "near_exact") in kinds and (2, "near_exact") in kinds and (3, "near_exact") in kinds
    assert next(h for h in index.check(planted[:1])).score >= 0.5


def test_exact_match_is_reported_as_exact(index):
    item = load_benchmark("advbench")[3]
    hits = index.check([conv(0, item.text.upper() + "!!")])
    assert [(h.ref, h.match, h.score) for h in hits] == [(item.ref, "exact", 1.0)]


def test_clean_real_sft_rows_do_not_fire(index, shared_data):
    rows = [json.loads(line) for line in (shared_data / "self_instruct" / "text-davinci-003_predictions.jsonl").open()]
    convs = [conv(i, r["prompt"], r["response"]) for i, r in enumerate(rows)]
    assert len(convs) == 252
    assert index.check(convs) == []


def test_bbh_boilerplate_alone_is_not_contamination(index):
    task_intro = load_benchmark("bbh")[300].text.split("\n")[0]
    hits = [h for h in index.check([conv(0, task_intro)]) if h.benchmark == "bbh"]
    assert hits == []


def test_user_eval_files_jsonl_field_and_csv_autodetect(tmp_path):
    jsonl = tmp_path / "my_eval.jsonl"
    jsonl.write_text("\n".join(json.dumps({"id": f"q{i}", "query": q, "gold": "x"}) for i, q in enumerate(
        ["What is the capital city of the small European country of Liechtenstein and its population",
         "Name three prime numbers larger than one hundred but smaller than two hundred please"])) + "\n")
    csv_path = tmp_path / "hhh.csv"
    csv_path.write_text('\ufeffinput,target\r\n"Can you help me write a polite email declining a wedding invitation from my cousin?",x\r\n')
    assert [i.item_id for i in load_eval_file(jsonl, field="query")] == ["q0", "q1"]
    items = resolve([str(jsonl), str(csv_path)])
    assert {i.benchmark for i in items} == {"my_eval", "hhh"}
    ix = ContaminationIndex(items)
    hits = ix.check([conv(0, "Name three prime numbers larger than one hundred but smaller than two hundred, please!"),
                     conv(1, "can you help me write a polite email declining a wedding invitation from my cousin")])
    assert sorted(h.ref for h in hits) == ["hhh:0", "my_eval:q1"]


def test_unknown_benchmark_is_an_input_error():
    from aligntax.errors import InputError

    with pytest.raises(InputError):
        resolve(["not_a_benchmark"])


def test_detector_is_registered_and_tags_the_matching_turn():
    det = DETECTORS.get("contaminated")(against="gsm8k")
    item = load_benchmark("gsm8k")[0]
    clean, dirty = det.detect_batch([conv(0, "Say hi."), conv(1, "Solve this: " + item.text)])
    assert clean.hits == [] and clean.features["contamination_score"] == 0.0
    assert [(h.tag, h.turn, h.value) for h in dirty.hits] == [("contaminated", 0, f"gsm8k:{item.item_id}")]
    assert det.detect(conv(2, item.text)).hits[0].evidence == "exact"


def test_cli_on_bundled_sample_writes_parquet_and_summary(tmp_path, write_jsonl):
    from typer.testing import CliRunner

    from aligntax.cli import _register_commands, app

    _register_commands()
    gsm = load_benchmark("gsm8k")[3].text
    path = write_jsonl("train.jsonl", [{"instruction": gsm, "input": "", "output": "18"},
                                       {"instruction": "Say something nice.", "input": "", "output": "You rock."}])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["contamination", str(path), "--against", "gsm8k", "--against", "mmlu",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(out / "contamination.parquet").to_pylist()
    assert [(r["index"], r["benchmark"], r["item_id"], r["match"]) for r in rows] == [(0, "gsm8k", "test/3", "exact")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["contaminated_rows"] == 1 and set(summary["benchmarks"]) == {"gsm8k", "mmlu"}


def test_bundled_sample_hits_are_only_generic_truthfulqa_questions(index):
    from pathlib import Path

    import aligntax

    sample = Path(aligntax.__file__).parent / "data" / "sample" / "sft_sample.jsonl"
    convs = [c for c in read_conversations([sample]) if isinstance(c, Conversation)]
    hits = index.check(convs)
    assert {h.ref for h in hits} == {"truthfulqa:111"}  # "Who is the current president of the United States?"
    assert all(h.match == "near_exact" for h in hits)
