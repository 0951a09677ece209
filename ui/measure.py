"""Running a measurement from a page: one at a time per app process, with live progress.

Two runs at once on a 2-core machine would corrupt both measurements (and could exhaust a Community
Cloud container), so a second session's run waits for the first and says so. The engine runs in a
worker thread; the script thread (the only one allowed to call ``st.*``) shows each finished call.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from agent_core import RunReport, TaskRecord
from agent_core.scaling import Progress

T = TypeVar("T")
WAIT_LIMIT_S = 600.0          # the longest a bounded run can take, with margin
PROGRESS_EVERY_S = 0.1
_MEASURING = threading.Lock()


class Busy(RuntimeError):
    """Another session kept the machine busy for longer than a run can last."""


def busy() -> bool:
    return _MEASURING.locked()


def measure(label: str, total_calls: int, job: Callable[[Callable[[object], None]], T]) -> T:
    """Run ``job(report_event)`` in a worker thread and show its progress; return what it returns.

    ``job`` passes each finished :class:`TaskRecord` (and, for comparisons, each :class:`RunReport`; for
    sweeps, each :class:`~agent_core.scaling.Progress`) to ``report_event``. The lock is released by the
    worker when the engine is done, even if the page that started it has gone away.
    """
    if not _MEASURING.acquire(blocking=False):
        with st.status("Another session is measuring right now: waiting for it to finish, so that the two "
                       "runs do not distort each other…", state="running") as waiting:
            if not _MEASURING.acquire(timeout=WAIT_LIMIT_S):
                raise Busy("the machine stayed busy with another session's run; try again in a minute")
            waiting.update(label="The other session's run finished: measuring yours now.", state="complete")
    events: queue.SimpleQueue = queue.SimpleQueue()
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = job(events.put)
        except BaseException as exc:  # noqa: BLE001 - shown on the page by the script thread
            box["error"] = exc
        finally:
            _MEASURING.release()
            events.put(None)

    # sequential mode runs its calls in this thread: its lane in the timeline is called "caller"
    worker = threading.Thread(target=work, name="caller", daemon=True)
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text=f"0/{total_calls} calls")
        try:
            worker.start()
        except BaseException:
            _MEASURING.release()
            raise
        done, drawn = 0, 0.0
        while (event := events.get()) is not None:
            if isinstance(event, TaskRecord):
                done += 1
                # at most ~10 redraws a second: this thread needs the GIL too, and the run is being measured
                if time.monotonic() - drawn >= PROGRESS_EVERY_S or done == total_calls:
                    drawn = time.monotonic()
                    bar.progress(min(1.0, done / max(1, total_calls)),
                                 text=f"{done}/{total_calls} calls · {event.id} {event.status} in "
                                      f"{1000 * event.duration_s:.0f} ms on {event.worker}")
            elif isinstance(event, RunReport):
                status.update(label=f"{label} · {event.mode} done in {event.wall_s:.2f} s")
            elif isinstance(event, Progress):              # a sweep's points
                bar.progress(min(1.0, event.done / max(1, event.total)),
                             text=f"{event.done}/{event.total} · {event.text}")
        worker.join()
        if "error" in box:
            status.update(label=f"{label} · failed", state="error")
            raise box["error"]
        status.update(label=f"{label} · {done} calls measured", state="complete", expanded=False)
    return box["result"]
