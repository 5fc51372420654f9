"""The audit's ordered process pool: input order, errors raised in the parent with their type,
early stops and dead workers that do not hang."""

from __future__ import annotations

import os
import time

import pytest

from aligntax.audit.pool import OrderedPool, WorkerError

_state: dict = {}


def _init(offset: int) -> None:
    _state["offset"] = offset


def _work(batch: list[int]) -> list[int]:
    if -1 in batch:
        raise ValueError(f"bad batch {batch}")
    if -2 in batch:
        os._exit(3)  # a worker that dies (out of memory, killed)
    if -3 in batch:
        raise _Unpicklable()
    time.sleep(0.001 * (batch[0] % 3))  # workers finish out of order
    return [x + _state["offset"] for x in batch]


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("cannot pickle")


def test_results_come_back_in_input_order():
    batches = [[i, i + 1] for i in range(0, 60, 2)]
    with OrderedPool(3, _work, _init, (100,)) as pool:
        out = list(pool.imap(batches, prepare=list))
    assert [item for item, _ in out] == batches
    assert [r for _, r in out] == [[x + 100 for x in b] for b in batches]


def test_worker_exception_is_raised_in_the_parent_with_its_type():
    with OrderedPool(2, _work, _init, (0,)) as pool:
        with pytest.raises(ValueError, match=r"bad batch \[-1\]"):
            list(pool.imap([[1], [2], [-1], [3], [4]]))


def test_unpicklable_exception_arrives_as_its_traceback():
    with OrderedPool(2, _work, _init, (0,)) as pool:
        with pytest.raises(WorkerError, match="_Unpicklable"):
            list(pool.imap([[1], [-3]]))


def test_dead_worker_is_an_error_not_a_hang():
    started = time.perf_counter()
    with OrderedPool(2, _work, _init, (0,)) as pool:
        with pytest.raises(RuntimeError, match="exited unexpectedly"):
            list(pool.imap([[1], [-2], [3]]))
    assert time.perf_counter() - started < 10


def test_stopping_early_terminates_busy_workers():
    pool = OrderedPool(2, _work, _init, (0,))
    results = pool.imap([[i] for i in range(100)])
    assert next(results) == ([0], [0])
    results.close()
    started = time.perf_counter()
    pool.close()
    assert time.perf_counter() - started < 5
    assert all(not p.is_alive() for p in pool._procs)
