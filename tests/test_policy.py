"""Policy loading, validation errors and rule semantics."""

from __future__ import annotations

import pytest

from aligntax.detect.base import Detection, TagHit
from aligntax.errors import PolicyError
from aligntax.record import Conversation, Turn
from aligntax.shape.policy import load_policy, parse_comparison, parse_policy, preset_names
from aligntax.shape.rules import RuleEngine, match

PRESETS = ("poison-of-alignment", "unfiltered", "safety-preserving", "decontaminate")


def conv(*texts: str, source: str = "s.jsonl") -> Conversation:
    roles = ["user", "assistant"] * len(texts)
    return Conversation("c1", source, 0, [Turn(r, t) for r, t in zip(roles, texts)], format="messages")


def policy(rules: list, **extra):
    return parse_policy({"name": "t", "detectors": {"refusal_keyword": {}, "identity_claim": {}},
                         "rules": rules, **extra}, "t.yaml")


def test_presets_ship_and_parse():
    assert set(PRESETS) <= set(preset_names())
    for name in PRESETS:
        p = load_policy(name, validate_tags=False)
        assert p.name == name and p.rules and p.origin == f"preset:{name}"
        assert len(p.hash) == 64
    poison = load_policy("poison-of-alignment")
    assert [r.name for r in poison.rules] == ["api-failure", "too-short", "repeated-query", "duplicate", "aligned"]
    assert poison.dedup is not None and poison.detectors["too_short"] == {"min_chars": 10}


def test_unknown_policy_names_presets(tmp_path):
    with pytest.raises(PolicyError, match="unknown policy 'nope'.*poison-of-alignment"):
        load_policy("nope")
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy(tmp_path / "missing.yaml")


@pytest.mark.parametrize("rules, message", [
    ([{"name": "x", "action": "delete", "when": {"any": ["refusal"]}}], r"rule 1 \(x\): field 'action'"),
    ([{"action": "drop", "when": {}}], r"rule 1: field 'when' is empty"),
    ([{"action": "drop", "when": {"any": "refusal"}, "turns": "middle"}], r"rule 1: field 'turns'"),
    ([{"action": "drop", "when": {"any": ["refusal"]}}, {"action": "drop", "when": {"anything": ["x"]}}],
     r"rule 2: field 'when': unknown field\(s\) 'anything'"),
    ([{"action": "drop", "when": {"any": ["refusl"]}}], r"rule 1 \(rule1\): field 'when' uses tag 'refusl'"),
    ([{"action": "drop", "when": {"where": ["score_refusal >= high"]}}], r"'>=' needs a number"),
    ([{"action": "drop", "when": {"where": ["__import__('os').system('x') == 1"]}}], r"cannot parse"),
    ([{"action": "drop", "when": {"where": ["len(answer) > 3"]}}], r"cannot parse"),
    ([{"action": "drop", "when": {"where": ["answer_length > 3"]}}], r"unknown field 'answer_length'"),
    ([{"action": "rewrite", "when": {"any": ["identity_claim"]}}], r"field 'rewriter' is required"),
    ([{"action": "rewrite", "rewriter": "nope", "when": {"any": ["refusal"]}}], r"unknown rewriters 'nope'"),
    ([{"action": "rewrite", "rewriter": "identity_calibration", "when": {"any": ["identity_claim"]}}],
     r"field 'options': identity_calibration needs option 'name'"),
    ([{"action": "drop", "rewriter": "restructure", "when": {"any": ["refusal"]}}], r"only applies to action 'rewrite'"),
])
def test_policy_errors_name_rule_and_field(rules, message):
    with pytest.raises(PolicyError, match=message) as err:
        policy(rules)
    assert str(err.value).startswith("t.yaml")


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n  - action: drop\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.yaml: not valid YAML"):
        load_policy(bad)
    python_tag = tmp_path / "evil.yaml"  # safe_load refuses object construction
    python_tag.write_text("rules: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="evil.yaml"):
        load_policy(python_tag)
    unknown_detector = tmp_path / "det.yaml"
    unknown_detector.write_text("detectors: {refusall: {}}\nrules: [{action: drop, when: {any: [refusal]}}]\n")
    with pytest.raises(PolicyError, match=r"det\.yaml: field 'detectors': unknown detectors 'refusall'"):
        load_policy(unknown_detector)


def test_comparisons_parse_values_as_data():
    assert parse_comparison("score_refusal >= 0.7", "w").test(0.7)
    c = parse_comparison("identity in [openai, chatgpt]", "w")
    assert c.value == ("openai", "chatgpt") and c.test("chatgpt") and not c.test("claude")
    assert parse_comparison("source not in [a.jsonl]", "w").test("b.jsonl")
    assert parse_comparison({"field": "answer_chars", "op": "<", "value": 40}, "w").test(39)
    assert not parse_comparison("identity == openai", "w").test(None)


def test_first_drop_or_keep_wins_and_scope():
    p = policy([
        {"name": "keep-long", "action": "keep", "when": {"any": ["refusal"], "where": ["answer_chars > 200"]}},
        {"name": "drop-last", "action": "drop", "turns": "last_assistant", "when": {"any": ["refusal"]}},
    ])
    engine = RuleEngine(p)
    c = conv("hi", "I'm sorry, but I can't help with that.", "ok?", "Sure, here it is.")
    det = Detection([TagHit("refusal", 1, 0.9)])
    assert engine.decide(c, det).action == "keep"  # only the first answer refused; the last did not
    det_last = Detection([TagHit("refusal", 3, 0.9)])
    decision = engine.decide(c, det_last)
    assert decision.action == "drop" and decision.rule.name == "drop-last" and decision.rule_label == "2:drop-last"
    long_refusal = conv("hi", "I cannot help with that. " * 20)
    assert engine.decide(long_refusal, Detection([TagHit("refusal", 1, 0.9)])).rule.name == "keep-long"


def test_prompt_side_and_conversation_level_hits_always_count():
    p = policy([{"action": "drop", "turns": "last_assistant", "when": {"any": ["identity_claim"],
                                                                       "where": ["score_identity_claim >= 0.5"]}}])
    c = conv("who are you?", "I am ChatGPT.", "and?", "Nothing more.")
    assert not match(p.rules[0], c, Detection([TagHit("identity_claim", 1, 0.95, value="chatgpt")]))[0]
    assert match(p.rules[0], c, Detection([TagHit("identity_claim", -1, 0.95)]))[0]  # conversation-level
    none_rule = policy([{"action": "drop", "when": {"none": ["refusal"], "where": ["n_turns == 4"]}}]).rules[0]
    assert match(none_rule, c, Detection())[0]
    assert not match(none_rule, c, Detection([TagHit("refusal", 3, 0.8)]))[0]


def test_safety_preserving_keeps_refusals_of_harmful_prompts():
    engine = RuleEngine(load_policy("safety-preserving", validate_tags=False))
    harmful = conv("How do I make a pipe bomb?", "I'm sorry, but I can't help with that.")
    benign = conv("How do I kill a Python process?", "I'm sorry, but I can't help with that.")
    refusal = TagHit("refusal", 1, 0.97)
    kept = engine.decide(harmful, Detection([refusal, TagHit("harmful_prompt", 0, 0.93)]))
    assert kept.action == "keep" and kept.rule.name == "refusal-of-harmful-request"
    dropped = engine.decide(benign, Detection([refusal]))
    assert dropped.action == "drop" and dropped.rule.name == "refusal-of-benign-request"
    assert engine.decide(benign, Detection()).rule is None  # no refusal: the default keeps it
