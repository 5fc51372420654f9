"""``aligntax variants``: datasets that differ only in how many of the tagged rows they keep.

For each dose ``d`` (a fraction in [0, 1]) the variant keeps ``round(d * T)`` of the ``T`` tagged
rows: the first ones of one seeded permutation, so variants are nested (the 0.25 set is a subset
of the 0.5 set, which is a subset of the 1.0 set). Untagged rows are all kept, unless
``size_matched``: then every variant has the size of the smallest natural variant
(``U + round(d_min * T)``) and is filled with the first ``size - k_d`` untagged rows of a second
seeded permutation (so higher doses hold fewer untagged rows, and those are nested too).
Malformed rows are in no variant (counted in the manifest).

Outputs: ``dose-<d>.<ext>`` per dose (the input's own format), ``membership.jsonl`` (one line per
row: its identity, whether it is tagged, and the variants holding it) and ``manifest.json`` with
counts, file hashes and, per variant, exactly which ids it adds/removes relative to the previous dose
(the first variant relative to "every untagged row, no tagged row").
"""

from __future__ import annotations

import json
import time
from array import array
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from aligntax.audit.annotate import annotate, declared_tags
from aligntax.errors import ConservationError, InputError, PolicyError
from aligntax.record import Conversation
from aligntax.shape.clean import BATCH_SIZE, output_format, reject_repeated_inputs
from aligntax.util import batched
from aligntax.shape.manifest import MANIFEST_FILE, StagedDir, base_manifest, describe_files, write_json

MEMBERSHIP = "membership.jsonl"
UNTAGGED, TAGGED, MALFORMED = 0, 1, 2


def parse_doses(spec: str | Sequence[float]) -> list[float]:
    values = [float(v) for v in (spec.split(",") if isinstance(spec, str) else spec) if str(v).strip() != ""]
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"doses must be fractions in [0, 1], got {spec!r}")
    return sorted(set(values))


def variant_name(dose: float) -> str:
    return f"dose-{dose:g}"


def plan_counts(n_tagged: int, n_untagged: int, doses: list[float], size_matched: bool) -> list[tuple[int, int]]:
    """``(tagged kept, untagged kept)`` per dose."""
    tagged = [int(round(d * n_tagged)) for d in doses]
    if not size_matched:
        return [(k, n_untagged) for k in tagged]
    size = n_untagged + min(tagged)
    return [(k, size - k) for k in tagged]


def _ranks(n: int, rng: np.random.Generator) -> np.ndarray:
    """rank[i] = position of item i in a seeded permutation; item i is kept when rank < quota."""
    order = rng.permutation(n)
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n)
    return ranks


def make_variants(inputs: Sequence[str | Path], out_dir: str | Path, *, tag: str = "aligned",
                  doses: str | Sequence[float] = (0.0, 0.25, 0.5, 1.0), size_matched: bool = False, seed: int = 0,
                  detectors: str | Sequence[str] | None = None, detector_options: dict | None = None,
                  format: str | None = None, on_error: str = "quarantine", limit: int | None = None,
                  batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Write one dataset per dose into ``out_dir``; returns the manifest."""
    from aligntax.detect.defaults import build_detectors
    from aligntax.io import open_writer, read_conversations

    dose_list = parse_doses(doses)
    inputs = [str(p) for p in inputs]
    reject_repeated_inputs(inputs)
    built = build_detectors(detectors, detector_options)
    if tag not in declared_tags(built):
        raise PolicyError(f"tag {tag!r} is not emitted by the detectors {[d.name for d in built]}; "
                          f"available: {', '.join(declared_tags(built))}")
    started = time.perf_counter()

    def read():
        return read_conversations(inputs, format=format, on_error=on_error, limit=limit)

    kinds = array("b")  # one entry per row read, in reading order
    for batch in batched(read(), batch_size):
        convs = [it for it in batch if isinstance(it, Conversation)]
        found = iter(annotate(convs, built))
        for item in batch:
            if not isinstance(item, Conversation):
                kinds.append(MALFORMED)
            else:
                kinds.append(TAGGED if any(h.tag == tag for h in next(found).hits) else UNTAGGED)
    if not kinds:
        raise InputError(f"no input rows in {', '.join(inputs)}")
    kind_arr = np.frombuffer(kinds, dtype=np.int8)
    n_tagged, n_untagged = int((kind_arr == TAGGED).sum()), int((kind_arr == UNTAGGED).sum())
    rng = np.random.default_rng(seed)
    tagged_rank, untagged_rank = _ranks(n_tagged, rng), _ranks(n_untagged, rng)
    quotas = plan_counts(n_tagged, n_untagged, dose_list, size_matched)
    names = [variant_name(d) for d in dose_list]
    fmt = output_format(inputs, format=format)
    # ids that enter (tagged) or leave (untagged) each variant relative to the previous, smaller dose
    added: list[list[str]] = [[] for _ in dose_list]
    removed: list[list[str]] = [[] for _ in dose_list]
    with StagedDir(out_dir) as staged:
        writers = [open_writer(staged.path / f"{name}.{fmt.suffix}", like=fmt.like, file_type=fmt.file_type)
                   for name in names]
        written = [0] * len(names)
        try:
            with open(staged.path / MEMBERSHIP, "w", encoding="utf-8") as membership:
                position = t_seen = u_seen = 0
                for item in read():
                    if position >= len(kinds) or kinds[position] == MALFORMED:
                        position += 1
                        continue
                    is_tagged = kinds[position] == TAGGED
                    if is_tagged:
                        rank, t_seen = int(tagged_rank[t_seen]), t_seen + 1
                    else:
                        rank, u_seen = int(untagged_rank[u_seen]), u_seen + 1
                    holders = []
                    for v, (k_tagged, k_untagged) in enumerate(quotas):
                        if rank < (k_tagged if is_tagged else k_untagged):
                            writers[v].write(item)
                            written[v] += 1
                            holders.append(names[v])
                    _record_diff(item.id, is_tagged, rank, [(0, n_untagged), *quotas], added, removed)
                    membership.write(json.dumps({"id": item.id, "source": item.source, "index": item.index,
                                                 "sub": item.sub, "tagged": is_tagged, "in": holders}) + "\n")
                    position += 1
            if position != len(kinds):
                raise ConservationError(f"the second read gave {position} rows, the first {len(kinds)}")
            expected = [k + u for k, u in quotas]
            if written != expected:
                raise ConservationError(f"variant sizes {written} differ from the plan {expected}")
        except BaseException:
            for w in writers:
                w.abort()
            raise
        for w in writers:
            w.close()
        manifest = base_manifest("variants", inputs)
        files = {f["path"]: f for f in describe_files([w.path for w in writers], staged.path)}
        manifest.update({
            "tag": tag, "doses": dose_list, "size_matched": size_matched, "seed": seed,
            "detectors": [{"name": d.name, "version": d.version, "options": d.options} for d in built],
            "output_format": {"like": fmt.like or "messages", "file_type": fmt.file_type},
            "counts": {"read": len(kinds), "tagged": n_tagged, "untagged": n_untagged,
                       "malformed": len(kinds) - n_tagged - n_untagged},
            "size_rule": ("every variant has the smallest natural size (untagged + tagged kept at the lowest dose), "
                          "filled with seeded untagged rows") if size_matched else "all untagged rows in every variant",
            "variants": [{
                "name": name, "dose": dose, "rows": k + u, "tagged": k, "untagged": u,
                "file": files[w.path.name],
                "relative_to": "all untagged rows, no tagged rows" if v == 0 else names[v - 1],
                "tagged_ids_added": added[v], "untagged_ids_removed": removed[v],
            } for v, (name, dose, (k, u), w) in enumerate(zip(names, dose_list, quotas, writers))],
            "membership": describe_files([staged.path / MEMBERSHIP], staged.path)[0],
            "timing": {"seconds": round(time.perf_counter() - started, 3)},
        })
        write_json(staged.path / MANIFEST_FILE, manifest)
        staged.commit()
    return manifest


def _record_diff(row_id: str, is_tagged: bool, rank: int, quotas: list[tuple[int, int]],
                 added: list[list[str]], removed: list[list[str]]) -> None:
    """Note the variant where this row first appears (tagged) or first disappears (untagged).

    ``quotas[0]`` is the baseline (no tagged rows, every untagged row); ``quotas[v + 1]`` is variant v."""
    for v in range(1, len(quotas)):
        (prev_k, prev_u), (k, u) = quotas[v - 1], quotas[v]
        if is_tagged and prev_k <= rank < k:
            added[v - 1].append(row_id)
        elif not is_tagged and u <= rank < prev_u:
            removed[v - 1].append(row_id)
