"""``strip_disclaimers``: remove "As an AI language model..." and moralising sentences from answers
that otherwise answer.

The sentences to remove are the ones holding an ``ai_disclaimer`` or ``moralizing`` evidence span
(from the refusal detector). A disclaimer that only opens a sentence ("As an AI language model, I
think X" / "..., but here is X") loses just the disclaimer clause. A turn is left untouched when
it is a refusal, or when what would remain is not a substantive answer (fewer than
``min_words`` words).
"""

from __future__ import annotations

import re
from typing import ClassVar

from aligntax.detect.base import Detection
from aligntax.record import Conversation
from aligntax.shape.rewrite.base import REWRITERS, Rewriter, replace_turns

STRIP_TAGS = ("ai_disclaimer", "moralizing")
# Sentence boundaries: after .!? (and closing quotes/brackets) followed by spaces, or line breaks.
_SENTENCE = re.compile(r"[^\n]*?(?:[.!?]+[\"')\]]*(?=\s)|\n|$)")
# A clause after which the sentence turns to the actual answer: "..., but", "...; however,".
_TURN_TO_ANSWER = re.compile(r"(?:,|;|\s-)\s*(?:but|however,?|that said,?|nonetheless,?)\s+"
                             r"|\b(?:inform you|note|mention|say|tell you|point out|clarify|add)\s+that\s+",
                             re.IGNORECASE)
# A connective that only made sense after the removed sentence: "However, X" -> "X".
_DANGLING = re.compile(r"^(?:However|But|That said|Nevertheless|Nonetheless|Still|Instead),?\s+", re.IGNORECASE)
# Self-description that belongs to the removed disclaimer: "I am designed to ...", "I'm just a program".
_SELF_FOLLOWUP = re.compile(r"^\s*I(?:\s+am|['’]m)\s+(?:designed|programmed|trained|here\s+to|just|only|simply|"
                            r"merely|an?\s+AI|an?\s+(?:large\s+)?language\s+model|not\s+capable)\b", re.IGNORECASE)
# "As an AI language model," / "As an AI assistant developed by X," opening a sentence.
_OPENER = re.compile(r"^\s*As an? (?:AI|artificial intelligence|language model)[^,.;:]{0,80},\s*", re.IGNORECASE)
# After removing the opener, what remains must not be a statement about being an AI.
_SELF_LIMIT = re.compile(r"^I\s+(?:do\s+not|don['’]t|cannot|can['’]t|am\s+not|have\s+no|lack|am\s+unable|"
                         r"am\s+just|am\s+only|am\s+a|am\s+an|was\s+not)\b", re.IGNORECASE)


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences (and line breaks) of ``text``; they tile the text."""
    spans, pos = [], 0
    while pos < len(text):
        m = _SENTENCE.match(text, pos)
        end = m.end() if m and m.end() > pos else len(text)
        # include the whitespace after the sentence in it, so removal does not leave double spaces
        while end < len(text) and text[end] in " \t":
            end += 1
        spans.append((pos, end))
        pos = end
    return spans


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _rewrite_sentence(sentence: str, span_offsets: list[tuple[int, int]]) -> str:
    """What is left of one flagged sentence: its answer part, or nothing."""
    last_span_end = max(end for _, end in span_offsets)
    pivot = _TURN_TO_ANSWER.search(sentence, last_span_end)
    if pivot:
        return _capitalise(sentence[pivot.end():])
    opener = _OPENER.match(sentence)
    if opener and opener.end() >= last_span_end:
        rest = sentence[opener.end():]
        if not _SELF_LIMIT.match(rest):
            return _capitalise(rest)
    trailing = sentence[len(sentence.rstrip()):]
    return "\n" if "\n" in trailing else ""


def strip_spans(text: str, spans: list[tuple[int, int]]) -> str:
    out: list[str] = []
    removed_before = False  # the previous sentence lost its (disclaimer) beginning
    for start, end in sentences(text):
        sentence = text[start:end]
        inside = [(max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start]
        if inside:
            kept = _rewrite_sentence(sentence, inside)
            removed_before = not kept.strip()
            out.append(kept)
            continue
        if removed_before and sentence.strip():
            if _SELF_FOLLOWUP.match(sentence):
                continue
            sentence = _capitalise(_DANGLING.sub("", sentence.lstrip()))
            removed_before = False
        out.append(sentence)
    result = "".join(out)
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result.strip()


@REWRITERS.register("strip_disclaimers")
class StripDisclaimers(Rewriter):
    """Options: ``tags`` (default ai_disclaimer + moralizing), ``min_words`` that must remain (default 8)."""

    name: ClassVar[str] = "strip_disclaimers"

    def __init__(self, tags: list[str] | tuple[str, ...] = STRIP_TAGS, min_words: int = 8, **options) -> None:
        if not isinstance(min_words, int) or min_words < 1:
            raise ValueError(f"strip_disclaimers option 'min_words' must be a positive integer, got {min_words!r}")
        tags = [tags] if isinstance(tags, str) else list(tags)
        super().__init__(tags=tags, min_words=min_words, **options)
        self.tags, self.min_words = set(tags), min_words

    def rewrite(self, conv: Conversation, detection: Detection, turns: list[int]) -> Conversation | None:
        allowed = set(turns)
        refused = {h.turn for h in detection.hits if h.tag == "refusal"}
        spans_by_turn: dict[int, list[tuple[int, int]]] = {}
        for hit in detection.hits:
            if hit.tag in self.tags and hit.turn in allowed and hit.turn not in refused and hit.spans:
                spans_by_turn.setdefault(hit.turn, []).extend(hit.spans)
        new_text = {}
        for turn, spans in spans_by_turn.items():
            stripped = strip_spans(conv.turns[turn].content, spans)
            if len(stripped.split()) >= self.min_words:
                new_text[turn] = stripped
        return replace_turns(conv, new_text)
