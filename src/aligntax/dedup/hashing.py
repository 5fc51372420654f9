"""Vectorised text normalisation and hashing, shared by dedup and contamination.

Both passes need the same thing for millions of texts: fold case, punctuation and whitespace,
split into words, hash every word and every word n-gram. Doing that one string at a time in
Python (``re.findall`` + a hash call per token) tops out around 10k conversations/s, so here a
whole batch is joined into one UTF-8 buffer and processed with numpy:

* bytes are classified as word / non-word with a lookup table (ASCII letters and digits and all
  non-ASCII bytes are word bytes; the common Unicode punctuation of U+2000..U+206F — curly
  quotes, dashes, ellipsis — and NBSP are folded to separators like ASCII punctuation);
* a word's hash and an n-gram's hash are polynomial rolling hashes mod 2**64 computed for all
  ranges at once from one prefix sum (``range_hash``), then scrambled by the splitmix64
  finaliser.

Normalisation therefore is: ``str.lower()``, punctuation -> word boundary, whitespace collapsed.
"Hello, World!" and "hello world" give the same word hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from xxhash import xxh3_64_intdigest

_BASE = 0x100000001B3  # odd, so it is invertible mod 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)
_MAX_BATCH_BYTES = 4 << 20  # bounds the temporary arrays (~10 uint64 per byte of text)

_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _WORD_BYTE[_c] = True
_WORD_BYTE[0x80:] = True
_ASCII_LOWER = np.arange(256, dtype=np.uint8)
_ASCII_LOWER[65:91] += 32


@dataclass(slots=True)
class HashedWords:
    """Word hashes of a batch of texts: words of text ``i`` are ``hashes[offsets[i]:offsets[i+1]]``."""

    hashes: np.ndarray  # uint64
    offsets: np.ndarray  # int64, len(texts) + 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_POWER_CACHE: dict[int, np.ndarray] = {}


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) mod 2**64, cached and grown by doubling (read-only view)."""
    cached = _POWER_CACHE.get(base)
    if cached is None or len(cached) < n:
        size = max(n, 2 * len(cached) if cached is not None else 1 << 16)
        out = np.full(size, base, dtype=np.uint64)
        out[0] = 1
        cached = np.cumprod(out, dtype=np.uint64)  # wraps mod 2**64, which is what we want
        cached.flags.writeable = False
        _POWER_CACHE[base] = cached
    return cached[:n]


def range_hash(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Polynomial hash of ``values[lo[k]:hi[k]]`` for every k, in O(len(values) + len(lo)).

    hash(lo, hi) = sum_j values[j] * B**(hi-1-j) = B**(hi-1) * (C[hi] - C[lo]) with
    C[k] = sum_{j<k} values[j] * B**-j; all arithmetic wraps mod 2**64.
    """
    if len(lo) == 0:
        return np.zeros(0, dtype=np.uint64)
    n = len(values)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(values * _powers(_BASE_INV, n), dtype=np.uint64, out=prefix[1:])
    pow_fwd = _powers(_BASE, n)
    hi = np.asarray(hi, dtype=np.int64)
    raw = (prefix[hi] - prefix[np.asarray(lo, dtype=np.int64)]) * pow_fwd[np.maximum(hi - 1, 0)]
    return _splitmix64(raw)


def _hash_words_chunk(texts: Sequence[str]) -> HashedWords:
    # ASCII is lower-cased with a byte table (fast); other text needs str.lower() for Unicode case
    joined = "\x00".join(t if t.isascii() else t.lower() for t in texts)
    if joined.count("\x00") != len(texts) - 1:
        joined = "\x00".join((t if t.isascii() else t.lower()).replace("\x00", " ") for t in texts)
    buf = _ASCII_LOWER[np.frombuffer(joined.encode("utf-8", "replace"), dtype=np.uint8)]
    word = _WORD_BYTE[buf]
    # U+2000..U+206F (E2 80 xx / E2 81 xx) and NBSP (C2 A0) act as punctuation.
    lead = np.flatnonzero((buf[:-2] == 0xE2) & ((buf[1:-1] == 0x80) | (buf[1:-1] == 0x81)))
    for k in range(3):
        word[lead + k] = False
    nbsp = np.flatnonzero((buf[:-1] == 0xC2) & (buf[1:] == 0xA0))
    word[nbsp] = False
    word[nbsp + 1] = False

    edges = np.diff(word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    hashes = range_hash(buf.astype(np.uint64) + np.uint64(1), starts, ends)
    seps = np.flatnonzero(buf == 0)
    doc_of_word = np.searchsorted(seps, starts)
    offsets = np.searchsorted(doc_of_word, np.arange(len(texts) + 1)).astype(np.int64)
    return HashedWords(hashes, offsets)


def hash_words(texts: Sequence[str]) -> HashedWords:
    """Normalise and hash every word of every text (see the module docstring)."""
    if not texts:
        return HashedWords(np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.int64))
    parts: list[HashedWords] = []
    start, size = 0, 0
    for i, t in enumerate(texts):
        size += len(t) + 1
        if size >= _MAX_BATCH_BYTES:
            parts.append(_hash_words_chunk(texts[start : i + 1]))
            start, size = i + 1, 0
    if start < len(texts):
        parts.append(_hash_words_chunk(texts[start:]))
    if len(parts) == 1:
        return parts[0]
    shift = np.cumsum([0] + [len(p.hashes) for p in parts[:-1]])
    offsets = np.concatenate([parts[0].offsets[:1]] + [p.offsets[1:] + s for p, s in zip(parts, shift)])
    return HashedWords(np.concatenate([p.hashes for p in parts]), offsets)


def ngram_hashes(words: HashedWords, n: int, *, short: str = "whole") -> HashedWords:
    """Hashes of the word n-grams of each text (same layout as ``words``).

    A text with fewer than ``n`` (but at least one) words yields one hash of all its words when
    ``short="whole"`` (so short texts still get a shingle), or nothing when ``short="skip"``.
    """
    if n < 1:
        raise ValueError("n-gram size must be >= 1")
    lengths = words.lengths()
    if short == "whole":
        counts = np.where(lengths >= n, lengths - n + 1, np.minimum(lengths, 1))
    elif short == "skip":
        counts = np.maximum(lengths - n + 1, 0)
    else:
        raise ValueError(f"short must be 'whole' or 'skip', not {short!r}")
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    doc = np.repeat(np.arange(len(lengths)), counts)
    lo = words.offsets[:-1][doc] + (np.arange(total) - offsets[:-1][doc])
    hi = np.minimum(lo + n, words.offsets[1:][doc])
    return HashedWords(range_hash(words.hashes, lo, hi), offsets)


def text_hashes(words: HashedWords) -> np.ndarray:
    """One xxh3-64 hash per text of its normalised word sequence (the exact-match key)."""
    h, off = words.hashes, words.offsets.tolist()
    return np.fromiter(
        (xxh3_64_intdigest(h[a:b].tobytes()) for a, b in zip(off[:-1], off[1:])), dtype=np.uint64, count=len(off) - 1
    )
