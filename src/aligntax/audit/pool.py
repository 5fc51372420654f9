"""An ordered process pool for the audit: one duplex pipe per worker, batches dealt round-robin,
results read back in input order.

``multiprocessing.Pool`` runs three helper threads in the parent (task feeder, result reader,
worker watcher) that fight the main thread for the GIL and copy every batch through a queue; at
audit speed that was ~20 µs of parent CPU per conversation on a 2-core machine, a tenth of the whole
budget. Here the parent thread itself pickles, sends and receives. Deadlock-free by construction:
a batch is only sent to a worker whose previous result has been read, i.e. one that is waiting in
``recv``; the next batch is read and pickled *before* waiting, so the worker's idle gap is one send.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import signal
import traceback
from collections import deque
from typing import Any, Callable, Iterable, Iterator, Sequence

_STOP = b""  # the message that ends a worker
_END = object()  # end of the input iterator


class WorkerError(RuntimeError):
    """A worker raised an exception that could not be pickled back; carries its traceback text."""


def _serve(conn, initializer: Callable[..., None], initargs: Sequence[Any], fn: Callable[[Any], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us via the pipe
    initializer(*initargs)
    while True:
        try:
            msg = conn.recv_bytes()
        except EOFError:  # parent went away
            return
        if msg == _STOP:
            return
        try:
            reply = pickle.dumps((True, fn(pickle.loads(msg))), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which raises it
            try:
                reply = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
                pickle.loads(reply)
            except Exception:
                reply = pickle.dumps((False, WorkerError(traceback.format_exc())), protocol=pickle.HIGHEST_PROTOCOL)
        conn.send_bytes(reply)


class OrderedPool:
    """``for item, result in pool.imap(items, prepare): ...`` with ``result = fn(prepare(item))``
    computed in a worker; ``prepare`` runs in the parent (e.g. packing) before the item is pickled."""

    def __init__(self, jobs: int, fn: Callable[[Any], Any], initializer: Callable[..., None],
                 initargs: Sequence[Any] = (), context: Any = None) -> None:
        ctx = context or mp.get_context()
        self._conns, self._procs = [], []
        self._abandoned = False
        try:
            for _ in range(jobs):
                parent, child = ctx.Pipe(duplex=True)
                proc = ctx.Process(target=_serve, args=(child, initializer, tuple(initargs), fn), daemon=True)
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise

    def _send(self, worker: int, payload: Any) -> None:
        self._conns[worker].send_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))

    def _receive(self, worker: int) -> Any:
        try:
            ok, value = pickle.loads(self._conns[worker].recv_bytes())
        except EOFError:
            code = self._procs[worker].exitcode
            raise RuntimeError(f"audit worker {worker} exited unexpectedly (exit code {code}); "
                               "out of memory, or killed?") from None
        if not ok:
            raise value
        return value

    def imap(self, items: Iterable[Any], prepare: Callable[[Any], Any] = lambda x: x) -> Iterator[tuple[Any, Any]]:
        source = iter(items)
        in_flight: deque[tuple[int, Any]] = deque()
        try:
            for worker in range(len(self._conns)):
                item = next(source, _END)
                if item is _END:
                    break
                self._send(worker, prepare(item))
                in_flight.append((worker, item))
            while in_flight:
                worker, item = in_flight[0]
                following = next(source, _END)
                payload = prepare(following) if following is not _END else None
                result = self._receive(worker)
                in_flight.popleft()
                if following is not _END:
                    self._send(worker, payload)
                    in_flight.append((worker, following))
                yield item, result
        finally:
            self._abandoned = bool(in_flight)  # stopped early: workers still busy are terminated, not waited for

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send_bytes(_STOP)
            except (OSError, ValueError):
                pass
        for proc in self._procs:
            if self._abandoned:
                proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()

    def __enter__(self) -> "OrderedPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
