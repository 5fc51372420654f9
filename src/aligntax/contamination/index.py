"""Hashed n-gram index of benchmark items, and the training-data check against it.

Three kinds of match, strongest first (one reported per conversation x item):

* ``exact`` — a turn's normalised text equals the item's normalised text;
* ``near_exact`` — the whole item occurs inside a turn: for items shorter than ``ngram`` words
  (but at least ``min_contain_words``) by exact normalised containment in a user/system turn,
  for longer items when every one of its n-grams is found (e.g. answer appended, casing changed);
* ``ngram`` — word n-grams (13 by default, as in the GPT-3 / Llama-2 decontamination) shared
  with the item cover at least ``min_overlap`` of the item's words.

The score is that coverage: the fraction of the item's words inside matched n-grams (Llama-2
style token coverage), 1.0 for exact and contained matches. Normalisation is the one of
``aligntax.dedup.hashing`` (case, punctuation and whitespace folded; option labels such as
"(B)" at a line start are dropped from training text). N-grams shared by more than
``max_items_per_ngram`` items (task boilerplate such as BBH instructions) are not indexed; an
item's score is relative to the words its remaining n-grams can cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from aligntax.contamination.benchmarks import BenchmarkItem
from aligntax.dedup.hashing import HashedWords, hash_words, ngram_hashes, text_hashes
from aligntax.record import Conversation

MATCH_KINDS = ("exact", "near_exact", "ngram")
# Multiple-choice option labels at a line start ("(A) ", "B. ", "c) ") are dropped from training
# text before matching, so "Q\n(A) x\n(B) y" still matches the item "Q x y".
_OPTION_LABEL = re.compile(r"(?m)^[ \t]*(?:\([A-Ea-e]\)|[A-Ea-e][.):])[ \t]+")


@dataclass(frozen=True, slots=True)
class ContaminationHit:
    conversation: int  # position of the conversation in the checked batch
    turn: int
    benchmark: str
    item_id: str
    match: str  # exact | near_exact | ngram
    score: float

    @property
    def ref(self) -> str:
        return f"{self.benchmark}:{self.item_id}"


def _find(table: np.ndarray, queries: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, table position) for every occurrence in sorted ``table`` of every query."""
    if len(queries) == 0 or len(table) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(queries)  # sorted needles make searchsorted cache-friendly
    q, own = queries[order], owners[order]
    lo = np.searchsorted(table, q, "left")
    hit = np.flatnonzero(table[np.minimum(lo, len(table) - 1)] == q)
    if len(hit) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    reps = np.searchsorted(table, q[hit], "right") - lo[hit]
    entry = np.repeat(lo[hit], reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
    return np.repeat(own[hit], reps), entry


def _coverage(groups: np.ndarray, positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group (sorted input): words covered by n-grams starting at ``positions``.

    Returns (group ids, covered word counts). ``groups``/``positions`` must be sorted by
    (group, position) with duplicates removed.
    """
    if len(groups) == 0:
        return groups, np.zeros(0, dtype=np.int64)
    last = np.r_[groups[1:] != groups[:-1], True]
    gap = np.r_[np.diff(positions), n]
    span = np.where(last, n, np.minimum(gap, n))
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    return groups[starts], np.add.reduceat(span, starts)


class ContaminationIndex:
    def __init__(
        self,
        items: Sequence[BenchmarkItem],
        *,
        ngram: int = 13,
        min_overlap: float = 0.5,
        min_contain_words: int = 5,
        max_items_per_ngram: int = 25,
    ) -> None:
        if ngram < 2:
            raise ValueError("ngram must be >= 2")
        self.ngram, self.min_overlap, self.min_contain_words = ngram, min_overlap, min_contain_words
        self.benchmarks = [it.benchmark for it in items]
        self.item_ids = [it.item_id for it in items]
        words = hash_words([it.text for it in items])
        lengths = words.lengths()
        self.item_words = lengths

        exact = text_hashes(words)
        valid = lengths > 0
        order = np.argsort(exact[valid], kind="stable")
        self._exact_hash = exact[valid][order]
        self._exact_item = np.flatnonzero(valid)[order]

        # short items: one hash of the whole item, matched against k-gram windows of user turns
        short = (lengths >= min_contain_words) & (lengths < ngram)
        whole_grams = ngram_hashes(words, ngram, short="whole")
        whole = whole_grams.hashes[np.minimum(whole_grams.offsets[:-1], max(len(whole_grams.hashes) - 1, 0))]
        self._short: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k in np.unique(lengths[short]).tolist():
            ids = np.flatnonzero(short & (lengths == k))
            o = np.argsort(whole[ids], kind="stable")
            self._short[k] = (whole[ids][o], ids[o])

        grams = ngram_hashes(words, ngram, short="skip")
        counts = grams.lengths()
        item = np.repeat(np.arange(len(items)), counts)
        pos = np.arange(len(grams.hashes)) - np.repeat(grams.offsets[:-1], counts)
        h = grams.hashes
        # sort by hash once (stable: items, then positions, stay in order inside a hash group), drop
        # repeats of an n-gram inside one item, then boilerplate n-grams shared by many items
        order = np.argsort(h, kind="stable")
        h, item, pos = h[order], item[order], pos[order]
        first = np.r_[True, (h[1:] != h[:-1]) | (item[1:] != item[:-1])]
        h, item, pos = h[first], item[first], pos[first]
        starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        freq = np.diff(np.r_[starts, len(h)])
        keep = np.repeat(freq, freq) <= max_items_per_ngram
        self._gram_hash, self._gram_item, self._gram_pos = h[keep], item[keep], pos[keep]
        item, pos = item[keep], pos[keep]
        o = np.lexsort((pos, item))
        g, covered = _coverage(item[o], pos[o], ngram)
        self._coverable = np.zeros(len(items), dtype=np.int64)
        self._coverable[g] = covered

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def indexed_ngrams(self) -> int:
        return len(self._gram_hash)

    def check(self, convs: Sequence[Conversation]) -> list[ContaminationHit]:
        """All (conversation, item) matches in a batch, strongest match kind per pair."""
        turn_conv, turn_idx, texts, promptish = [], [], [], []
        for ci, conv in enumerate(convs):
            if conv.system:
                turn_conv.append(ci), turn_idx.append(-1), texts.append(conv.system), promptish.append(True)
            for ti, turn in enumerate(conv.turns):
                turn_conv.append(ci), turn_idx.append(ti), texts.append(turn.content)
                promptish.append(turn.role in ("user", "system"))
        if not texts:
            return []
        turn_conv_a, turn_idx_a = np.asarray(turn_conv), np.asarray(turn_idx)
        words = hash_words([_OPTION_LABEL.sub(" ", t) if "\n" in t else t for t in texts])
        best: dict[tuple[int, int], tuple[int, int, float]] = {}  # (conv, item) -> (kind rank, turn, score)

        def offer(docs: np.ndarray, items: np.ndarray, kind: int, scores: np.ndarray) -> None:
            for d, it, s in zip(docs.tolist(), items.tolist(), scores.tolist()):
                key = (int(turn_conv_a[d]), it)
                if key not in best or (kind, -s) < (best[key][0], -best[key][2]):
                    best[key] = (kind, int(turn_idx_a[d]), s)

        docs, items = self._lookup(self._exact_hash, self._exact_item, text_hashes(words), np.arange(len(texts)))
        offer(docs, items, 0, np.ones(len(docs)))

        prompt_docs = np.flatnonzero(np.asarray(promptish))
        if len(prompt_docs) and self._short:
            sub = HashedWords(
                np.concatenate([words.hashes[words.offsets[d] : words.offsets[d + 1]] for d in prompt_docs]),
                np.r_[0, np.cumsum(words.lengths()[prompt_docs])].astype(np.int64),
            )
            for k, (hashes, ids) in self._short.items():
                grams = ngram_hashes(sub, k, short="skip")
                owner = prompt_docs[np.repeat(np.arange(len(sub)), grams.lengths())]
                docs, items = self._lookup(hashes, ids, grams.hashes, owner)
                offer(docs, items, 1, np.ones(len(docs)))

        for conv_i, item, turn, score in self._ngram_matches(words, turn_conv_a):
            kind = 1 if score >= 1.0 else 2
            key = (conv_i, item)
            if key not in best or (kind, -score) < (best[key][0], -best[key][2]):
                best[key] = (kind, int(turn_idx_a[turn]), score)

        hits = [
            ContaminationHit(c, t, self.benchmarks[i], self.item_ids[i], MATCH_KINDS[k], round(s, 4))
            for (c, i), (k, t, s) in best.items()
        ]
        hits.sort(key=lambda h: (h.conversation, -h.score, h.benchmark, h.item_id))
        return hits

    @staticmethod
    def _lookup(table: np.ndarray, values: np.ndarray, queries: np.ndarray, owners: np.ndarray):
        """(owner, value) for every query hash found in the sorted ``table`` (all duplicates)."""
        owner, entry = _find(table, queries, owners)
        return owner, values[entry]

    def _ngram_matches(self, words: HashedWords, turn_conv: np.ndarray):
        grams = ngram_hashes(words, self.ngram, short="skip")
        owner = np.repeat(np.arange(len(words)), grams.lengths())
        turn, entry = _find(self._gram_hash, grams.hashes, owner)
        if len(entry) == 0:
            return
        conv = turn_conv[turn]
        item, pos = self._gram_item[entry], self._gram_pos[entry]
        # coverage per (conversation, item) over the distinct matched item positions
        o = np.lexsort((pos, item, conv))
        conv_s, item_s, pos_s, turn_s = conv[o], item[o], pos[o], turn[o]
        distinct = np.r_[True, (conv_s[1:] != conv_s[:-1]) | (item_s[1:] != item_s[:-1]) | (pos_s[1:] != pos_s[:-1])]
        conv_s, item_s, pos_s, turn_s = conv_s[distinct], item_s[distinct], pos_s[distinct], turn_s[distinct]
        pair = conv_s.astype(np.int64) * len(self.item_ids) + item_s
        groups, covered = _coverage(pair, pos_s, self.ngram)
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        score = covered / np.maximum(self._coverable[groups % len(self.item_ids)], 1)
        for g, s, st in zip(groups.tolist(), score.tolist(), starts.tolist()):
            if s >= self.min_overlap:
                yield g // len(self.item_ids), g % len(self.item_ids), int(turn_s[st]), min(s, 1.0)
