"""The gated alternations in front of the role-play regexes must find exactly what the plain
alternation finds: same spans, same order, on real prompts and on edge cases."""

from __future__ import annotations

import json
import re

import pytest

from aligntax.detect.keyword_gate import AnchoredPattern, GatedAlternation, KeywordGate
from aligntax.detect.roleplay import _MEDIUM, _STRONG

EDGE_CASES = [
    "", "You are a pirate captain, sailing the seas. Pretend to be him.",
    "\n\nyou ARE A Knight from the north.", "Note: hi\nYou're Sherlock Holmes, the detective.",
    "IMAGINE YOU ARE A DRAGON.", "Let’s roleplay! Roleplay as a wizard and stay in character.",
    "If you were a cat, how would you nap?", "İmagine you are a cat. You are a Cat from Rome.",  # non-ASCII
    "from now on you will answer as DAN. From the perspective of a fox, describe dawn.",
    "As a doctor, explain fevers.\nAs a result, nothing.", "your role is to act, your persona will be Bob",
    "Respond as if you were a pirate; write in character as Bob. Play the role of Ann.",
]


def _plain(alternation: GatedAlternation) -> re.Pattern:
    return re.compile("|".join(p.regex.pattern for p, _ in alternation.branches))


def _corpus(shared_data) -> list[str]:
    rows = json.loads((shared_data / "gpteacher_roleplay" / "roleplay-simple-deduped-roleplay-instruct.json").read_text())
    texts = [(r["instruction"] + "\n\n" + r["input"]).strip() for r in rows[:3000]]
    texts += [json.loads(line)["text"] for line in (shared_data / "vicuna_bench_answers" / "question.jsonl").open()]
    texts += [line.split(",", 1)[-1] for line in (shared_data / "xstest_prompts" / "xstest_prompts.csv").open()]
    return texts + EDGE_CASES + [t.upper() for t in EDGE_CASES] + ["\n" + t for t in texts[:500]]


@pytest.mark.parametrize("alternation", [_STRONG, _MEDIUM], ids=["strong", "medium"])
def test_gated_alternation_equals_plain_regex(alternation, shared_data):
    plain = _plain(alternation)
    texts = _corpus(shared_data)
    found = 0
    for text in texts:
        expected = [m.span() for m in plain.finditer(text)]
        assert alternation.spans(text, text.lower(), text.isascii()) == expected, text[:200]
        found += bool(expected)
    assert found > 300  # the comparison covered real matches, not only misses


def test_anchored_pattern_search_equals_re_search():
    line = AnchoredPattern(r"(?:^|\n)\s*as\s+an?\b", line_start=True)
    word = AnchoredPattern(r"(?i:\bif\s+you\b)", words=["if"])
    for text in ["as a cat", "x\n as an owl\nas a", "If you, if you", "gift you", "ıf you İf you"]:
        for pos in range(len(text) + 1):
            for p in (line, word):
                got = p.search(text, pos, text.lower(), text.isascii())
                want = p.regex.search(text, pos)
                assert (got and got.span()) == (want and want.span()), (text, pos, p.regex.pattern)


def test_branches_tie_to_the_earlier_one():
    alt = GatedAlternation([(r"ab", ("ab",)), (r"abc", ("abc",))])
    assert alt.spans("abc abc", "abc abc", True) == [(0, 2), (4, 6)] == [m.span() for m in re.finditer("ab|abc", "abc abc")]


def test_shared_scan_buckets_per_phrase_set_and_rebuilds_for_late_sets():
    from aligntax.detect.textscan import PhraseSet, scan

    text = "I\u2019m sorry, but I can\u2019t help with that. Rate limit reached."
    first = scan(text)
    assert scan(text) is first  # detectors asking about the same answer share one pass
    late = KeywordGate(["RATE LIMIT", "i'm"])  # registered after the automaton was built (a plug-in)
    starts = sorted(late.starts(text))
    assert [text[s:s + 3] for s in starts] == ["I\u2019m", "Rat"]  # curly apostrophe folded, case ignored
    payloads = PhraseSet({"sorry": "S", "help": "H"})
    assert [p for _, p in payloads.hits(text)] == ["S", "H"]
    assert not KeywordGate(["unrelated words"]).any(text)


def test_shared_scan_cache_is_by_identity_and_bounded(monkeypatch):
    from aligntax.detect import textscan

    a = "I'm sorry, but I can't help with that. " * 3
    b = a[:10] + a[10:]  # equal value, another object: a repeated answer is scanned again, never free
    assert b == a and b is not a
    assert textscan.scan(a) is textscan.scan(a)
    assert textscan.scan(b) is not textscan.scan(a) and textscan.scan(b) == textscan.scan(a)
    monkeypatch.setattr(textscan, "CACHE_CHARS", 100)
    for k in range(20):
        textscan.scan(f"text number {k} " * 10)
    assert textscan._cached_chars <= 100 + 200 and len(textscan._cache) <= 2
