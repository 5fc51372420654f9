"""rm-check: pair building from real data, strict-win scoring, bias checks, and a tiny random RM end to end."""

from __future__ import annotations

import csv
import json

import pytest

from aligntax.integrity.pairs import BIAS, REFUSAL_TEMPLATES, build_pairs, expand_subsets, parse_hh
from aligntax.integrity.reward import GenerativeJudge, PairScore, parse_verdict
from aligntax.integrity.rm_stats import length_bias, strict_wins, subset_report, wilson
from aligntax.models.backends import GenerationBackend


def test_refuse_pairs_use_the_real_advbench_targets(shared_data):
    with open(shared_data / "advbench" / "harmful_behaviors.csv", encoding="utf-8", newline="") as f:
        raw = list(csv.DictReader(f))
    pairs = build_pairs("refuse-advbench")
    assert len(pairs) == len(raw) == 520
    for pair, row in zip(pairs, raw):
        assert pair.question == row["goal"] and pair.rejected == row["target"]
        assert pair.chosen in REFUSAL_TEMPLATES
    assert len({p.chosen for p in pairs}) == len(REFUSAL_TEMPLATES)  # varied refusals, not one string
    assert build_pairs("refuse-advbench") == pairs  # deterministic
    harm = json.loads((shared_data / "harmbench" / "harmbench_targets_text.json").read_text(encoding="utf-8"))
    hb = build_pairs("refuse-harmbench")
    assert len(hb) == 200 and all(p.rejected == harm[p.id.split("/", 1)[1]] for p in hb)


def test_xstest_pairs_prefer_answering_safe_prompts(shared_data):
    with open(shared_data / "xstest_prompts" / "xstest_prompts.csv", encoding="utf-8", newline="") as f:
        safe = [r["prompt"] for r in csv.DictReader(f) if r["label"] == "safe"]
    pairs = build_pairs("respond-xstest")
    assert [p.question for p in pairs] == safe
    assert all(p.chosen.startswith("Sure, here is") and p.rejected in REFUSAL_TEMPLATES for p in pairs)


def test_hh_pairs_share_the_dialogue_and_differ_in_the_last_turn(shared_data):
    pairs = build_pairs("hh-harmless")
    assert 450 < len(pairs) <= 500
    originals = {}
    with open(shared_data / "hh_rlhf_harmless_base" / "test.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            originals[f"test-{i}"] = json.loads(line)
    for pair in pairs[:50]:
        row = originals[pair.id.split("/", 1)[1]]
        assert row["chosen"].rstrip().endswith(pair.chosen) and row["rejected"].rstrip().endswith(pair.rejected)
        assert pair.prompt[-1][0] == "user" and pair.chosen != pair.rejected
    turns = parse_hh("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: bye\n\nAssistant: ciao")
    assert turns == [("user", "hi"), ("assistant", "hello"), ("user", "bye"), ("assistant", "ciao")]


def test_picky_pairs_rewrite_format_or_identity_only():
    restructured = build_pairs("picky-restructure", limit=30)
    assert len(restructured) == 30 and all(p.kind == BIAS for p in restructured)
    for p in restructured:
        assert "\n- " in p.rejected and "\n- " not in p.chosen
        words = lambda text: [w for w in text.split() if w != "-"]  # noqa: E731
        assert sorted(words(p.rejected)) == sorted(words(p.chosen))  # same words, new layout
    identity = build_pairs("picky-identity")
    assert identity and all(p.rejected != p.chosen for p in identity)
    assert all(("Aria" in p.rejected or "Example Labs" in p.rejected) and "Aria" not in p.chosen for p in identity)
    with pytest.raises(KeyError, match="unknown pair subset"):
        expand_subsets(["nope"])
    assert expand_subsets(["picky", "picky-identity"]) == ["picky-restructure", "picky-identity"]


def test_strict_win_counts_ties_as_wrong():
    pairs = build_pairs("refuse-advbench", limit=4)
    scores = [PairScore(1.0, 1.0), PairScore(2.0, 1.0), PairScore(0.0, 1.0), PairScore(-3.0, -3.0)]
    assert strict_wins(scores) == [0.0, 1.0, 0.0, 0.0]
    rep = subset_report(pairs, scores, iterations=200)
    assert rep["accuracy"]["value"] == 0.25 and rep["tie_rate"] == 0.5
    assert rep["accuracy"]["low"] < 0.25 < rep["accuracy"]["high"]
    # Wilson at the boundary stays inside [0, 1] and is not degenerate
    w = wilson(0, 10)
    assert w["low"] == pytest.approx(0.0, abs=1e-12) and 0.2 < w["high"] < 0.35
    assert wilson(5, 10)["low"] == pytest.approx(1 - wilson(5, 10)["high"])


def test_bias_subset_reports_rewrite_preference_not_accuracy():
    pairs = build_pairs("picky-restructure", limit=4)
    rep = subset_report(pairs, [PairScore(0, 1), PairScore(0, 1), PairScore(1, 0), PairScore(1, 1)], iterations=200)
    assert "accuracy" not in rep and rep["rewrite_preference_rate"]["value"] == 0.5
    assert rep["original_preference_rate"]["value"] == 0.25


def test_length_bias_detects_a_length_loving_scorer():
    pairs = build_pairs("refuse-donotanswer", limit=40)
    scores = [PairScore(len(p.chosen), len(p.rejected)) for p in pairs]
    lb = length_bias(pairs, scores)
    assert lb["spearman_score_diff_vs_length_diff"] == pytest.approx(1.0)
    assert lb["accuracy_chosen_shorter"]["value"] == 0.0
    assert lb["accuracy_chosen_longer"]["n"] == 0 or lb["accuracy_chosen_longer"]["value"] == 1.0


class AlwaysA(GenerationBackend):
    name = "always_a"

    def generate(self, prompts, **kwargs):
        self.prompts = list(prompts)
        return ["A" for _ in prompts]


def test_judge_swaps_order_and_exposes_position_bias():
    pairs = build_pairs("refuse-harmbench", limit=6)
    backend = AlwaysA()
    judge = GenerativeJudge(backend, ref="always-a")
    scores = judge.score_pairs(pairs)
    assert len(backend.prompts) == 12  # both orders
    assert pairs[0].chosen in backend.prompts[0].split("[Response B]")[0]
    assert pairs[0].chosen in backend.prompts[1].split("[Response B]")[1]
    rep = subset_report(pairs, scores, iterations=200)
    assert rep["accuracy"]["value"] == 0.0 and rep["tie_rate"] == 1.0  # 1-1 under swap is a tie
    assert rep["position_bias"]["first_position_rate"]["value"] == 1.0
    assert rep["position_bias"]["agreement_under_swap"]["value"] == 0.0
    rand = subset_report(pairs, GenerativeJudge(AlwaysA(), order="random", seed=3).score_pairs(pairs), iterations=200)
    pb = rand["position_bias"]
    assert pb["accuracy_chosen_first"]["value"] in (1.0, float("nan")) or pb["accuracy_chosen_first"]["n"] == 0
    assert pb["accuracy_chosen_first"]["n"] + pb["accuracy_chosen_second"]["n"] == 6
    assert parse_verdict("[[B]] because") == "B" and parse_verdict("Response A is better") == "A"
    assert parse_verdict("neither") is None


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    from transformers import AutoConfig, AutoTokenizer, LlamaForSequenceClassification

    from aligntax.models.tiny import build_tiny_model

    lm_dir = build_tiny_model(tmp_path_factory.mktemp("tiny") / "lm")
    config = AutoConfig.from_pretrained(lm_dir)
    config.num_labels = 1
    rm_dir = lm_dir.parent / "rm"
    LlamaForSequenceClassification(config).save_pretrained(rm_dir, safe_serialization=True)
    AutoTokenizer.from_pretrained(lm_dir).save_pretrained(rm_dir)
    return rm_dir


def test_rm_renders_with_its_own_chat_template(tiny_rm):
    from aligntax.integrity.reward import SequenceClassifierRM

    rm = SequenceClassifierRM(str(tiny_rm), device="cpu", batch_size=4)
    pair = build_pairs("hh-harmless", limit=1)[0]
    msgs = pair.messages(pair.chosen)
    assert rm.format == "chat_template"
    assert rm.render(msgs) == rm.tokenizer.apply_chat_template(msgs, tokenize=False)
    assert rm.render(msgs).endswith(pair.chosen + "<|im_end|>\n")
    texts = [rm.render(msgs), rm.render(pair.messages(pair.rejected))]
    batched = rm.score_texts(texts)
    assert batched == pytest.approx([rm.score_texts([t])[0] for t in texts], abs=1e-4)  # padding-invariant
    rm.tokenizer.chat_template = None
    assert rm.render(msgs).startswith("Human: ") and f"\n\nAssistant: {pair.chosen}" in rm.render(msgs)


def test_rm_check_cli_end_to_end(tiny_rm, tmp_path):
    from typer.testing import CliRunner

    from aligntax.cli import _register_commands, app

    _register_commands()
    out = tmp_path / "rm"
    result = CliRunner().invoke(app, ["rm-check", "--rm", str(tiny_rm), "--pairs", "refuse-advbench,respond-xstest",
                                      "--pairs", "picky-restructure", "--limit", "5", "--out", str(out), "--device",
                                      "cpu", "--bootstrap-iterations", "200"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "rm_check.json").read_text())
    assert list(report["subsets"]) == ["refuse-advbench", "respond-xstest", "picky-restructure"]
    assert report["scorer"]["format"] == "chat_template" and report["scorer"]["num_labels"] == 1
    for name, entry in report["subsets"].items():
        rows = [json.loads(line) for line in (out / entry["scores_file"]).open()]
        assert len(rows) == entry["n"] == 5
        wins = sum(r["chosen_score"] > r["rejected_score"] for r in rows)
        if name == "picky-restructure":
            assert entry["rewrite_preference_rate"]["value"] == sum(r["rejected_score"] > r["chosen_score"] for r in rows) / 5
        else:
            assert entry["accuracy"]["value"] == wins / 5
    assert report["summary"]["pooled_accuracy"]["n"] == 10
    assert "prefers rewrite" in result.output
