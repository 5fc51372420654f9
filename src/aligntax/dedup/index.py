"""Whole-dataset duplicate finding: exact duplicates, near-duplicates and repeated queries.

``DedupIndex`` is fed conversations in batches (``add_batch``) and answers once at the end
(``finalize``). It never keeps texts: per conversation it stores two 64-bit hashes (normalised
conversation, normalised first user prompt), one MinHash signature and the LSH band keys, so
memory is about ``num_perm*4 + bands*8 + 60`` bytes per conversation plus its id.

Semantics (the first occurrence in input order is always the representative and is never tagged):

* ``duplicate`` — same normalised conversation (case, whitespace and punctuation folded).
* ``near_duplicate`` — in the same MinHash-LSH connected component (estimated Jaccard of word
  shingles >= ``threshold`` along each verified edge) and not already an exact ``duplicate``.
* ``repeated_query`` — the same normalised first user prompt seen more than ``max_per_prompt``
  times; the occurrences after the first ``max_per_prompt`` are tagged (the "repeated queries"
  the Poison-of-Alignment recipe removes).

Each hit carries ``cluster_id`` (the representative's 0-based position in input order, so it is
stable and shared by all members of a cluster) and the representative's id and key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator

import numpy as np

from aligntax.dedup.hashing import hash_words, ngram_hashes, text_hashes
from aligntax.dedup.minhash import BACKENDS, SIGNATURE_FUNCTIONS, Banding, optimal_bands
from aligntax.record import Conversation

TAGS = ("duplicate", "near_duplicate", "repeated_query")
_EDGE_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class DedupConfig:
    threshold: float = 0.8  # near-duplicate: estimated Jaccard similarity of word shingles
    num_perm: int = 128
    shingle_size: int = 5  # words per shingle
    backend: str = "rensa"
    seed: int = 1
    near_duplicates: bool = True
    max_per_prompt: int = 1  # repeated_query fires beyond this many rows per normalised prompt

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown MinHash backend {self.backend!r}; expected one of {BACKENDS}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be in (0, 1)")
        if self.max_per_prompt < 1 or self.shingle_size < 1 or self.num_perm < 2:
            raise ValueError("max_per_prompt, shingle_size must be >= 1 and num_perm >= 2")


@dataclass(frozen=True, slots=True)
class DedupHit:
    source: str
    index: int
    sub: int
    id: str
    tag: str
    cluster_id: int
    representative_id: str
    representative_key: tuple[str, int, int]
    similarity: float  # 1.0 for exact tags; estimated Jaccard to the representative otherwise

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.source, self.index, self.sub)


@dataclass(slots=True)
class DedupResult:
    hits: list[DedupHit]
    rows: int
    config: DedupConfig
    by_key: dict[tuple[str, int, int], list[DedupHit]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for hit in self.hits:
            self.by_key.setdefault(hit.key, []).append(hit)

    def tags_for(self, key: tuple[str, int, int]) -> set[str]:
        return {h.tag for h in self.by_key.get(key, ())}

    def summary(self) -> dict:
        counts = Counter(h.tag for h in self.hits)
        clusters = {tag: len({h.cluster_id for h in self.hits if h.tag == tag}) for tag in TAGS}
        return {
            "rows": self.rows,
            "tagged_rows": len(self.by_key),
            "counts": {tag: counts.get(tag, 0) for tag in TAGS},
            "clusters": clusters,
            "config": asdict(self.config),
        }


def conversation_text(conv: Conversation) -> str:
    """The text the conversation-level hashes are computed over (roles included)."""
    parts = [f"system: {conv.system}"] if conv.system else []
    parts.extend(f"{t.role}: {t.content}" for t in conv.turns)
    return "\n".join(parts)


@dataclass(slots=True)
class RowHashes:
    """Everything the index keeps about a batch of conversations (no texts)."""

    conv_hash: np.ndarray  # (n,) uint64, normalised conversation
    prompt_hash: np.ndarray  # (n,) uint64, normalised first user prompt
    has_prompt: np.ndarray  # (n,) bool
    signatures: np.ndarray | None  # (n, num_perm) uint32 MinHash, None without near-duplicates
    band_keys: np.ndarray | None  # (n, bands) uint64 LSH bucket keys
    has_text: np.ndarray | None  # (n,) bool: at least one shingle


def hash_rows(convs: list[Conversation], config: DedupConfig, banding: Banding) -> RowHashes:
    """The hashes, MinHash signatures and band keys of one batch; shared by the local index and
    the Ray engine, so both see the same values for the same seed."""
    n = len(convs)
    words = hash_words([conversation_text(c) for c in convs] + [c.first_user() for c in convs])
    hashes = text_hashes(words)
    lengths = words.lengths()
    sig = band_keys = has_text = None
    if config.near_duplicates:
        conv_words = type(words)(words.hashes[: words.offsets[n]], words.offsets[: n + 1])
        shingles = ngram_hashes(conv_words, config.shingle_size)
        sig = SIGNATURE_FUNCTIONS[config.backend](shingles, config.num_perm, config.seed)
        band_keys = banding.keys(sig)
        has_text = shingles.lengths() > 0
    return RowHashes(hashes[:n], hashes[n:], lengths[n:] > 0, sig, band_keys, has_text)


def ordered_result(hits: list[tuple[int, DedupHit]], rows: int, config: DedupConfig) -> DedupResult:
    """``(input position, hit)`` pairs -> the result, hits in input order and ``TAGS`` order."""
    hits.sort(key=lambda ordinal_hit: (ordinal_hit[0], TAGS.index(ordinal_hit[1].tag)))
    return DedupResult([hit for _, hit in hits], rows, config)


def band_candidate_pairs(positions: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Candidate pairs of one band: ``positions`` ascending (input order), ``keys`` their bucket keys.
    Each bucket member links to its bucket's first member and to its predecessor, so a bucket of m
    rows costs 2m pairs instead of m^2/2."""
    order = positions[np.argsort(keys, kind="stable")]
    keys = np.sort(keys, kind="stable")
    same_as_prev = np.flatnonzero(keys[1:] == keys[:-1]) + 1
    if len(same_as_prev) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    group_start = np.maximum.accumulate(np.where(np.r_[True, keys[1:] != keys[:-1]], np.arange(len(keys)), 0))
    return np.concatenate([np.stack([order[group_start[same_as_prev]], order[same_as_prev]], axis=1),
                           np.stack([order[same_as_prev - 1], order[same_as_prev]], axis=1)])


def verified_pairs(pairs: np.ndarray, sig: np.ndarray, threshold: float) -> np.ndarray:
    """The distinct pairs (rows of ``sig``) whose estimated Jaccard reaches ``threshold``."""
    pairs = np.unique(pairs, axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return pairs[similarity(sig, pairs[:, 0], pairs[:, 1]) >= threshold]


class DedupIndex:
    """Streaming duplicate index: ``add_batch`` any number of times, then ``finalize`` once."""

    def __init__(self, config: DedupConfig | None = None, **overrides) -> None:
        base = config or DedupConfig()
        self.config = DedupConfig(**{**asdict(base), **overrides}) if overrides else base
        bands, rows = optimal_bands(self.config.threshold, self.config.num_perm)
        self.banding = Banding(bands, rows)
        self._keys: list[tuple[str, int, int]] = []
        self._ids: list[str] = []
        self._conv_hash: list[np.ndarray] = []
        self._prompt_hash: list[np.ndarray] = []
        self._has_prompt: list[np.ndarray] = []
        self._has_text: list[np.ndarray] = []
        self._signatures: list[np.ndarray] = []
        self._band_keys: list[np.ndarray] = []
        self._finalized = False

    def __len__(self) -> int:
        return len(self._keys)

    def add_batch(self, convs: Iterable[Conversation]) -> None:
        if self._finalized:
            raise RuntimeError("DedupIndex.add_batch after finalize()")
        convs = list(convs)
        if not convs:
            return
        rows = hash_rows(convs, self.config, self.banding)
        self._conv_hash.append(rows.conv_hash)
        self._prompt_hash.append(rows.prompt_hash)
        self._has_prompt.append(rows.has_prompt)
        self._keys.extend(c.key for c in convs)
        self._ids.extend(c.id for c in convs)
        if self.config.near_duplicates:
            self._signatures.append(rows.signatures)
            self._band_keys.append(rows.band_keys)
            self._has_text.append(rows.has_text)

    def add(self, convs: Iterable[Conversation], batch_size: int = 4096) -> None:
        """Feed an iterable of any length in bounded batches."""
        batch: list[Conversation] = []
        for conv in convs:
            batch.append(conv)
            if len(batch) >= batch_size:
                self.add_batch(batch)
                batch = []
        self.add_batch(batch)

    def finalize(self) -> DedupResult:
        self._finalized = True
        n = len(self._keys)
        if n == 0:
            return DedupResult([], 0, self.config)
        hits: list[tuple[int, DedupHit]] = []
        conv_hash = np.concatenate(self._conv_hash)
        dup_rep = first_occurrence(conv_hash)
        for i in np.flatnonzero(dup_rep != np.arange(n)).tolist():
            hits.append(self._hit(i, "duplicate", int(dup_rep[i]), 1.0))

        prompt_hash = np.concatenate(self._prompt_hash)
        has_prompt = np.concatenate(self._has_prompt)
        rows = np.flatnonzero(has_prompt)
        rep, rank = first_occurrence_and_rank(prompt_hash[rows])
        for j in np.flatnonzero(rank >= self.config.max_per_prompt).tolist():
            hits.append(self._hit(int(rows[j]), "repeated_query", int(rows[rep[j]]), 1.0))

        if self.config.near_duplicates:
            hits.extend(self._near_duplicates(dup_rep))
        return ordered_result(hits, n, self.config)

    # -- internals -------------------------------------------------------------------------

    def _hit(self, i: int, tag: str, rep: int, similarity: float) -> tuple[int, DedupHit]:
        source, index, sub = self._keys[i]
        return i, DedupHit(source, index, sub, self._ids[i], tag, rep, self._ids[rep], self._keys[rep], similarity)

    def _near_duplicates(self, dup_rep: np.ndarray) -> Iterator[tuple[int, DedupHit]]:
        sig = np.concatenate(self._signatures)
        band_keys = np.concatenate(self._band_keys)
        has_text = np.concatenate(self._has_text)
        n = len(sig)
        rows = np.flatnonzero(has_text)
        edges = [band_candidate_pairs(rows, band_keys[rows, b]) for b in range(band_keys.shape[1])]
        pairs = np.concatenate(edges)
        if len(pairs) == 0:
            return
        pairs = verified_pairs(pairs, sig, self.config.threshold)
        labels = connected_components(n, pairs)
        for i in np.flatnonzero((labels != np.arange(n)) & (dup_rep == np.arange(n))).tolist():
            rep = int(labels[i])
            yield self._hit(i, "near_duplicate", rep, float(similarity(sig, np.array([i]), np.array([rep]))[0]))


def similarity(sig: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of rows ``a[k]`` and ``b[k]`` of ``sig`` (share of equal MinHash values)."""
    out = np.empty(len(a), dtype=np.float64)
    for s in range(0, len(a), _EDGE_CHUNK):
        out[s : s + _EDGE_CHUNK] = (sig[a[s : s + _EDGE_CHUNK]] == sig[b[s : s + _EDGE_CHUNK]]).mean(axis=1)
    return out


def first_occurrence(hashes: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row with the same hash."""
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def first_occurrence_and_rank(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First position of each row's hash, and how many earlier rows share it."""
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    starts = np.r_[True, sorted_h[1:] != sorted_h[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    rep = np.empty(len(order), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rep[order] = order[group_start]
    rank[order] = np.arange(len(order)) - group_start
    return rep, rank


def connected_components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Label of every node = smallest node id in its component (so: the first occurrence)."""
    labels = np.arange(n)
    if len(pairs) == 0:
        return labels
    a, b = pairs[:, 0], pairs[:, 1]
    while True:
        m = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, a, m)
        np.minimum.at(labels, b, m)
        labels = labels[labels]  # pointer jumping
        if np.array_equal(labels, before):
            return labels
