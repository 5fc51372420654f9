"""Distributed duplicate finding with the local ``DedupIndex``'s semantics.

1. Every batch is hashed in parallel with ``hash_rows`` (the same MinHash seed and LSH banding).
2. Rows get their input position (shard offsets + position in shard), the representative rule.
3. Shuffles: exact and prompt hashes, and every (band, bucket key), are grouped by a partition
   derived from the key, so one bucket never straddles groups; each group runs the local index's
   own functions (``first_occurrence``, ``band_candidate_pairs``, ``verified_pairs``) on its rows
   in input order. Only flagged pairs and verified near-duplicate edges come back.
4. Connected components over the verified edges are resolved here (``connected_components``;
   memory grows with the near-duplicate rows, not the input), the representative being the
   lowest input position, so clusters and kept rows equal a local run's for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from aligntax.engines.ray_data import items_of

PARTITION_ROWS = 50_000  # rows per shuffle group (per band): enough groups to spread, few enough to be cheap


def _hash(table: pa.Table, config: Any) -> pa.Table:
    """Hashes of one batch; malformed rows stay (``is_conv`` false, empty hashes) so they can be counted."""
    from aligntax.dedup.index import hash_rows
    from aligntax.dedup.minhash import Banding, optimal_bands

    items = items_of(table)
    conv_rows = np.flatnonzero(table.column("is_conv").to_numpy(zero_copy_only=False))
    convs = [items[i] for i in conv_rows]
    n = len(items)

    def spread(values: Any, fill: Any, dtype: Any = None) -> list | np.ndarray:
        if dtype is not None:
            out = np.full(n, fill, dtype=dtype)
            out[conv_rows] = values
            return out
        out = [fill] * n
        for i, v in zip(conv_rows.tolist(), values):
            out[i] = v
        return out

    rows = hash_rows(convs, config, Banding(*optimal_bands(config.threshold, config.num_perm))) if convs else None

    def of(name: str) -> Any:
        return () if rows is None else getattr(rows, name)

    cols: dict[str, Any] = {
        "shard": table.column("shard"), "conv_pos": table.column("conv_pos"), "is_conv": table.column("is_conv"),
        "source": pa.array([it.source for it in items], type=pa.string()),
        "index": pa.array([it.index for it in items], type=pa.int64()),
        "sub": pa.array([getattr(it, "sub", 0) for it in items], type=pa.int64()),
        "id": pa.array([getattr(it, "id", None) for it in items], type=pa.string()),
        "conv_hash": pa.array(spread(of("conv_hash"), 0, np.uint64), type=pa.uint64()),
        "prompt_hash": pa.array(spread(of("prompt_hash"), 0, np.uint64), type=pa.uint64()),
        "has_prompt": pa.array(spread(of("has_prompt"), False, bool), type=pa.bool_()),
    }
    if config.near_duplicates:
        cols["has_text"] = pa.array(spread(of("has_text"), False, bool), type=pa.bool_())
        cols["sig"] = pa.array(spread([x.tobytes() for x in of("signatures")], b""), type=pa.binary())
        cols["band_keys"] = pa.array(spread(list(of("band_keys")), []), type=pa.list_(pa.uint64()))
    return pa.table(cols)


def _shard_counts(batch: dict) -> dict:
    """Conversations per shard in this batch; malformed rows are counted under shard -1."""
    is_conv = batch["is_conv"].astype(bool)
    shards, rows = np.unique(np.where(is_conv, batch["shard"], -1), return_counts=True)
    return {"shard": shards, "rows": rows}


def _with_position(batch: dict, offsets: dict) -> dict:
    """The conversations only, each with its input position among all conversations."""
    batch = {k: v[batch["is_conv"].astype(bool)] for k, v in batch.items()}
    batch["position"] = np.array([offsets[s] for s in batch["shard"]], dtype=np.int64) + batch["conv_pos"]
    return batch


def _only_positions(batch: dict, wanted: np.ndarray) -> dict:
    keep = np.isin(batch["position"], wanted)
    return {k: v[keep] for k, v in batch.items() if k in ("position", "source", "index", "sub", "id", "sig")}


def _keyed(batch: dict, column: str, parts: int, only: str | None = None) -> dict:
    keep = batch[only].astype(bool) if only else np.ones(len(batch["position"]), dtype=bool)
    keys = batch[column][keep].astype(np.uint64)
    return {"part": (keys % np.uint64(parts)).astype(np.int64), "key": keys, "position": batch["position"][keep]}


def _first_pairs(group: dict, min_rank: int) -> dict:
    """(position, representative) of the rows ranked ``min_rank`` or later among equal keys."""
    from aligntax.dedup.index import first_occurrence_and_rank

    order = np.argsort(group["position"], kind="stable")
    positions, keys = group["position"][order], group["key"][order]
    rep, rank = first_occurrence_and_rank(keys)
    flagged = rank >= min_rank
    return {"position": positions[flagged], "rep": positions[rep[flagged]]}


def _band_rows(batch: dict, parts: int) -> dict:
    text = batch["has_text"].astype(bool)
    keys = np.stack(list(batch["band_keys"][text])).astype(np.uint64) if text.any() else np.zeros((0, 1), np.uint64)
    bands = keys.shape[1]
    band = np.tile(np.arange(bands, dtype=np.int64), len(keys))
    flat = keys.reshape(-1)
    return {"part": band * parts + (flat % np.uint64(parts)).astype(np.int64), "band": band, "key": flat,
            "position": np.repeat(batch["position"][text], bands), "sig": np.repeat(batch["sig"][text], bands)}


def _verified_band_pairs(group: dict, threshold: float) -> dict:
    from aligntax.dedup.index import band_candidate_pairs, verified_pairs

    pairs = []
    for band in np.unique(group["band"]):
        rows = group["band"] == band
        order = np.argsort(group["position"][rows], kind="stable")
        positions = group["position"][rows][order]
        sig = np.stack([np.frombuffer(s, dtype=np.uint32) for s in group["sig"][rows][order]])
        local = verified_pairs(band_candidate_pairs(np.arange(len(positions)), group["key"][rows][order]), sig, threshold)
        pairs.append(positions[local])
    found = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    return {"a": found[:, 0].astype(np.int64), "b": found[:, 1].astype(np.int64)}


def _pairs(ds: Any, fn: Any, groups: int, **kwargs: Any) -> np.ndarray:
    from aligntax.engines.ray_data import cluster_cpus

    # Ray's default of 200 shuffle partitions costs seconds of scheduling on small inputs
    shuffled = ds.groupby("part", num_partitions=max(1, min(groups, 2 * cluster_cpus())))
    rows = shuffled.map_groups(fn, batch_format="numpy", fn_kwargs=kwargs).take_all()
    cols = list(rows[0]) if rows else []
    return np.array([[r[c] for c in cols] for r in rows], dtype=np.int64).reshape(-1, 2)


def _key(row: dict) -> tuple[str, int, int]:
    return (str(row["source"]), int(row["index"]), int(row["sub"]))


def find_duplicates(items: Any, config: Any) -> tuple[Any, int]:
    """``(DedupResult, malformed rows)`` for the rows of ``items`` (a ``read_items`` dataset)."""
    from aligntax.dedup import DedupHit
    from aligntax.dedup.index import connected_components, ordered_result, similarity
    from aligntax.dedup.minhash import Banding, optimal_bands

    hashed = items.map_batches(_hash, batch_format="pyarrow", fn_kwargs={"config": config}, num_cpus=1).materialize()
    counts: dict[int, int] = {}
    for row in hashed.map_batches(_shard_counts, batch_format="numpy").take_all():
        counts[int(row["shard"])] = counts.get(int(row["shard"]), 0) + int(row["rows"])
    malformed = counts.pop(-1, 0)
    offsets, total = {}, 0
    for shard in sorted(counts):
        offsets[shard], total = total, total + counts[shard]
    hashed = hashed.map_batches(_with_position, batch_format="numpy", fn_kwargs={"offsets": offsets}).materialize()
    if total == 0:
        return ordered_result([], 0, config), malformed
    parts = max(1, total // PARTITION_ROWS)
    dup = _pairs(hashed.map_batches(_keyed, batch_format="numpy", fn_kwargs={"column": "conv_hash", "parts": parts}),
                 _first_pairs, parts, min_rank=1)
    repeated = _pairs(hashed.map_batches(_keyed, batch_format="numpy",
                                         fn_kwargs={"column": "prompt_hash", "parts": parts, "only": "has_prompt"}),
                      _first_pairs, parts, min_rank=config.max_per_prompt)
    near = np.zeros((0, 2), dtype=np.int64)
    if config.near_duplicates:
        edges = _pairs(hashed.map_batches(_band_rows, batch_format="numpy", fn_kwargs={"parts": parts}),
                       _verified_band_pairs, parts * Banding(*optimal_bands(config.threshold, config.num_perm)).bands,
                       threshold=config.threshold)
        if len(edges):
            nodes, dense = np.unique(edges, return_inverse=True)
            reps = nodes[connected_components(len(nodes), dense.reshape(-1, 2))]
            exact_dups = set(dup[:, 0].tolist())
            flagged = (reps != nodes) & ~np.isin(nodes, list(exact_dups))
            near = np.stack([nodes[flagged], reps[flagged]], axis=1)
    wanted = np.unique(np.concatenate([dup.reshape(-1), repeated.reshape(-1), near.reshape(-1)]))
    found = hashed.map_batches(_only_positions, batch_format="numpy", fn_kwargs={"wanted": wanted}).take_all()
    lookup = {int(r["position"]): r for r in found}
    hits = []
    for tag, pairs in (("duplicate", dup), ("repeated_query", repeated), ("near_duplicate", near)):
        for i, rep in pairs.tolist():
            row, rep_row = lookup[i], lookup[rep]
            score = 1.0
            if tag == "near_duplicate":
                sig = np.stack([np.frombuffer(row["sig"], np.uint32), np.frombuffer(rep_row["sig"], np.uint32)])
                score = float(similarity(sig, np.array([0]), np.array([1]))[0])
            hits.append((i, DedupHit(str(row["source"]), int(row["index"]), int(row["sub"]), row["id"], tag, rep,
                                     rep_row["id"], _key(rep_row), score)))
    return ordered_result(hits, total, config), malformed
