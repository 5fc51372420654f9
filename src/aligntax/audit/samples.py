"""What the HTML report embeds: K examples per tag and a capped table of rows, chosen by
seeded reservoir sampling as the audit streams, so memory does not grow with the input.

The table holds at most ``table_cap`` rows (default 2,000): half a uniform sample of all rows,
half a sample of *flagged* rows (any tag but the purely structural ones), so that rare tags
still show up when filtering. Text is stored as plain strings; escaping is Jinja2's job.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import pyarrow as pa

from aligntax.audit.columns import MALFORMED_TAG, SYSTEM_TURN
from aligntax.record import Conversation, Malformed

TABLE_CAP = 2_000
CONTEXT_CHARS = 240  # text kept either side of a highlighted span
EXCERPT_CHARS = 600
_STRUCTURAL_TAGS = frozenset({"structured_list", "has_code"})


class Reservoir:
    """Algorithm R: a uniform sample of ``k`` items from a stream of unknown length."""

    def __init__(self, k: int, rng: random.Random) -> None:
        self.k, self.rng, self.seen, self.items = k, rng, 0, []

    def offer(self) -> int | None:
        """Slot the next item should go to, or None to drop it (call ``put`` with the slot)."""
        self.seen += 1
        if len(self.items) < self.k:
            self.items.append(None)
            return len(self.items) - 1
        j = self.rng.randrange(self.seen)
        return j if j < self.k else None


def highlight(text: str, spans: Sequence[Sequence[int]]) -> list[tuple[str, bool]]:
    """``text`` cut to a window around ``spans`` as (segment, is_highlighted) pairs."""
    spans = sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s)
    if not spans:
        return [(text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else ""), False)]
    start = max(0, spans[0][0] - CONTEXT_CHARS)
    stop = min(len(text), max(e for _, e in spans[:8]) + CONTEXT_CHARS)
    segments: list[tuple[str, bool]] = [("…", False)] if start else []
    pos = start
    for s, e in spans[:8]:
        if s < pos or s >= stop:
            continue
        segments.append((text[pos:s], False))
        segments.append((text[s:e], True))
        pos = e
    segments.append((text[pos:stop] + ("…" if stop < len(text) else ""), False))
    return [seg for seg in segments if seg[0]]


def _turn_text(conv: Conversation, turn: int) -> tuple[str, str]:
    if turn == SYSTEM_TURN or not 0 <= turn < len(conv.turns):
        return "system", conv.system or ""
    return conv.turns[turn].role, conv.turns[turn].content


def _excerpt(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _context(conv: Conversation, turn: int) -> tuple[str, str]:
    """The other side of the exchange: the prompt for an answer, the answer for a prompt."""
    if turn >= 0 and conv.turns[turn].role == "assistant":
        return "prompt", _excerpt(conv.prompt_before(turn), 400)
    following = next((t.content for t in conv.turns[max(turn, 0):] if t.role == "assistant"), "")
    return "answer", _excerpt(following, 400)


class ReportSampler:
    def __init__(self, per_tag: int = 8, table_cap: int = TABLE_CAP, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.per_tag = per_tag
        self.examples: dict[str, Reservoir] = {}
        self.table_all = Reservoir(table_cap - table_cap // 2, self.rng)
        self.table_flagged = Reservoir(table_cap // 2, self.rng)

    def add(self, items: Sequence[Conversation | Malformed], batch: pa.RecordBatch) -> None:
        tags_col = batch.column("tags").to_pylist()
        turn_tags_col = batch.column("turn_tags")
        for row, (item, tags) in enumerate(zip(items, tags_col)):
            for tag in tags:
                reservoir = self.examples.setdefault(tag, Reservoir(self.per_tag, self.rng))
                slot = reservoir.offer()
                if slot is not None:
                    reservoir.items[slot] = self._example(item, tag, turn_tags_col[row].as_py())
            flagged = any(t not in _STRUCTURAL_TAGS for t in tags)
            for reservoir in (self.table_all, self.table_flagged) if flagged else (self.table_all,):
                slot = reservoir.offer()
                if slot is not None:
                    reservoir.items[slot] = self._table_row(item, tags)

    @staticmethod
    def _example(item: Conversation | Malformed, tag: str, turn_tags: list[dict[str, Any]]) -> dict[str, Any]:
        if isinstance(item, Malformed):
            return {"source": item.source, "index": item.index, "id": None, "turn": None, "role": "raw",
                    "score": 1.0, "evidence": item.reason, "value": None,
                    "segments": highlight(item.raw_text or "", []), "context_label": "", "context": ""}
        hits = [h for h in turn_tags if h["tag"] == tag]
        hit = max(hits, key=lambda h: h["score"])
        role, text = _turn_text(item, hit["turn"])
        spans = [s for h in hits if h["turn"] == hit["turn"] for s in h["spans"]]
        label, context = _context(item, hit["turn"])
        return {"source": item.source, "index": item.index, "id": item.id, "turn": hit["turn"], "role": role,
                "score": round(hit["score"], 3), "evidence": hit["evidence"], "value": hit["value"],
                "segments": highlight(text, spans), "context_label": label, "context": context}

    @staticmethod
    def _table_row(item: Conversation | Malformed, tags: list[str]) -> dict[str, Any]:
        if isinstance(item, Malformed):
            return {"source": item.source, "index": item.index, "sub": 0, "tags": [MALFORMED_TAG],
                    "prompt": _excerpt(item.raw_text or "", 200), "answer": item.reason}
        answer = next((t.content for t in reversed(item.turns) if t.role == "assistant"), "")
        return {"source": item.source, "index": item.index, "sub": item.sub, "tags": sorted(tags),
                "prompt": _excerpt(item.first_user(), 200), "answer": _excerpt(answer, 300)}

    def example_sets(self) -> dict[str, list[dict[str, Any]]]:
        return {tag: sorted(r.items, key=lambda e: (e["source"], e["index"])) for tag, r in self.examples.items()}

    def table_rows(self) -> list[dict[str, Any]]:
        rows = {(r["source"], r["index"], r["sub"]): r for r in self.table_all.items + self.table_flagged.items}
        return sorted(rows.values(), key=lambda r: (r["source"], r["index"], r["sub"]))
