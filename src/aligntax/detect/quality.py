"""Broken answers: ``api_failure``, ``too_short`` and ``non_text``.

``api_failure`` looks for what a generating API leaks into a dataset: rate-limit and network
errors, HTML error pages, ``[object Object]``, JSON error blobs, empty answers and answers cut
off mid-sentence. Phrases that also occur in ordinary answers ("an error occurred", "bad
gateway") only count when they *are* the answer (it starts with them, or is short), so an
explanation of HTTP 503 is not a failure. ``TagHit.value`` names the kind of failure.

``too_short`` fires for assistant answers with fewer than ``min_chars`` (default 10) non-space
characters; the Poison-of-Alignment recipe drops such "short messages". ``non_text`` fires for
answers that are mostly noise (symbols, long runs of one character, base64-like blobs), but
never for code.
"""

from __future__ import annotations

import re
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit
from aligntax.detect.keyword_gate import KeywordGate
from aligntax.record import Conversation

# Leaks that are failures wherever they appear.
_STRONG_FAILURE = re.compile(
    r"\[object Object\]|\bRate limit reached for\b|\b429 Too Many Requests\b|That model is currently overloaded"
    r"|\bcontext_length_exceeded\b|\binsufficient_quota\b|\binvalid_request_error\b|\bserver_error\b"
    r"|<title>\s*\d{3}\b[^<]{0,60}</title>|\bThe server had an error while processing your request\b"
    r"|\bSomething went wrong(?:\.|,)? (?:please )?try (?:again|reloading)\b|\bError in body stream\b"
    r"|\bAn error occurred\. Either the engine you requested does not exist\b",
    re.I,
)
# Phrases that only mean failure when they are (most of) the answer.
_WEAK_FAILURE = re.compile(
    r"\brate limit(?:ed| exceeded)?\b|\btoo many requests\b|\ban error occurred\b|\bnetwork error\b"
    r"|\bbad gateway\b|\b50[234] (?:service|server|gateway)\b|\bservice unavailable\b|\bgateway time-?out\b"
    r"|\binternal server error\b|\brequest timed out\b|\bconnection (?:reset|refused|error)\b|\berror code:? \d{3}\b"
    r"|\bfailed to fetch\b|\bload failed\b|^\s*error\s*(?::|\d|$)|^\s*\{\s*\"(?:error|detail)\"|<!DOCTYPE html|<html\b",
    re.I,
)
# Literal words without which _STRONG_FAILURE / _JSON_ERROR_BLOB cannot match (lower case).
_STRONG_GATE = KeywordGate([
    "[object object]", "rate limit reached", "too many requests", "currently overloaded", "context_length_exceeded",
    "insufficient_quota", "invalid_request_error", "server_error", "<title>", "server had an error",
    "something went wrong", "error in body stream", "an error occurred", '"error"',
])
_WEAK_GATE = KeywordGate(["rate limit", "too many requests", "error", "bad gateway", "service", "gateway", "server",
                          "timed out", "connection", "failed to fetch", "load failed", "{", "<!doctype", "<html"])
_JSON_ERROR_BLOB = re.compile(r"\{\s*\"error\"\s*:\s*\{\s*\"(?:message|type|code)\"", re.I)
WEAK_FAILURE_MAX_CHARS = 300
_LONG_FAILURE_START = re.compile(r"\s*(?:error\s*(?::|\d)|\{\s*\"(?:error|detail)\"|<!DOCTYPE html|<html\b)", re.I)

_SENTENCE_END_CHARS = frozenset(""".!?…:;)]}>"'`*_~”’|»。！？""")
_DANGLING_WORD = re.compile(
    r"(?:,|\b(?:the|a|an|and|or|but|of|to|in|on|for|with|that|which|is|are|was|be|by|as|at|from|if|this|their|"
    r"its|our|your|my|when|because|so|than|then|into|such))\s*$",
    re.I,
)
_LAST_LINE_STRUCTURED = re.compile(r"^\s*(?:[-*+•#>|]|\d{1,3}[.)]|```|\w+:)", re.M)
TRUNCATION_MIN_CHARS = 200


def _truncation(text: str) -> tuple[float, str] | None:
    """A conservative guess that ``text`` was cut off: unclosed code fence, or a long prose
    answer whose last sentence stops on a connective word. Lists, code and short answers
    legitimately end without punctuation, so they are left alone."""
    if text.count("```") % 2 == 1:
        return 0.7, "unclosed code fence"
    text = text.rstrip()
    if len(text) < TRUNCATION_MIN_CHARS or text[-1] in _SENTENCE_END_CHARS or ord(text[-1]) >= 0x1F300:
        return None
    last_line = text[text.rfind("\n") + 1:]
    if len(last_line) < 40 or _LAST_LINE_STRUCTURED.match(last_line):
        return None
    if _DANGLING_WORD.search(last_line):
        return 0.75, "ends mid-sentence"
    if last_line[-1].isalpha() and last_line[-1].islower() and len(last_line.rsplit(". ", 1)[-1]) > 60:
        return 0.5, "ends without punctuation"
    return None


@DETECTORS.register("api_failure")
class ApiFailureDetector(Detector):
    name: ClassVar[str] = "api_failure"
    version: ClassVar[str] = "1"
    tags: ClassVar[tuple[str, ...]] = ("api_failure",)

    def __init__(self, truncation: bool = True, **options) -> None:
        super().__init__(truncation=truncation, **options)
        self.truncation = bool(truncation)

    def detect(self, conv: Conversation) -> Detection:
        out = Detection()
        for i, turn in enumerate(conv.turns):
            if turn.role == "assistant":
                hit = self._turn(i, turn.content)
                if hit is not None:
                    out.hits.append(hit)
        return out

    def _turn(self, i: int, text: str) -> TagHit | None:
        if not text.strip():
            return TagHit("api_failure", i, 1.0, (), "empty answer", "empty")
        if _STRONG_GATE.any(text):
            m = _STRONG_FAILURE.search(text) or _JSON_ERROR_BLOB.search(text)
            if m:
                return TagHit("api_failure", i, 0.95, (m.span(),), m.group(0), "error_text")
        # weak phrases count when they are the whole (short) answer; a long answer must open
        # with an error page, an "Error:" line or a JSON error body
        if len(text) <= WEAK_FAILURE_MAX_CHARS:
            m = _WEAK_FAILURE.search(text) if _WEAK_GATE.any(text) else None
        else:
            m = _LONG_FAILURE_START.match(text)
        if m:
            return TagHit("api_failure", i, 0.85, (m.span(),), m.group(0), "error_text")
        if self.truncation:
            truncated = _truncation(text)
            if truncated:
                score, why = truncated
                end = len(text.rstrip())
                return TagHit("api_failure", i, score, ((max(0, end - 40), end),), why, "truncated")
        return None


@DETECTORS.register("too_short")
class TooShortDetector(Detector):
    name: ClassVar[str] = "too_short"
    version: ClassVar[str] = "1"
    tags: ClassVar[tuple[str, ...]] = ("too_short",)

    def __init__(self, min_chars: int = 10, **options) -> None:
        super().__init__(min_chars=min_chars, **options)
        self.min_chars = int(min_chars)

    def detect(self, conv: Conversation) -> Detection:
        out = Detection()
        for i, turn in enumerate(conv.turns):
            if turn.role != "assistant" or len(turn.content) >= 4 * self.min_chars:
                continue
            n = len("".join(turn.content.split()))
            if n < self.min_chars:
                score = 1.0 - 0.5 * n / self.min_chars  # empty -> 1.0, just under the bar -> ~0.5
                out.hits.append(TagHit("too_short", i, round(score, 3), (), f"{n} chars < {self.min_chars}"))
        return out


_ASCII_NOT_LETTER_OR_SPACE = bytes(b for b in range(128) if not (chr(b).isalpha() or chr(b).isspace()))
_REPEATED_CHAR = re.compile(r"(\S)\1{19,}")
_REPEATED_UNIT = re.compile(r"(\S.{1,7}?)\1{9,}", re.S)
_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/]{100,}={0,2}")
_CODE_HINT = re.compile(r"```|[;{}]\s*$|^\s*(?:def|class|import|from|return|function|const|let|var|public|#include|"
                        r"SELECT|for|while|if)\b|[=!<>]=|->|=>|\w\(\)"
                        r"|^\s*\|.*\|\s*$"  # a table
                        r"|\d\s*[-+*/=^]\s*\(?\d|\d[a-z]\s*[-+=]"  # arithmetic, algebra
                        r"|\[[^\]\n]{1,20}\][{*+?]|\\[dwsbDWS.]",  # regular expressions
                        re.M)


# A run of 20 characters that ``str.split`` does not split on, for RE2 (which counts code points): the class
# excludes exactly the characters ``str.isspace`` is true for (ASCII \x1c-\x1f among them).
_WHITESPACE = [c for c in range(0x3001) if chr(c).isspace()]
_LONG_TOKEN_RE2 = "[^" + "".join(f"\\x{{{c:x}}}" for c in _WHITESPACE) + "]{20}"
_NON_ASCII = re.compile("[^\x00-\x7f]+")


def _long_tokens(texts: list[str]) -> list[bool | None]:
    """Per text: does a whitespace-separated word of 20+ characters occur? One RE2 pass over the batch (pyarrow,
    several times cheaper than splitting in Python); ``None`` for all when a text cannot be UTF-8 encoded."""
    if not texts:
        return []
    try:
        column = pa.array(texts, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):  # lone surrogates (e.g. undecodable CSV bytes)
        return [None] * len(texts)
    return pc.match_substring_regex(column, _LONG_TOKEN_RE2).to_pylist()


def _letters_and_spaces(text: str) -> int:
    """Characters that are letters (``re``'s ``[^\\W\\d_]``) or whitespace (``str.isspace``): the ASCII ones
    counted in C by ``bytes.translate``, the few others one by one."""
    good = len(text.encode("ascii", "ignore").translate(None, _ASCII_NOT_LETTER_OR_SPACE))
    if not text.isascii():
        for run in _NON_ASCII.findall(text):
            for ch in run:
                good += (ch.isalnum() and not ch.isdecimal()) or ch.isspace()
    return good


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@DETECTORS.register("non_text")
class NonTextDetector(Detector):
    """Answers that are mostly not language. ``min_letter_ratio`` (default 0.5) is the share of
    letters + whitespace below which an answer of at least ``min_chars`` (20) is noise."""

    name: ClassVar[str] = "non_text"
    version: ClassVar[str] = "2"
    tags: ClassVar[tuple[str, ...]] = ("non_text",)

    def __init__(self, min_letter_ratio: float = 0.5, min_chars: int = 20, **options) -> None:
        super().__init__(min_letter_ratio=min_letter_ratio, min_chars=min_chars, **options)
        self.min_letter_ratio = float(min_letter_ratio)
        self.min_chars = int(min_chars)

    def detect(self, conv: Conversation) -> Detection:
        return self.detect_batch([conv])[0]

    def detect_batch(self, convs: list[Conversation]) -> list[Detection]:
        outs = [Detection() for _ in convs]
        turns = [(out, i, t.content) for out, c in zip(outs, convs)
                 for i, t in enumerate(c.turns) if t.role == "assistant" and len(t.content) >= self.min_chars]
        long_tokens = _long_tokens([text for _, _, text in turns])
        for (out, i, text), has_long in zip(turns, long_tokens):
            hit = self._turn(i, text, has_long)
            if hit is not None:
                out.hits.append(hit)
        return outs

    def _turn(self, i: int, text: str, has_long: bool | None = None) -> TagHit | None:
        """``has_long``: whether a word of 20+ characters occurs, when already known."""
        n = len(text)
        words = None
        ratio = _letters_and_spaces(text) / n
        # runs and blobs: anywhere in a low-letter answer, else only inside long unbroken tokens
        # (URLs, code and prose have short ones), which keeps the costly repeated-unit scan rare
        if ratio < self.min_letter_ratio:
            regions = [(0, n)]
        elif has_long is False or (has_long is None and max(map(len, words or text.split()), default=0) < 20):
            return None
        else:
            words = words or text.split()
            regions, cursor = [], 0
            for w in words:
                if len(w) >= 20:
                    start = text.find(w, cursor)
                    regions.append((start, start + len(w)))
                    cursor = start + len(w)
            if sum(end - start for start, end in regions) < 0.5 * n:
                return None  # noise inside the long tokens could not cover half the answer
        noise: list[tuple[int, int]] = []
        for start, end in regions:
            for pattern in (_REPEATED_CHAR, _BASE64_BLOB, _REPEATED_UNIT):
                noise.extend(m.span() for m in pattern.finditer(text, start, end))
        noise = _union(noise)
        covered = sum(end - start for start, end in noise) / n
        if ratio >= self.min_letter_ratio and covered < 0.5:
            return None
        if _CODE_HINT.search(text) and covered < 0.5:
            return None  # code is symbol-dense but it is not noise
        score = max(min(1.0, covered), min(1.0, 1.0 - ratio))
        why = f"letters+spaces {ratio:.0%}" + (f", repeated/blob {covered:.0%}" if noise else "")
        return TagHit("non_text", i, round(max(score, 0.5), 3), tuple(noise[:20]), why, None)
