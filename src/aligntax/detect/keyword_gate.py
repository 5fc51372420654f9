"""A cheap "could this text possibly match?" test in front of expensive regexes.

Python's ``re`` scans every position of a text for every alternative of a case-insensitive
pattern; most texts contain none of the literal words those patterns need. One Aho-Corasick
pass over the lower-cased text (``pyahocorasick``) answers "any keyword?" and "where?" in C.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import ahocorasick


class KeywordGate:
    def __init__(self, keywords: Iterable[str]) -> None:
        self._automaton = ahocorasick.Automaton()
        for kw in {k.lower() for k in keywords}:
            self._automaton.add_word(kw, len(kw))
        self._automaton.make_automaton()

    def any(self, lowered: str) -> bool:
        """True if any keyword occurs in ``lowered`` (a ``str.lower()``-ed text)."""
        return next(self._automaton.iter(lowered), None) is not None

    def starts(self, lowered: str) -> Iterator[int]:
        """Start offsets of keyword occurrences, ascending by end offset."""
        for end, length in self._automaton.iter(lowered):
            yield end - length + 1
