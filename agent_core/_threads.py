"""A thread pool whose threads are daemons, started up front.

``ThreadPoolExecutor`` joins its threads at interpreter exit, so one call stuck in a blocking library
would hold the whole process hostage. Python cannot kill a thread; what a runner *can* do is stop
waiting for it (the record says ``timeout``) and let it end by itself. With daemon threads, such an
abandoned call never blocks exit. Threads are started at construction so the run's clock never
includes thread start-up.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Executor, Future


class DaemonThreadPool(Executor):
    def __init__(self, workers: int, name_prefix: str = "thread") -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name_prefix}-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()
        self.workers = workers

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Threads finish what they are running, then exit. ``wait`` joins them (never for abandoned calls)."""
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                t.join()
