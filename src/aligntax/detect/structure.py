"""``structure``: how each assistant answer is laid out, and how long it is.

Tags ``structured_list`` (an answer with at least ``min_list_items`` list items, default 3) and
``has_code`` (a fenced or indented code block). Conversation-level features, summed over all
assistant turns (``STRUCTURE_FEATURES``):

==================  =====================================================================
n_assistant_turns   assistant turns in the conversation
n_list_items        bullet (``-``, ``*``, ``+``, ``•``) and numbered (``1.``, ``2)``) lines
n_numbered_items    the numbered subset of ``n_list_items``
n_headings          markdown ``#`` headings and short "Title:" lines standing alone
n_code_blocks       fenced (```) blocks, plus indented (4 spaces / tab) blocks outside fences
n_table_rows        markdown pipe rows, counted only when a ``|---|`` separator row exists
n_steps             max("Step N" mentions, numbered items) per turn, summed
answer_chars        characters of assistant text
answer_words        whitespace-separated words of assistant text
answer_tokens       approximate tokens: ``max(ceil(chars / 4), words)`` per turn. BPE tokenizers
                    (GPT-2, Llama) average ~4 chars/token on English prose; the ``words`` floor
                    keeps short-word text from being undercounted. Not a tokenizer: use it for
                    distributions and thresholds, not for exact budgets.
==================  =====================================================================
"""

from __future__ import annotations

import re
from typing import ClassVar

from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit
from aligntax.record import Conversation

STRUCTURE_FEATURES = ("n_assistant_turns", "n_list_items", "n_numbered_items", "n_headings", "n_code_blocks",
                      "n_table_rows", "n_steps", "answer_chars", "answer_words", "answer_tokens")

_LIST_ITEM = re.compile(r"^[ \t]{0,8}(?:[-*+•]|(\d{1,3})[.)])[ \t]+\S", re.M)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S|^[ \t]*(?:\*\*)?[A-Z][^\n:.!?]{0,48}:(?:\*\*)?[ \t]*$", re.M)
_FENCE = re.compile(r"^[ \t]*```", re.M)
_FENCED_BLOCK = re.compile(r"^[ \t]*```.*?(?:^[ \t]*```|\Z)", re.M | re.S)
# Two or more indented lines after a blank line that are not list items (nested lists are indented too).
_INDENTED_BLOCK = re.compile(r"(?:\A|\n[ \t]*\n)((?:(?: {4}|\t)(?![ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t])\S[^\n]*\n?){2,})")
_TABLE_ROW = re.compile(r"^[ \t]*\|[^\n]*\|[ \t]*$", re.M)
_TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*\|", re.M)
_STEP = re.compile(r"\bStep[ \t]+(\d{1,3})\b", re.I)
# ASCII bytes -> b" " where ``str.isspace`` (\x1c-\x1f too), else b"x": words are then the b" x" boundaries
_WORD_MAP = bytes(32 if chr(b).isspace() else 120 for b in range(256))


def word_count(text: str) -> int:
    """``len(text.split())`` without building the words (a third of this detector's time otherwise)."""
    if not text.isascii():
        return len(text.split())
    marks = text.encode("ascii").translate(_WORD_MAP)
    return marks.count(b" x") + (marks[:1] == b"x")


def _turn_structure(text: str) -> dict[str, int]:
    """Structure counts of one answer; every branch is guarded by a cheap substring test. The line patterns
    all start with ``^`` (MULTILINE), so in a one-line answer they can only match at offset 0: ``match``
    answers there without trying every position."""
    items = numbered = headings = code = table_rows = steps = 0
    multiline = "\n" in text
    if multiline:
        for m in _LIST_ITEM.finditer(text):
            items += 1
            numbered += m.group(1) is not None
    elif text.lstrip()[:1] in "-*+•0123456789" and (m := _LIST_ITEM.match(text)):
        items, numbered = 1, int(m.group(1) is not None)
    if ":" in text or "#" in text:
        headings = sum(1 for _ in _HEADING.finditer(text)) if multiline else int(_HEADING.match(text) is not None)
    prose = text
    if "```" in text:
        fences = len(_FENCE.findall(text))
        code = (fences + 1) // 2  # an unclosed fence still opens a block
        prose = _FENCED_BLOCK.sub("\n", text)
    if "    " in prose or "\t" in prose:
        code += len(_INDENTED_BLOCK.findall(prose))
    if "|" in text and _TABLE_SEPARATOR.search(text):
        table_rows = len(_TABLE_ROW.findall(text))
    if "tep" in text:
        steps = len({m.group(1) for m in _STEP.finditer(text)})
    chars = len(text)
    words = word_count(text)
    return {"n_list_items": items, "n_numbered_items": numbered, "n_headings": headings, "n_code_blocks": code,
            "n_table_rows": table_rows, "n_steps": max(steps, numbered), "answer_chars": chars,
            "answer_words": words, "answer_tokens": max(-(-chars // 4), words)}


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


@DETECTORS.register("structure")
class StructureDetector(Detector):
    """Lists, headings, code, tables, steps and length of assistant answers."""

    name: ClassVar[str] = "structure"
    version: ClassVar[str] = "1"
    tags: ClassVar[tuple[str, ...]] = ("structured_list", "has_code")

    def __init__(self, min_list_items: int = 3, **options) -> None:
        super().__init__(min_list_items=min_list_items, **options)
        self.min_list_items = int(min_list_items)

    def detect(self, conv: Conversation) -> Detection:
        answers = [(i, turn.content) for i, turn in enumerate(conv.turns) if turn.role == "assistant"]
        if len(answers) == 1:  # the common case: the one answer's counts are the totals
            totals = {"n_assistant_turns": 1, **_turn_structure(answers[0][1])}
            per_turn = [(answers[0][0], answers[0][1], totals)]
        else:
            totals = dict.fromkeys(STRUCTURE_FEATURES, 0)
            totals["n_assistant_turns"] = len(answers)
            per_turn = [(i, text, _turn_structure(text)) for i, text in answers]
            for _, _, counts in per_turn:
                for key, value in counts.items():
                    totals[key] += value
        out = Detection(features=totals)
        for i, text, counts in per_turn:
            if counts["n_list_items"] >= self.min_list_items:
                spans = tuple((m.start(), _line_end(text, m.end())) for m in _LIST_ITEM.finditer(text))
                out.hits.append(TagHit("structured_list", i, 1.0, spans, f"{counts['n_list_items']} list items"))
            if counts["n_code_blocks"]:
                fenced = tuple(m.span() for m in _FENCED_BLOCK.finditer(text)) if "```" in text else ()
                # fenced code is unambiguous; an indented block may be a quotation or a poem
                out.hits.append(TagHit("has_code", i, 1.0 if fenced else 0.6, fenced,
                                       f"{counts['n_code_blocks']} code blocks"))
        return out
