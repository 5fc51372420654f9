"""The Ray engine: audit, clean, contamination and dedup through Ray Data.

Ray tasks read the input shards and run the per-batch work (detect, decide, check, hash) with
the very functions the local engine calls; this process writes the outputs in input order with
the same writers and runs the same conservation checks, so the files equal a local run's.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Sequence

from aligntax.engines import ENGINES
from aligntax.engines.ray_data import (cached, cluster_cpus, connect, map_pickled, read_items, results,
                                       surfaced_errors)

AUDIT_BATCH = 512  # = aligntax.audit.runner.BATCH_SIZE
CHECK_BATCH = 2048


def _annotate(items: list, names: list[str], options: dict) -> tuple[list, Any]:
    from aligntax.audit import BatchAnnotator

    annotator = cached(("annotate", tuple(names), json.dumps(options, sort_keys=True, default=str)),
                       lambda: BatchAnnotator(names, options))
    return items, annotator(items)


def _decide(items: list, policy: Any, flags: dict) -> list:
    from aligntax.shape.clean import build_policy_detectors, decide_batch, policy_rule_engine

    def build() -> tuple:
        detectors = build_policy_detectors(policy)
        return detectors, policy_rule_engine(policy, detectors)

    detectors, engine = cached(("decide", policy.hash), build)
    return decide_batch(items, detectors, flags, engine)


def _check(items: list, benchmark_items: list, index_options: dict) -> tuple[int, int, Any]:
    from aligntax.contamination import ContaminationIndex
    from aligntax.contamination.scan import hit_table
    from aligntax.record import Conversation

    key = ("contamination", json.dumps(index_options, sort_keys=True), len(benchmark_items),
           hash(tuple(it.item_id for it in benchmark_items)))
    index = cached(key, lambda: ContaminationIndex(benchmark_items, **index_options))
    convs = [it for it in items if isinstance(it, Conversation)]
    return len(convs), len(items) - len(convs), hit_table(index, convs)


@ENGINES.register("ray")
class RayEngine:
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        connect(address)

    def audit(self, inputs: Sequence[str], out: Any, *, format: str | None = None, on_error: str = "quarantine",
              limit: int | None = None, detectors: Any = None, options: dict | None = None,
              on_progress: Callable[[int], None] | None = None, jobs: int | None = None, **kwargs: Any) -> Any:
        from aligntax.audit import BatchAnnotator
        from aligntax.audit.runner import write_audit
        from aligntax.detect.defaults import parse_detector_names

        names = parse_detector_names(detectors)
        probe = BatchAnnotator(names, options)  # validates detectors and options before any Ray work
        ds = read_items(inputs, format=format, on_error=on_error, limit=limit)
        annotated = results(map_pickled(ds, _annotate, AUDIT_BATCH, names=list(names), options=dict(options or {})))
        with surfaced_errors():
            return write_audit(annotated, out, probe, jobs=cluster_cpus(), inputs=list(inputs), on_progress=on_progress,
                               engine="ray", **kwargs)

    def clean_engine(self) -> "RayCleanEngine":
        return RayCleanEngine()

    def contamination(self, inputs: Sequence[Any], items: list, index_options: dict, *, format: str | None = None,
                      limit: int | None = None, index: Any = None) -> Iterator[tuple[int, int, Any]]:
        import ray

        ds = read_items([str(p) for p in inputs], format=format, limit=limit)
        # the benchmark items go to the object store once; each worker builds its index from them once
        items_ref = ray.put(items)
        yield from results(map_pickled(ds, _check_ref, CHECK_BATCH, items_ref=[items_ref],
                                       index_options=index_options))

    def dedup(self, inputs: Sequence[Any], config: Any, *, format: str | None = None,
              limit: int | None = None) -> tuple[Any, int]:
        from aligntax.engines.ray_dedup import find_duplicates

        ds = read_items([str(p) for p in inputs], format=format, limit=limit)
        with surfaced_errors():
            return find_duplicates(ds, config)


def _check_ref(items: list, items_ref: list, index_options: dict) -> tuple[int, int, Any]:
    import ray

    benchmark_items = cached(("items", items_ref[0].hex()), lambda: ray.get(items_ref[0]))
    return _check(items, benchmark_items, index_options)


class RayCleanEngine:
    """``run_clean``'s engine: the dedup pass and the per-row decisions run on Ray."""

    name = "ray"

    def dedup_flags(self, job: Any) -> dict:
        from aligntax.engines.ray_dedup import find_duplicates
        from aligntax.shape.dedup_pass import dedup_config, flags_from_result

        config = dedup_config(job.policy.dedup)
        ds = read_items(job.inputs, format=job.format, on_error=job.on_error, limit=job.limit)
        with surfaced_errors():
            result, _ = find_duplicates(ds, config)
        return flags_from_result(result)

    def decided(self, job: Any, flags: dict, progress: bool = False) -> Iterator[list]:
        ds = read_items(job.inputs, format=job.format, on_error=job.on_error, limit=job.limit)
        yield from results(map_pickled(ds, _decide, job.batch_size, policy=job.policy, flags=flags))
