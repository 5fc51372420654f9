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


def _answers(shared_data) -> list[str]:
    texts = []
    for path in sorted((shared_data / "oasst_model_eval_samples").glob("*.json")):
        texts += [p["results"][0]["outputs"][0] for p in json.loads(path.read_text())["prompts"]]
    return texts


def test_hyperscan_engine_gives_pyahocorasick_matches_in_its_order(shared_data):
    """Both engines of the shared pass: every occurrence, by end offset, longest phrase first at one end."""
    from aligntax.detect import textscan
    from aligntax.detect.defaults import build_detectors

    build_detectors()  # every built-in phrase set registered
    matcher = textscan.shared_automaton()
    if matcher.hs is None:
        pytest.skip("hyperscan not installed on this platform")
    texts = _corpus(shared_data) + _answers(shared_data) + ["i can't i cannot", "as an ai, as an ai language model"]
    compared = overlapping = 0
    for text in texts:
        low = textscan.normalise(text)
        expected = list(matcher.auto.iter(low))
        assert matcher.matches(low) == expected, text[:200]
        compared += low.isascii() and bool(expected)
        overlapping += len({end for end, _ in expected}) < len(expected)
    assert compared > 1000 and overlapping > 50  # real hits, and ties at one end offset among them


def test_prompt_cue_hits_read_only_the_head(shared_data):
    from aligntax.detect.lexicon import find_hits, load_lexicon, prompt_cue_hits
    from aligntax.detect.textscan import normalise

    long_prompt = "Tell me about the weather. " * 30 + "Pretend you are a pirate."
    assert prompt_cue_hits(long_prompt, 600) == [] and prompt_cue_hits(long_prompt)  # the cue is past the head
    cued = "Act as a pirate and tell me about the sea. " * 20
    assert prompt_cue_hits(cued, 600) == find_hits(cued[:600])
    cues = [normalise(p) for p, (kind, _) in load_lexicon().items() if kind == "roleplay_cue"]
    with_cue = 0
    for text in _corpus(shared_data)[:2000] + [long_prompt, cued]:
        head = text[:600]
        cue = any(p in normalise(head) for p in cues)  # the plain definition: a cue phrase anywhere in the head
        assert prompt_cue_hits(text, 600) == (find_hits(head) if cue else []), text[:200]
        with_cue += cue
    assert with_cue > 200


def test_stream_gc_restores_the_callers_settings():
    import gc

    from aligntax.util import STREAM_GC_THRESHOLD, stream_gc

    before = gc.get_threshold()
    with stream_gc():
        assert gc.get_threshold() == STREAM_GC_THRESHOLD and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_hyperscan_syntax_widens_whitespace_to_pythons():
    from aligntax.detect.regex_prefilter import hyperscan_syntax

    assert hyperscan_syntax(r"a\s+b") == r"a[\s\x1c-\x1f]+b"
    assert hyperscan_syntax(r"[^\s,]\S") == r"[^\s\x1c-\x1f,]\S"
    assert hyperscan_syntax(r"\\s[]\s]") == r"\\s[]\s\x1c-\x1f]"  # an escaped backslash; "]" first in a class


def test_regex_prefilter_never_drops_a_real_match(shared_data):
    """Hyperscan in prefilter mode must report every role-play pattern that ``re`` matches (ASCII texts), including
    texts whose words are separated by the ASCII characters only Python counts as whitespace."""
    from aligntax.detect.roleplay import _PATTERNS, _PREFILTER

    if _PREFILTER.db is None:
        pytest.skip("hyperscan not installed on this platform")
    patterns = [p for group, _, _ in _PATTERNS for p in group.patterns]
    texts = _corpus(shared_data)
    texts += [t.replace(" ", sep) for t in texts[:1500] for sep in ("\x1c", "\x1f", "\x0b")]
    matched = pruned = 0
    for text in texts:
        possible = _PREFILTER.possible(text)
        if possible is None:
            assert not text.isascii()
            continue
        real = {p.prefilter_id for p in patterns if p.regex.search(text)}
        assert real <= possible, (text[:200], real - possible)
        matched += bool(real)
        pruned += len(possible) < len(patterns)
    assert matched > 300 and pruned > 1000  # real matches covered, and most texts skip most patterns


def test_roleplay_with_and_without_the_prefilter(shared_data, monkeypatch):
    from aligntax.detect import roleplay
    from aligntax.record import Conversation, Turn

    texts = _corpus(shared_data) + ["pretend\x1cto be a cat", "You are\x1fa pirate captain, who sails"]
    convs = [Conversation(f"r{i}", "t", i, [Turn("user", t), Turn("assistant", "ok")]) for i, t in enumerate(texts)]
    detector = roleplay.RoleplayDetector()
    with_prefilter = [detector.detect(c).hits for c in convs]
    monkeypatch.setattr(roleplay._PREFILTER, "db", None)
    assert [detector.detect(c).hits for c in convs] == with_prefilter
    assert sum(map(bool, with_prefilter)) > 300
