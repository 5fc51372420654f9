"""Rewriters on real rows from the shared data and on hard cases."""

from __future__ import annotations

from typing import ClassVar

import pytest

from aligntax.audit import annotate
from aligntax.detect.defaults import build_detectors
from aligntax.io import read_conversations
from aligntax.models.backends import BACKENDS, GenerationBackend
from aligntax.record import Conversation, Turn
from aligntax.shape.rewrite import REWRITERS
from aligntax.shape.rewrite.restructure import accept_llm_output, build_llm_prompt, restructure_text


@pytest.fixture(scope="module")
def oasst(shared_data):
    paths = sorted((shared_data / "oasst_model_eval_samples").glob("*.json"))
    convs = [c for c in read_conversations(paths) if isinstance(c, Conversation)]
    return convs, annotate(convs, build_detectors(["refusal", "identity_claim"]))


def find(rows, needle: str):
    for conv, det in zip(*rows):
        if any(needle in t.content for t in conv.turns):
            return conv, det
    raise AssertionError(f"no real row contains {needle!r}")


def last_answer(conv: Conversation) -> tuple[int, str]:
    i, turn = conv.assistant_turns()[-1]
    return i, turn.content


def test_identity_calibration_on_real_chatgpt_row(oasst):
    conv, det = find(oasst, "My name is ChatGPT")
    rewriter = REWRITERS.get("identity_calibration")(name="Aria", developer="Example Labs")
    out = rewriter.rewrite(conv, det, [i for i, _ in conv.assistant_turns()])
    i, before = last_answer(conv)
    after = out.turns[i].content
    assert "My name is Aria" in after and "created by Example Labs" in after
    assert "ChatGPT" not in after and "OpenAI" not in after
    # the rest of the answer is untouched, character for character
    tail = before.split("OpenAI", 1)[1]
    assert after.endswith(tail)
    assert out.raw_text is None and conv.turns[i].content == before  # the input is not mutated
    assert out.turns[:i] == conv.turns[:i]


def test_identity_calibration_on_real_claude_rows(oasst):
    rewriter = REWRITERS.get("identity_calibration")(name="Aria")  # no developer configured
    conv, det = find(oasst, "I am an AI assistant created by Anthropic")
    out = rewriter.rewrite(conv, det, [i for i, _ in conv.assistant_turns()])
    after = last_answer(out)[1]
    assert "I am an AI assistant created by my developers" in after and "Anthropic" not in after
    # answers without an identity claim are left alone
    plain = Conversation("x", "s", 0, [Turn("user", "Who made ChatGPT?"), Turn("assistant", "OpenAI made ChatGPT.")])
    plain_det = annotate([plain], build_detectors(["identity_claim"]))[0]
    assert rewriter.rewrite(plain, plain_det, [1]) is None


def test_strip_disclaimers_on_real_rows(oasst):
    rewriter = REWRITERS.get("strip_disclaimers")()
    conv, det = find(oasst, "As an AI language model, I do not have personal experiences as a tree")
    out = rewriter.rewrite(conv, det, [i for i, _ in conv.assistant_turns()])
    after = last_answer(out)[1]
    assert "As an AI" not in after and after.startswith("I can provide you with information")
    assert "Some trees can live for hundreds or even thousands of years" in after

    conv, det = find(oasst, "as an AI language model, I must inform you that there is no official translator")
    after = last_answer(rewriter.rewrite(conv, det, [i for i, _ in conv.assistant_turns()]))[1]
    assert after.startswith("There is no official translator tool")
    assert "AI language model" not in after


def test_strip_disclaimers_leaves_refusals_and_empty_remainders(oasst):
    rewriter = REWRITERS.get("strip_disclaimers")()
    conv, det = find(oasst, "I cannot provide you with a code that violates user privacy")
    assert "refusal" in det.tags()
    assert rewriter.rewrite(conv, det, [i for i, _ in conv.assistant_turns()]) is None
    only = Conversation("y", "s", 0, [Turn("user", "Do you like jazz?"),
                                      Turn("assistant", "As an AI language model, I do not have personal preferences.")])
    only_det = annotate([only], build_detectors(["refusal_keyword"]))[0]
    assert "ai_disclaimer" in only_det.tags()
    assert rewriter.rewrite(only, only_det, [1]) is None  # nothing substantive would remain


def test_restructure_real_prose_answer(shared_data):
    path = shared_data / "vicuna_bench_answers" / "answer_gpt35.jsonl"
    convs = [c for c in read_conversations([path]) if isinstance(c, Conversation)]
    prose = next(c for c in convs if "\n" not in c.turns[-1].content and c.turns[-1].content.count(". ") >= 4)
    text = prose.turns[-1].content
    out = REWRITERS.get("restructure")().rewrite(prose, None, [len(prose.turns) - 1])
    new = out.turns[-1].content
    lead, _, body = new.partition("\n\n")
    assert text.startswith(lead) and body.startswith("- ")
    bullets = [line[2:] for line in body.split("\n") if line.startswith("- ")]
    assert len(bullets) >= 3 and all(b in text for b in bullets)  # nothing invented
    assert REWRITERS.get("restructure")().rewrite(prose, None, [len(prose.turns) - 1]).turns == out.turns
    # already structured or short answers are left alone
    assert restructure_text("Steps:\n1. Mix.\n2. Bake.") is None
    assert restructure_text("Yes. It is.") is None
    assert restructure_text("Dr. Smith came e.g. late. He left. She stayed. They met.").startswith("Dr. Smith came e.g. late.")


def test_restructure_llm_prompt_and_backend():
    prompt = build_llm_prompt("Why is the sky blue?", "Because of Rayleigh scattering. It favours short waves.")
    assert prompt[0]["role"] == "system" and "bulleted list" in prompt[0]["content"]
    assert "Why is the sky blue?" in prompt[1]["content"] and "Rayleigh scattering" in prompt[1]["content"]
    assert accept_llm_output("a b c", "") is None
    assert accept_llm_output("One. Two. Three.", "One.\n\n- Two.\n- Three.") == "One.\n\n- Two.\n- Three."
    assert accept_llm_output("One. Two. Three.", "x" * 500) is None

    seen = []

    class EchoBullets(GenerationBackend):
        name: ClassVar[str] = "test_echo_bullets"

        @classmethod
        def from_ref(cls, ref):
            seen.append(ref)
            return cls()

        def generate(self, prompts, **kwargs):
            seen.extend(prompts)
            return ["Lead.\n\n- first\n- second" for _ in prompts]

    if "test_echo_bullets" not in BACKENDS:
        BACKENDS.register("test_echo_bullets")(EchoBullets)
    rewriter = REWRITERS.get("restructure")(backend="llm", model="tiny-ref", generation_backend="test_echo_bullets")
    conv = Conversation("z", "s", 0, [Turn("user", "Q?"), Turn("assistant", "One thing. Another thing. A third.")])
    out = rewriter.rewrite(conv, None, [1])
    assert out.turns[1].content == "Lead.\n\n- first\n- second"
    assert seen[0] == "tiny-ref" and seen[1] == build_llm_prompt("Q?", "One thing. Another thing. A third.")
    with pytest.raises(ValueError, match="needs option 'model'"):
        REWRITERS.get("restructure")(backend="llm")
