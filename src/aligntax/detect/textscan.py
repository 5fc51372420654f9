"""One lower-casing and one Aho-Corasick pass per text, shared by every detector that looks up
literal phrases: the refusal lexicon, the identity-claim openers, the API-failure and role-play gates.

Each of them registers a ``PhraseSet`` at import. ``scan(text)`` normalises the text once, runs one
automaton holding every registered phrase and buckets the matches per set. An automaton pass costs
about as much per character for 400 phrases as for 14, so one pass instead of four is most of the
saving. Results are kept for the last ``CACHE_TEXTS`` string *objects* (at most ``CACHE_CHARS`` characters) (keyed by identity, not value):
detectors running one after another over a batch pass the same ``Turn.content`` and share the pass,
while an answer that merely repeats an earlier one is scanned again, so repeated rows are never free.

Two engines give the same matches in the same order: Hyperscan (a SIMD literal matcher, about 3x faster per
character; wheels for x86-64 and Apple silicon) on ASCII texts where it is installed, and pyahocorasick
otherwise (its offsets are in characters, Hyperscan's in bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Union

import ahocorasick

try:
    import hyperscan
except ImportError:  # no wheel for this platform: pyahocorasick alone
    hyperscan = None

# Bounds of the scan cache (a batch's turns, several times over for ~1 KB turns; a miss only costs the pass
# again): entries, and characters held (each entry keeps the text and its lowered copy alive).
CACHE_TEXTS = 8192
CACHE_CHARS = 8_000_000

_FOLDS = (("\u2019", "'"), ("\u2018", "'"), ("\u02bc", "'"), ("\u00a0", " "))
_FOLD = str.maketrans(dict(_FOLDS))


def normalise(text: str) -> str:
    """Lower-case and fold curly apostrophes, keeping every character at its original offset."""
    low = text.lower()  # str.lower is C-fast; translate only when a folded character is present
    if len(low) != len(text):  # a few code points (e.g. U+0130) lower-case to two characters
        return "".join(lc if len(lc := ch.translate(_FOLD).lower()) == 1 else ch for ch in text)
    if not low.isascii():  # str.replace is C-fast; str.translate with a dict looks up every character
        for char, folded in _FOLDS:
            if char in low:
                low = low.replace(char, folded)
    return low


Phrases = Union[Mapping[str, Any], Iterable[str], Callable[[], Mapping[str, Any]]]
_SETS: list["PhraseSet"] = []


class PhraseSet:
    """Literal phrases found by the shared pass. ``phrases`` maps phrase -> payload (an iterable of
    phrases gets the phrase's length as payload), or is a function returning that mapping, called
    when the automaton is first built (for phrase lists read from files)."""

    def __init__(self, phrases: Phrases) -> None:
        self._phrases = phrases
        self.slot = len(_SETS)
        _SETS.append(self)

    def table(self) -> dict[str, Any]:
        source = self._phrases() if callable(self._phrases) else self._phrases
        if not isinstance(source, Mapping):
            source = {p: len(normalise(p)) for p in source}
        return {normalise(p): v for p, v in source.items() if p}

    def hits(self, text: str) -> list[tuple[int, Any]]:
        """``(end_inclusive, payload)`` of every occurrence in ``normalise(text)``, by end offset."""
        return scan(text).hits[self.slot]


@dataclass(frozen=True, slots=True)
class Scan:
    low: str  # normalise(text)
    hits: tuple[list[tuple[int, Any]], ...]  # per PhraseSet.slot


class Matcher:
    """Every occurrence of every phrase in a lowered text, as ``(end_inclusive, phrase_id)`` sorted, which is
    pyahocorasick's order (by end offset, the longest phrase first among those ending together) because ids
    are given longest phrase first. ``owners[phrase_id]`` = ((PhraseSet.slot, payload), ...)."""

    def __init__(self, merged: dict[str, list[tuple[int, Any]]]) -> None:
        self.phrases = sorted(merged, key=lambda p: (-len(p), p))
        self.owners = [tuple(merged[p]) for p in self.phrases]
        self.auto = ahocorasick.Automaton()
        for i, phrase in enumerate(self.phrases):
            self.auto.add_word(phrase, i)
        self.auto.make_automaton()
        self.hs = self.scratch = None
        if hyperscan is not None and self.phrases:
            self.hs = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self.hs.compile(expressions=[p.encode("utf-8") for p in self.phrases], literal=True,
                            ids=list(range(len(self.phrases))), elements=len(self.phrases), flags=0)
            self.scratch = hyperscan.Scratch(self.hs)

    def __len__(self) -> int:
        return len(self.phrases)

    def matches(self, low: str) -> list[tuple[int, int]]:
        if self.hs is None or not low.isascii():  # byte offsets are character offsets only in ASCII
            return list(self.auto.iter(low))
        found: list[tuple[int, int]] = []
        add = found.append
        self.hs.scan(low.encode("ascii"), scratch=self.scratch, match_event_handler=lambda i, _s, end, _f, _c: add((end - 1, i)))
        found.sort()  # Hyperscan reports by end offset; ties in no set order
        return found


_built: tuple[int, Matcher] | None = None


def shared_automaton() -> Matcher:
    """The automaton of every registered ``PhraseSet`` (rebuilt when a set registers after the last build)."""
    global _built
    if _built is None or _built[0] != len(_SETS):  # a set registered after the last build (a plug-in)
        merged: dict[str, list[tuple[int, Any]]] = {}
        for s in _SETS:
            for phrase, payload in s.table().items():
                merged.setdefault(phrase, []).append((s.slot, payload))
        _built = (len(_SETS), Matcher(merged))
        _cache.clear()  # entries scanned with the previous automaton lack the new set's bucket
    return _built[1]


_cache: dict[int, tuple[str, Scan]] = {}
_cached_chars = 0


def scan(text: str) -> Scan:
    global _cached_chars
    auto = shared_automaton()
    entry = _cache.get(id(text))
    if entry is not None and entry[0] is text:  # the entry holds the string, so its id cannot be reused
        return entry[1]
    if len(_cache) >= CACHE_TEXTS or _cached_chars >= CACHE_CHARS:
        _cache.clear()
        _cached_chars = 0
    result = _scan(text, auto)
    _cache[id(text)] = (text, result)
    _cached_chars += len(text)
    return result


def _scan(text: str, auto: Matcher) -> Scan:
    low = normalise(text)
    buckets = tuple([[] for _ in range(len(_SETS))])
    if len(auto):
        owners = auto.owners
        for end, i in auto.matches(low):
            for slot, payload in owners[i]:
                buckets[slot].append((end, payload))
    return Scan(low, buckets)
