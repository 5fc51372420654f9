"""Cheap "could this text possibly match?" tests in front of expensive regexes.

Python's ``re`` scans every position of a text for every alternative of a case-insensitive
pattern; most texts contain none of the literal words those patterns need. ``KeywordGate`` answers
"any keyword?" and "where?" from the shared Aho-Corasick pass (``textscan``); ``GatedAlternation``
runs only the branches of an alternation whose words occur, each only where it can start, and, with a
``RegexPrefilter`` (``regex_prefilter.py``), only those Hyperscan says could match at all.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator, Sequence, Union

from aligntax.detect.textscan import PhraseSet


class KeywordGate(PhraseSet):
    """Keywords looked up case-insensitively (``textscan.normalise``) in the shared pass. Pass the
    original text: detectors asking about the same string share one pass."""

    def __init__(self, keywords: Iterable[str]) -> None:
        super().__init__(list(keywords))

    def any(self, text: str) -> bool:
        """True if any keyword occurs in ``text``."""
        return bool(self.hits(text))

    def starts(self, text: str) -> Iterator[int]:
        """Start offsets of keyword occurrences, ascending by end offset."""
        for end, length in self.hits(text):
            yield end - length + 1


# Could the branch match? Any of these words in the lowered text, or a (text, lowered) -> bool test.
Condition = Union[Sequence[str], Callable[[str, str], bool]]


class AnchoredPattern:
    r"""A regex whose every match starts at a line start (``line_start``: offset 0 or a newline, for a
    pattern beginning ``(?:^|\n)`` without MULTILINE) or where one of ``words`` occurs in the lowered
    text (for a pattern beginning ``\b(?:word|...)``); with neither, any position. ``search`` gives what
    ``re.search`` gives, trying only those offsets. Word offsets are exact only where lowering keeps
    every offset (``prefilter``: ASCII text); otherwise it scans every position like ``re.search``."""

    def __init__(self, pattern: str | re.Pattern, *, words: Sequence[str] = (), line_start: bool = False) -> None:
        self.regex = re.compile(pattern)
        self.words, self.line_start = tuple(words), line_start
        self.prefilter_id: int | None = None  # set by a RegexPrefilter holding this pattern

    def search(self, text: str, pos: int, lowered: str, prefilter: bool) -> re.Match | None:
        if not (self.words or self.line_start) or (self.words and not prefilter):
            return self.regex.search(text, pos)
        starts = [0] if self.line_start and pos == 0 else []
        if self.line_start:
            starts += _occurrences(text, "\n", pos)
        for word in self.words:
            starts += _occurrences(lowered, word, pos)
        match = self.regex.match
        for i in sorted(set(starts)) if len(starts) > 1 else starts:
            if m := match(text, i):
                return m
        return None


def _occurrences(hay: str, needle: str, pos: int) -> list[int]:
    found = []
    i = hay.find(needle, pos)
    while i >= 0:
        found.append(i)
        i = hay.find(needle, i + 1)
    return found


class GatedAlternation:
    """``[m.span() for m in re.finditer("b1|b2|...", text)]`` - leftmost match, the earlier branch on a
    tie - running only the branches whose necessary ``Condition`` holds. One alternation scans every
    position for every branch; most texts need none or one of them. Conditions are checked only when
    ``prefilter`` is true (the caller's promise that they are exact, e.g. ASCII text)."""

    def __init__(self, branches: Sequence[tuple[str | re.Pattern | AnchoredPattern, Condition]]) -> None:
        self.branches = [(p if isinstance(p, AnchoredPattern) else AnchoredPattern(p), cond)
                         for p, cond in branches]
        # (pattern, words or None, test or None): the kind of each condition decided once, not per text
        self._checks = [(p, None, cond) if callable(cond) else (p, tuple(cond), None) for p, cond in self.branches]

    @property
    def patterns(self) -> list[AnchoredPattern]:
        return [p for p, _ in self.branches]

    def spans(self, text: str, lowered: str, prefilter: bool,
              possible: "set[int] | None" = None) -> list[tuple[int, int]]:
        """``possible``: ``RegexPrefilter.possible(text)``, the patterns that could match (None: any)."""
        if prefilter:
            active = []
            for p, words, test in self._checks:
                if possible is not None and p.prefilter_id not in possible:
                    continue
                if test is not None:
                    if test(text, lowered):
                        active.append(p)
                    continue
                for word in words:  # a plain loop: a generator per branch costs more than the test
                    if word in lowered:
                        active.append(p)
                        break
        else:
            active = [p for p, _ in self.branches]
        out: list[tuple[int, int]] = []
        pos = 0
        while active:
            best = None
            for p in active:
                m = p.search(text, pos, lowered, prefilter)
                if m is not None and (best is None or m.start() < best.start()):
                    best = m
            if best is None:
                break
            out.append(best.span())
            pos = max(best.end(), best.start() + 1)
        return out
