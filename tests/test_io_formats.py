"""Every format adapter on real rows from shared/data, plus synthetic rows for formats without a real file."""

from __future__ import annotations

import json

import pytest

from aligntax.io import FORMATS, detect_format, read_conversations
from aligntax.record import Conversation, Malformed, Turn


def convs(paths, **kw) -> list[Conversation]:
    items = list(read_conversations(paths if isinstance(paths, list) else [paths], **kw))
    assert not [i for i in items if isinstance(i, Malformed)], [i.message() for i in items if isinstance(i, Malformed)]
    return items


def test_registry_lists_every_format():
    assert {"alpaca", "dolly", "sharegpt", "messages", "prompt_completion", "oasst", "oasst_messages", "oasst_eval",
            "hh", "self_instruct_tasks", "vicuna_answers"} <= set(FORMATS.names())


def test_gpteacher_reads_as_alpaca_with_response_as_output(shared_data):
    path = shared_data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json"
    items = convs(path)
    assert len(items) == 1923  # SOURCE.md: 1,923 rows
    assert {c.format for c in items} == {"alpaca"}
    first = items[0]
    raw = json.loads(path.read_text())[0]
    assert first.turns == [Turn("user", raw["instruction"]), Turn("assistant", raw["response"])]
    assert first.id == f"{path}:0" and first.source == str(path) and first.index == 0
    with_input = [c for c in items if c.raw["input"]]
    assert len(with_input) == 443  # SOURCE.md: 443 with a non-empty input
    c = with_input[0]
    assert c.turns[0].content == f"{c.raw['instruction']}\n\n{c.raw['input']}"


def test_hh_sides_and_transcript_parsing(shared_data):
    path = shared_data / "hh_rlhf_harmless_base" / "test.jsonl"
    chosen = convs(path)
    assert len(chosen) == 2312
    first = chosen[0]
    assert first.turns[0] == Turn("user", "what are some pranks with a pen i can do?")
    assert first.turns[1] == Turn("assistant", "Are you looking for practical joke ideas?")
    assert first.turns[2] == Turn("user", "yep")
    assert first.meta["hh_side"] == "chosen" and first.id == f"{path}:0"
    # Turn texts keep their inner blank lines: only "\n\nHuman:" / "\n\nAssistant:" split turns.
    assert "\n\n1. Draw a penis" in first.turns[3].content
    both = convs(path, hh_side="both", limit=4)
    assert [(c.index, c.sub, c.meta["hh_side"]) for c in both] == [(0, 0, "chosen"), (0, 1, "rejected"),
                                                                     (1, 0, "chosen"), (1, 1, "rejected")]
    assert both[0].id.endswith(":0:0") and both[1].id.endswith(":0:1")
    # Only the final assistant turn differs between the sides (SOURCE.md).
    assert both[0].turns[:-1] == both[1].turns[:-1] and both[0].turns[-1] != both[1].turns[-1]
    rejected = convs(path, hh_side="rejected", limit=1)[0]
    assert rejected.turns == both[1].turns and rejected.sub == 0


def test_oasst_eval_report_one_conversation_per_output(shared_data):
    items = convs(shared_data / "oasst_model_eval_samples")
    assert len(items) == 750  # 3 reports x 250 prompts x 1 output
    gpt35 = [c for c in items if c.meta["container"]["model_name"] == "gpt-3.5-turbo"]
    assert len(gpt35) == 250
    assert gpt35[0].turns[0] == Turn("user", "Can you tell me about GLaDOS?")
    assert gpt35[0].turns[1].content.startswith("GLaDOS (Genetic Lifeform and Disk Operating System)")


def test_self_instruct_predictions_and_tasks(shared_data, write_jsonl):
    preds = convs(shared_data / "self_instruct" / "text-davinci-003_predictions.jsonl")
    assert len(preds) == 252 and {c.format for c in preds} == {"alpaca"}
    c = preds[0]
    assert c.turns[0].content == f"{c.raw['instruction']}\n\n{c.raw['input']}"
    assert c.turns[1].content == c.raw["response"]  # the model's answer, not the reference `target`
    tasks = convs(shared_data / "self_instruct" / "seed_tasks.jsonl")
    assert tasks[0].id == "seed_task_0" and tasks[0].format == "self_instruct_tasks"
    assert tasks[0].turns[1].content.startswith("Yes, you can have 1 oatmeal banana protein shake")
    user_tasks = convs(shared_data / "self_instruct" / "user_oriented_instructions.jsonl")
    assert len(user_tasks) == 252 and user_tasks[0].id == "user_oriented_task_0"
    multi = write_jsonl("multi.jsonl", [{"id": "t", "instruction": "Add.", "instances": [
        {"input": "1+1", "output": "2"}, {"input": "", "output": "0"}]}])
    a, b = convs(multi)
    assert (a.id, b.id, b.sub) == ("t:0", "t:1", 1) and b.turns[0].content == "Add."


def test_vicuna_answers_join_question_file(shared_data, tmp_path):
    items = convs(shared_data / "vicuna_bench_answers" / "answer_gpt35.jsonl")
    assert len(items) == 80 and items[0].turns[0].content == "How can I improve my time management skills?"
    assert items[0].id == json.loads((shared_data / "vicuna_bench_answers" / "answer_gpt35.jsonl").open().readline())["answer_id"]
    lonely = tmp_path / "answer_x.jsonl"
    lonely.write_text((shared_data / "vicuna_bench_answers" / "answer_gpt35.jsonl").open().readline())
    [bad] = list(read_conversations([lonely]))
    assert isinstance(bad, Malformed) and bad.reason.startswith("malformed:vicuna-question: question_id 1 not found")


def test_question_answer_pairs_read_as_prompt_completion(shared_data):
    items = convs(shared_data / "aligner_correction_sample" / "template-dataset.json")
    assert items[0].turns[0] == Turn("user", "Who is the real life character in the Blind Side")
    assert items[0].format == "prompt_completion" and items[0].turns[1].content.startswith("Question: The movie")
    gsm = convs(shared_data / "gsm8k" / "test.jsonl", limit=3)
    assert gsm[0].turns[1].content.endswith("#### 18")


def test_dolly_sharegpt_messages_synthetic(write_jsonl):
    dolly = write_jsonl("dolly.jsonl", [{"instruction": "Summarise.", "context": "Cats purr.", "response": "They purr.",
                                         "category": "summarization"}])
    [d] = convs(dolly)
    assert d.format == "dolly" and d.turns == [Turn("user", "Summarise.\n\nCats purr."), Turn("assistant", "They purr.")]
    share = write_jsonl("share.jsonl", [{"id": "s1", "conversations": [
        {"from": "System", "value": "Be brief."}, {"from": "HUMAN", "value": "hi"}, {"from": "ChatGPT", "value": "hello"},
        {"from": "human", "value": "weather?"}, {"from": "function", "value": "{\"t\": 20}"}, {"from": "bard", "value": "20C"}]}])
    [s] = convs(share)
    assert s.id == "s1" and s.system == "Be brief."
    assert [t.role for t in s.turns] == ["user", "assistant", "user", "tool", "assistant"]
    msgs = write_jsonl("msgs.jsonl", [{"messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "look at"}, {"type": "image_url", "image_url": {"url": "x"}},
                                     {"type": "text", "text": "this"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "content": "42"}, {"role": "assistant", "content": "It is 42."}]}])
    [m] = convs(msgs)
    assert m.system == "sys" and m.turns[0].content == "look at\nthis" and m.meta["non_text_parts"] == 1
    assert [t.role for t in m.turns] == ["user", "assistant", "tool", "assistant"] and m.turns[1].content == ""


def test_trl_conversational_prompt_completion(write_jsonl):
    path = write_jsonl("trl.jsonl", [{"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
                                      "completion": [{"role": "assistant", "content": "A"}]}])
    [c] = convs(path)
    assert c.system == "S" and c.turns == [Turn("user", "Q"), Turn("assistant", "A")]


def _tree():
    return {"message_tree_id": "t1", "tree_state": "ready_for_export", "prompt": {
        "message_id": "m0", "role": "prompter", "text": "Q?", "lang": "en", "replies": [
            {"message_id": "m1", "role": "assistant", "text": "A1", "rank": 1, "replies": [
                {"message_id": "m3", "role": "prompter", "text": "more?", "replies": [
                    {"message_id": "m4", "role": "assistant", "text": "A1b", "rank": 0, "replies": []}]}]},
            {"message_id": "m2", "role": "assistant", "text": "A0", "rank": 0, "replies": []},
            {"message_id": "m5", "role": "assistant", "text": "spam", "deleted": True, "replies": []}]}}


def test_oasst_tree_paths_and_best(write_jsonl):
    path = write_jsonl("trees.jsonl", [_tree()])
    paths = convs(path)
    assert [c.id for c in paths] == ["m4", "m2"]  # one per root-to-leaf path, deleted message left out
    assert [t.content for t in paths[0].turns] == ["Q?", "A1", "more?", "A1b"]
    assert [c.sub for c in paths] == [0, 1] and paths[0].turns[0].role == "user"
    [best] = convs(path, oasst_mode="best")
    assert best.id == "m2" and [t.content for t in best.turns] == ["Q?", "A0"]


def _flat_rows(tree):
    rows = []

    def walk(node, parent):
        rows.append({k: v for k, v in node.items() if k != "replies"} | {"parent_id": parent, "message_tree_id": "t1"})
        for reply in node.get("replies", []):
            walk(reply, node["message_id"])

    walk(tree["prompt"], None)
    return rows


def test_oasst_flat_messages_build_trees(write_jsonl):
    rows = _flat_rows(_tree())
    second = [{"message_id": "n0", "parent_id": None, "role": "prompter", "text": "Hi", "message_tree_id": "t2"},
              {"message_id": "n1", "parent_id": "n0", "role": "assistant", "text": "Hello", "message_tree_id": "t2"}]
    path = write_jsonl("flat.jsonl", rows + second)
    items = convs(path)
    assert [c.id for c in items] == ["m4", "m2", "n1"]
    assert [t.content for t in items[0].turns] == ["Q?", "A1", "more?", "A1b"] and items[0].format == "oasst_messages"
    assert items[0].index == 3 and items[0].meta["line"] == 4  # the leaf's row
    assert [c.id for c in convs(path, oasst_mode="best")] == ["m2", "n1"]
    orphan = write_jsonl("orphan.jsonl", second[1:])
    [bad] = list(read_conversations([orphan]))
    assert isinstance(bad, Malformed) and "oasst-orphan: parent 'n0' of message 'n1'" in bad.reason


def test_detection_prefers_specific_formats():
    assert detect_format([{"instruction": "a", "input": "", "output": "b"}]) == "alpaca"
    assert detect_format([{"instruction": "a", "context": "", "response": "b"}]) == "dolly"
    assert detect_format([{"instruction": "a", "response": "b"}]) == "alpaca"
    assert detect_format([{"prompt": "a", "completion": "b"}]) == "prompt_completion"
    assert detect_format([{"chosen": "\n\nHuman: a", "rejected": "\n\nHuman: a"}]) == "hh"
    assert detect_format([{"prompt": "a", "results": []}]) == "oasst_eval"
    assert detect_format([{"message_tree_id": "t", "prompt": {}}]) == "oasst"
    assert detect_format([{"goal": "x", "target": "y"}]) is None
    # Majority of the first rows wins over a stray first row.
    assert detect_format([{"messages": []}] + [{"conversations": []}] * 3) == "sharegpt"


def test_explicit_format_override_and_unknown_name(write_jsonl):
    path = write_jsonl("qa.jsonl", [{"instruction": "do", "response": "done"}])
    [c] = convs(path, format="prompt_completion")
    assert c.format == "prompt_completion" and c.turns[1].content == "done"
    from aligntax.errors import InputError

    with pytest.raises(InputError, match="unknown formats 'nope'; available: alpaca"):
        list(read_conversations([path], format="nope"))


def test_sample_file_shipped_with_the_package_reads_cleanly():
    from pathlib import Path

    import aligntax

    sample = Path(aligntax.__file__).parent / "data" / "sample" / "sft_sample.jsonl"
    items = convs(sample)
    assert len(items) > 1000 and {c.format for c in items} == {"messages"}
    assert all(c.turns and c.id for c in items)
