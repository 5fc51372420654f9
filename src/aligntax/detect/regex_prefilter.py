"""Which of many regexes could match an ASCII text, from one Hyperscan pass.

Hyperscan compiles every pattern in *prefilter* mode (constructs it cannot run exactly, such as
lookarounds, are widened), so a pattern it does not report cannot match; the ones it reports still
have to be run with ``re``, whose matches stay the answer. Used in front of ``GatedAlternation``
where word conditions alone let through most texts (a "You are a pirate captain…" prompt passes
the role-play gate of every pattern group, but only one group's patterns can match it).

Only for ASCII texts, where Python's ``str`` patterns and Hyperscan agree on ``\\w``, ``\\b``, ``\\d``
and case folding; ``\\s`` is widened to Python's ASCII set, which also holds ``\\x1c``-``\\x1f``.
Without a Hyperscan wheel, or if a pattern does not compile, ``possible`` returns None: try all.
"""

from __future__ import annotations

import re
from typing import Sequence

from aligntax.detect.keyword_gate import AnchoredPattern
from aligntax.detect.textscan import hyperscan  # None where no wheel exists for this platform

_PY_SPACE_EXTRA = r"\x1c-\x1f"  # in Python's \s for str patterns, not in PCRE's


def hyperscan_syntax(pattern: str) -> str:
    r"""``pattern`` with every ``\s`` widened to what Python's ``\s`` matches in ASCII text."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            esc = pattern[i:i + 2]
            if esc == r"\s":
                out.append(r"\s" + _PY_SPACE_EXTRA if in_class else rf"[\s{_PY_SPACE_EXTRA}]")
            else:
                out.append(esc)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            # a "]" right after "[" or "[^" is a literal member, not the end of the class
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                out.append("^")
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                out.append("]")
                j += 1
            i = j
            continue
        if ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


def _flags(regex: re.Pattern) -> int | None:
    if regex.flags & (re.VERBOSE | re.ASCII | re.LOCALE):
        return None
    flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY | hyperscan.HS_FLAG_UTF8
    if regex.flags & re.IGNORECASE:
        flags |= hyperscan.HS_FLAG_CASELESS
    if regex.flags & re.MULTILINE:
        flags |= hyperscan.HS_FLAG_MULTILINE
    if regex.flags & re.DOTALL:
        flags |= hyperscan.HS_FLAG_DOTALL
    return flags


class RegexPrefilter:
    """Numbers ``patterns`` (``AnchoredPattern.prefilter_id``) and compiles them into one database."""

    def __init__(self, patterns: Sequence[AnchoredPattern]) -> None:
        self.db = self.scratch = None
        for i, p in enumerate(patterns):
            p.prefilter_id = i
        if hyperscan is None or not patterns:
            return
        flags = [_flags(p.regex) for p in patterns]
        if None in flags:
            return
        try:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=[hyperscan_syntax(p.regex.pattern).encode("utf-8") for p in patterns],
                       ids=list(range(len(patterns))), elements=len(patterns), flags=flags)
        except hyperscan.error:  # a construct Hyperscan rejects even as a prefilter: no prefilter
            return
        self.db, self.scratch = db, hyperscan.Scratch(db)

    def possible(self, text: str) -> set[int] | None:
        """Ids of the patterns that could match ``text``; None (any) unless ``text`` is ASCII."""
        if self.db is None or not text.isascii():
            return None
        found: set[int] = set()
        add = found.add
        self.db.scan(text.encode("ascii"), scratch=self.scratch, match_event_handler=lambda i, *_: add(i))
        return found
