"""Ray plumbing shared by the Ray engine's stages: joining a cluster, reading input shards inside
Ray tasks, and moving Python results through Ray Data as pickled single-column blocks.

A shard is one input file (``aligntax.io.expand_paths``); each is read by one Ray task with the
same ``read_conversations`` the local engine uses, so row identities (source, index, sub) match.
Ray is imported here only, and only when the Ray engine is used.
"""

from __future__ import annotations

import logging
import os
import pickle
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import pyarrow as pa

from aligntax.errors import AligntaxError, InputError

READ_CHUNK = 512  # rows per block leaving a read task (the batch the stages after it see)
_cache: dict[Any, Any] = {}  # per worker process: detectors, indexes, rule engines built once


def connect(address: str | None = None) -> Any:
    """Import Ray, join ``address`` (or start a local Ray once), and make Ray Data keep input order."""
    # Ray Data's per-stage INFO lines and task tracebacks would drown the CLI output; failures still
    # raise here (RAY_DATA_LOG_LEVEL=INFO brings them back)
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "CRITICAL")
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'aligntax[ray]'") from None
    if not ray.is_initialized():
        # without an address: RAY_ADDRESS if set, else a fresh local Ray (never a stale `ray start` leftover)
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise InputError(f"--ray-address {address}: {exc}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # outputs equal to the local engine's, row for row
    ctx.enable_progress_bars = False
    return ray


def cluster_cpus() -> int:
    import ray

    return int(ray.cluster_resources().get("CPU", 1))


def cached(key: Any, factory: Callable[[], Any]) -> Any:
    if key not in _cache:
        _cache[key] = factory()
    return _cache[key]


def pickled(value: Any) -> pa.Table:
    return pa.table({"result": pa.array([pickle.dumps(value, protocol=5)], type=pa.binary())})


def results(ds: Any) -> Iterator[Any]:
    """The pickled values of ``ds``'s ``result`` column, in input order."""
    with surfaced_errors():
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for value in block.column("result").to_pylist():
                yield pickle.loads(value)


def items_of(table: pa.Table) -> list:
    return [pickle.loads(b) for b in table.column("item").to_pylist()]


def _read_shards(table: pa.Table, format: str | None, on_error: str) -> Iterator[pa.Table]:
    from aligntax.io import read_conversations
    from aligntax.record import Conversation
    from aligntax.util import batched

    for shard, name in zip(table.column("shard").to_pylist(), table.column("name").to_pylist()):
        conv_pos = 0
        for chunk in batched(read_conversations([name], format=format, on_error=on_error), READ_CHUNK):
            is_conv = [isinstance(it, Conversation) for it in chunk]
            positions = []
            for flag in is_conv:
                positions.append(conv_pos)
                conv_pos += flag
            yield pa.table({
                "shard": pa.array([shard] * len(chunk), type=pa.int32()),
                "conv_pos": pa.array(positions, type=pa.int64()),  # conversations before it in its shard
                "is_conv": pa.array(is_conv, type=pa.bool_()),
                "item": pa.array([pickle.dumps(it, protocol=5) for it in chunk], type=pa.binary()),
            })


def read_items(inputs: Sequence[str], *, format: str | None = None, on_error: str = "quarantine",
               limit: int | None = None) -> Any:
    """A Ray dataset of every input row (``shard``, ``conv_pos``, ``is_conv``, pickled ``item``)."""
    import ray

    from aligntax.io import expand_paths

    names = [source.name for source in expand_paths(list(inputs))]  # bad paths fail here, before Ray work
    ds = ray.data.from_items([{"shard": i, "name": n} for i, n in enumerate(names)], override_num_blocks=len(names))
    # num_cpus differs from the stages after it so Ray does not fuse them into one task per shard
    ds = ds.map_batches(_read_shards, batch_size=1, batch_format="pyarrow", num_cpus=0.5,
                        fn_kwargs={"format": format, "on_error": on_error})
    return ds.limit(limit) if limit is not None else ds


def map_pickled(ds: Any, fn: Callable[..., Any], batch_size: int, **kwargs: Any) -> Any:
    """Run ``fn(items, **kwargs)`` on every batch of rows; each result comes back pickled."""
    return ds.map_batches(_apply, batch_size=batch_size, batch_format="pyarrow", num_cpus=1,
                          fn_kwargs={"fn": fn, "kwargs": kwargs})


def _apply(table: pa.Table, fn: Callable[..., Any], kwargs: dict[str, Any]) -> pa.Table:
    return pickled(fn(items_of(table), **kwargs))


@contextmanager
def surfaced_errors() -> Iterator[None]:
    """Re-raise aligntax's own errors (bad input, bad policy) from inside Ray tasks as themselves,
    so the CLI exit codes are those of the local engine."""
    try:
        yield
    except Exception as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, AligntaxError):
            raise cause from None
        raise
