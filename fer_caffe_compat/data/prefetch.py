"""Caffe's prefetch thread (BasePrefetchingDataLayer): a data layer's batches are read ``depth`` ahead.

``produce()`` runs on a daemon thread and owns the reader's state (cursor, generator) while it runs. Each
batch travels with the state the reader had before producing it, so ``rewind()`` puts the reader back
where the consumer is: a cursor moved from outside (Solver.skip_data_to_iteration, sharding over ranks)
then sees the records and draws a layer without the thread would have seen. A failure travels in order
too: the batch that fails raises in the forward that asks for it, and the reader is left before it.
``depth`` 0 produces in the caller's thread.
"""
from __future__ import annotations

import atexit
import queue
import threading
import weakref
from typing import Any, Callable

_POLL_S = 0.1
_live: "weakref.WeakSet[Prefetcher]" = weakref.WeakSet()


class Prefetcher:
    def __init__(self, produce: Callable[[], Any], save: Callable[[], Any], restore: Callable[[Any], None],
                 depth: int, name: str = "prefetch"):
        self.produce, self.save, self.restore = produce, save, restore
        self.depth, self.name = int(depth), name
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue | None = None
        self._stop = threading.Event()
        self._inflight: list = []  # the state before the batch being produced, while there is one
        _live.add(self)

    def next(self) -> Any:
        """The next batch (in the caller's thread when depth is 0)."""
        if self.depth <= 0:
            state = self.save()
            try:
                return self.produce()
            except BaseException:
                self.restore(state)
                raise
        if self._thread is None:
            self._start()
        while True:
            try:
                ok, value, state = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():  # pragma: no cover - defensive
                    self._thread = None
                    return self.next()
        if not ok:
            self._thread.join()
            self._thread = None
            self._inflight = []
            self.restore(state)
            raise value
        return value

    def rewind(self) -> None:
        """Stop the thread and put the reader back before the first batch not yet consumed."""
        if self._thread is None:
            return
        self._stop.set()
        first = None
        while self._thread.is_alive() or not self._queue.empty():
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if first is None:
                first = item[2]
        self._thread.join()
        if first is None and self._inflight:
            first = self._inflight[0]
        if first is not None:
            self.restore(first)
        self._thread, self._inflight = None, []

    def close(self, wait_s: float = 1.0) -> None:
        """Stop the thread (the layer is gone): it ends after the batch it may be reading, which this waits
        for, up to ``wait_s``, so the source is closed when the caller goes on."""
        self._stop.set()
        q, t = self._queue, self._thread
        while q is not None:
            try:
                q.get_nowait()
            except queue.Empty:
                break
        if t is not None and t is not threading.current_thread():
            t.join(wait_s)

    def _start(self) -> None:
        self._stop = threading.Event()
        self._queue = queue.Queue(maxsize=self.depth)
        self._thread = threading.Thread(target=_run, args=(self, self._queue, self._stop),
                                        name=self.name, daemon=True)
        self._thread.start()


def _run(p: Prefetcher, q: queue.Queue, stop: threading.Event) -> None:
    while not stop.is_set():
        state = p.save()
        p._inflight = [state]
        try:
            item = (True, p.produce(), state)
        except BaseException as e:  # delivered to the consumer, in order
            item = (False, e, state)
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                break
            except queue.Full:
                continue
        else:
            return  # stopped: the batch is dropped, _inflight keeps the state before it
        p._inflight = []
        if not item[0]:
            return


@atexit.register
def _close_all() -> None:
    for p in list(_live):
        p.close()
