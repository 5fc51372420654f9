"""MinHash signatures and LSH banding.

Two interchangeable signature backends over the same shingle hashes:

* ``rensa`` (default, a core dependency): Rust R-MinHash over a flat uint64 token buffer, one
  call per batch. benchmarks/dedup_speed.py measures it against datasketch.
* ``datasketch``: the reference Python/numpy MinHash (``pip install datasketch``), one object
  per document; kept as the baseline and for users who want its exact permutation scheme.

Signatures of different backends are not comparable with each other; an index uses one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from aligntax.dedup.hashing import HashedWords

BACKENDS = ("rensa", "datasketch")
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 spells it trapz


def rensa_signatures(shingles: HashedWords, num_perm: int, seed: int) -> np.ndarray:
    """(n_docs, num_perm) uint32 R-MinHash signatures; a text with no shingles gets all-max."""
    import rensa

    n = len(shingles)
    if n == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    offsets = shingles.offsets.astype(np.uint64)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(shingles.hashes, offsets, num_perm, seed)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(n, num_perm)


def datasketch_signatures(shingles: HashedWords, num_perm: int, seed: int) -> np.ndarray:
    """(n_docs, num_perm) signatures with datasketch's MinHash (token hashes used as-is)."""
    from datasketch import MinHash

    out = np.empty((len(shingles), num_perm), dtype=np.uint32)
    template = MinHash(num_perm=num_perm, seed=seed, hashfunc=_low32)
    off = shingles.offsets.tolist()
    for i, (a, b) in enumerate(zip(off[:-1], off[1:])):
        m = template.copy()
        if b > a:
            m.update_batch(shingles.hashes[a:b].tolist())
        out[i] = m.hashvalues.astype(np.uint32)
    return out


def _low32(token: int) -> int:
    return token & 0xFFFFFFFF


SIGNATURE_FUNCTIONS: dict[str, Callable[[HashedWords, int, int], np.ndarray]] = {
    "rensa": rensa_signatures,
    "datasketch": datasketch_signatures,
}


def _collision_probability(s: np.ndarray, bands: int, rows: int) -> np.ndarray:
    return 1.0 - (1.0 - s**rows) ** bands


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm minimising the weighted false positive and
    false negative areas under the LSH S-curve (the parameter choice datasketch's MinHashLSH makes)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be in (0, 1)")
    below = np.linspace(0.0, threshold, 200)
    above = np.linspace(threshold, 1.0, 200)
    best, best_err = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = _trapezoid(_collision_probability(below, bands, rows), below)
            fn = _trapezoid(1.0 - _collision_probability(above, bands, rows), above)
            err = fp_weight * fp + fn_weight * fn
            if err < best_err:
                best, best_err = (bands, rows), err
    return best


@dataclass(frozen=True, slots=True)
class Banding:
    bands: int
    rows: int

    def keys(self, signatures: np.ndarray) -> np.ndarray:
        """(n_docs, bands) uint64 bucket keys; equal key in a band = LSH candidate pair."""
        n = signatures.shape[0]
        used = signatures[:, : self.bands * self.rows].astype(np.uint64).reshape(n, self.bands, self.rows)
        key = np.zeros((n, self.bands), dtype=np.uint64)
        for r in range(self.rows):
            key = (key * np.uint64(0x9E3779B97F4A7C15)) ^ used[:, :, r]
        # make bands independent so that equal keys in different bands do not collide
        return key ^ (np.arange(self.bands, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93))
