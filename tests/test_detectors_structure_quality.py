"""structure, api_failure, too_short and non_text on real rows and hard cases."""

from __future__ import annotations

import json

import pytest

from aligntax.detect.defaults import DEFAULT_DETECTORS, build_detectors, default_detector_names
from aligntax.detect.quality import ApiFailureDetector, NonTextDetector, TooShortDetector
from aligntax.detect.structure import STRUCTURE_FEATURES, StructureDetector
from aligntax.record import Conversation, Turn


def answer(*texts: str) -> Conversation:
    turns = []
    for text in texts:
        turns += [Turn("user", "Question?"), Turn("assistant", text)]
    return Conversation("t", "test", 0, turns)


MARKDOWN = """# Plan

Steps:

1. Install Python.
2. Create a venv.
3. Run the script.

- a bullet
* another

```python
print("hi")
```

| a | b |
|---|---|
| 1 | 2 |

Step 1 is the hardest. Step 2 is easy.
"""


def test_structure_counts_and_tags():
    det = StructureDetector().detect(answer(MARKDOWN))
    f = det.features
    assert set(f) == set(STRUCTURE_FEATURES)
    assert (f["n_list_items"], f["n_numbered_items"], f["n_code_blocks"], f["n_table_rows"]) == (5, 3, 1, 3)
    assert f["n_headings"] == 2  # "# Plan" and "Steps:"
    assert f["n_steps"] == 3  # max(2 "Step N" mentions, 3 numbered items)
    assert f["answer_chars"] == len(MARKDOWN) and f["answer_words"] == len(MARKDOWN.split())
    assert f["answer_tokens"] == max(-(-len(MARKDOWN) // 4), len(MARKDOWN.split()))
    assert {h.tag for h in det.hits} == {"structured_list", "has_code"}
    code = next(h for h in det.hits if h.tag == "has_code")
    assert MARKDOWN[code.spans[0][0]:code.spans[0][1]].startswith("```python")


def test_structure_aggregates_over_assistant_turns():
    f = StructureDetector().detect(answer("- a\n- b", "- c\n- d\n\n    x = 1\n    y = 2\n")).features
    assert f["n_assistant_turns"] == 2 and f["n_list_items"] == 4 and f["n_code_blocks"] == 1
    assert f["answer_chars"] == len("- a\n- b") + len("- c\n- d\n\n    x = 1\n    y = 2\n")


def test_prose_has_no_structure():
    text = "Paris is the capital of France. It has been since 987: a long time."
    det = StructureDetector().detect(answer(text))
    assert det.hits == [] and det.features["n_list_items"] == det.features["n_code_blocks"] == 0


def test_min_list_items_option():
    assert StructureDetector(min_list_items=2).detect(answer("- a\n- b")).hits[0].tag == "structured_list"
    assert StructureDetector().detect(answer("- a\n- b")).hits == []


@pytest.mark.parametrize("text, value", [
    ("", "empty"),
    ("   \n", "empty"),
    ("Rate limit reached for default-gpt-3.5-turbo in organization org-x on requests per min.", "error_text"),
    ("[object Object]", "error_text"),
    ('{"error": {"message": "That model is currently overloaded", "type": "server_error"}}', "error_text"),
    ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "error_text"),
    ("An error occurred. Please try again later.", "error_text"),
    ("Network error", "error_text"),
    ("Here is the code:\n```python\ndef f(x):\n    return x", "truncated"),
    ("The French Revolution began in 1789 and reshaped European politics for a century. " * 3
     + "Its causes included fiscal crisis, Enlightenment ideas and the", "truncated"),
])
def test_api_failure_fires(text, value):
    (hit,) = ApiFailureDetector().detect(answer(text)).hits
    assert hit.value == value and 0.5 <= hit.score <= 1


@pytest.mark.parametrize("text", [
    "A 503 Service Unavailable error means the server is overloaded or down for maintenance. " * 5
    + "Retry with exponential backoff.",  # explaining an error is not an error
    "In JavaScript, printing an object with string concatenation gives \"[object\" ... use JSON.stringify.",
    "Here are the steps:\n1. Open the file\n2. Edit the line\n3. Save it and restart the service now",  # list end
    "4",  # a short answer is not a truncated one
    "```python\nprint('ok')\n```",
])
def test_api_failure_not_fired(text):
    assert ApiFailureDetector().detect(answer(text)).hits == []


def test_api_failure_rare_on_real_gpt4_answers(shared_data):
    """GPT-4's OASST answers are complete and error-free; at most a couple of heuristic misfires."""
    data = json.loads((shared_data / "oasst_model_eval_samples" / "2023-04-16_gpt-4_sample.json").read_text())
    answers = [p["results"][0]["outputs"][0] for p in data["prompts"]]
    fired = [a for a in answers if ApiFailureDetector().detect(answer(a)).hits]
    assert len(fired) <= 3, [a[-80:] for a in fired]


def test_hh_rlhf_truncated_answers_are_found(shared_data):
    """HH-RLHF answers are often cut at a length limit mid-sentence; the detector finds some."""
    rows = [json.loads(line) for _, line in zip(range(400), (shared_data / "hh_rlhf_harmless_base" / "test.jsonl").open())]
    last_answers = [r["chosen"].rsplit("\n\nAssistant:", 1)[-1].strip() for r in rows]
    hits = [h for a in last_answers for h in ApiFailureDetector().detect(answer(a)).hits]
    assert any(h.value == "truncated" for h in hits) and {h.value for h in hits} <= {"truncated", "empty"}
    assert len(hits) < 0.2 * len(rows)


def test_too_short_threshold():
    d = TooShortDetector()
    assert [h.tag for h in d.detect(answer("Yes.")).hits] == ["too_short"]
    assert d.detect(answer("")).hits[0].score == 1.0
    assert d.detect(answer("Paris, France.")).hits == []
    assert TooShortDetector(min_chars=30).detect(answer("Paris, France.")).hits[0].score < 1.0


@pytest.mark.parametrize("text", [
    "@" * 40,
    "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=",
    "%$#@!*&^%$#@!*&^%$#@!*&^%$# ~~ ^^ ** ## ))",
    "lol" * 20 + " ok",
])
def test_non_text_fires(text):
    (hit,) = NonTextDetector().detect(answer(text)).hits
    assert hit.tag == "non_text" and 0.5 <= hit.score <= 1


@pytest.mark.parametrize("text", [
    "def f(x):\n    return {k: v for k, v in x.items() if v != 0}  # {}[]()",
    "3x + 10 = 5x - 10 => 2x = 20 => x = 10.",
    "|1|7|5|2|\n|9|2|8|1|\n|8|3|4|6|",
    r"^(([0-9]|[1-9][0-9])\.){3}([0-9]|[1-9][0-9])$",
    "Je pense, donc je suis. 我思故我在。Cogito, ergo sum.",
    "Short.",
])
def test_non_text_spares_code_math_and_languages(text):
    assert NonTextDetector().detect(answer(text)).hits == []


def test_non_text_quiet_on_real_vicuna_answers(shared_data):
    for model in ("gpt35", "bard", "vicuna-13b"):
        rows = [json.loads(line) for line in (shared_data / "vicuna_bench_answers" / f"answer_{model}.jsonl").open()]
        assert not [r["text"][:80] for r in rows if NonTextDetector().detect(answer(r["text"])).hits]


def test_default_set_includes_refusal_and_all_mine():
    names = default_detector_names()
    assert names == [n for n in DEFAULT_DETECTORS]
    assert {"refusal", "identity_claim", "roleplay", "structure", "api_failure", "too_short", "non_text"} <= set(names)
    detectors = build_detectors("identity_claim,too_short", {"too_short": {"min_chars": 3}})
    assert [d.name for d in detectors] == ["identity_claim", "too_short"] and detectors[1].min_chars == 3
    with pytest.raises(KeyError, match="available"):
        build_detectors("no_such_detector")


LONG_TOKEN_CASES = [
    "a" * 20, "a" * 19 + " b", "x\x1c" + "a" * 19, "b" * 10 + "\x0b" + "c" * 12, "word " * 30 + "q" * 25,
    "tab\t" + "z" * 21, "é" + "a" * 30, "a" * 10 + "\u00a0" + "b" * 15, "é" * 19 + "\u3000" + "ü" * 19,
    "日本語" * 7, "x\u2009" * 30 + "ß" * 20, "\u0085".join(["k" * 15] * 3), "½" * 25 + " ２３" + "_" * 3,
]


@pytest.mark.parametrize("text", LONG_TOKEN_CASES)
def test_batched_long_token_check_matches_str_split(text):
    from aligntax.detect.quality import _long_tokens

    (found,) = _long_tokens([text])
    assert found is (max(map(len, text.split()), default=0) >= 20)


def test_letter_count_matches_the_unicode_regex(shared_data):
    """The fast count equals letters by ``[^\\W\\d_]`` plus whitespace by ``str.split``, on real non-ASCII answers."""
    import json
    import re

    from aligntax.detect.quality import _letters_and_spaces

    not_letters = re.compile(r"[\W\d_]+")
    texts = LONG_TOKEN_CASES + ["Ça coûte 3½ € — “quoted” ２０２４ 東京 ٣ naïve\u2028x", "\u00a0\u3000"]
    for path in sorted((shared_data / "oasst_model_eval_samples").glob("*.json")):
        texts += [p["prompt"] for p in json.loads(path.read_text())["prompts"]]
    non_ascii = 0
    for text in texts:
        expected = len(not_letters.sub("", text)) + len(text) - sum(map(len, text.split()))
        assert _letters_and_spaces(text) == expected, text[:100]
        non_ascii += not text.isascii()
    assert non_ascii > 20


def test_word_count_is_str_split():
    import random

    from aligntax.detect.structure import word_count

    rng = random.Random(0)
    alphabet = [" ", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "a", ".", "\x00", "\x7f", "é", "\u2003", "\x85"]
    texts = ["", " ", "x", " x ", "two words", "x\x1fy"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(30))) for _ in range(5000)]
    assert [word_count(t) for t in texts] == [len(t.split()) for t in texts]
