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

import agent_core
from agent_core import BadInput, RunReport, TaskRecord
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


# -- what every page does around a measurement -------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _warming() -> threading.Thread:
    """Once per app process, in the background: start the backend, warm the HTTP stack and the process
    pool, so a visitor's first Run measures the workload, not start-up. The engine stops them at exit."""
    thread = threading.Thread(target=agent_core.warm_up, name="engine-warm-up", daemon=True)
    thread.start()
    return thread


def engine_warming() -> None:
    """Start the warm-up early (call it as a page loads); cheap after the first call."""
    _warming()


def run_button(prefix: str, label: str, job: str = "run", key: str | None = None, primary: bool = True) -> str | None:
    """A page's Run button, disabled while any of the page's runs is going (a click during a run would start
    a second script thread). Returns the ``job`` this script run must measure now, or None."""
    state = st.session_state
    state.setdefault(f"{prefix}.running", None)
    st.button(label, type="primary" if primary else "secondary", key=key or f"{prefix}.run",
              disabled=state[f"{prefix}.running"] is not None,
              on_click=lambda: state.update({f"{prefix}.running": job, f"{prefix}.error": None}))
    return state[f"{prefix}.running"]


Job = Callable[[Callable[[object], None]], object]


def measure_into(prefix: str, result_key: str, plan: Callable[[], tuple[str, int, Job]]) -> None:
    """Build the run with ``plan()`` (a label, the calls to expect and the job; bad values raise BadInput),
    measure it with progress, and keep the result in ``result_key``, or the error a user can fix in
    ``{prefix}.error``: never a traceback on the page."""
    state = st.session_state
    try:
        label, total, job = plan()
        _warming().join(60)                 # a run needs the backend; the engine starts what is still missing
        state[result_key] = measure(label, total, job)
    except (BadInput, Busy) as exc:
        state[f"{prefix}.error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - shown, one line, instead of a traceback
        state[f"{prefix}.error"] = f"The run failed: {type(exc).__name__}: {exc}"
    finally:
        state[f"{prefix}.running"] = None


def show_error(prefix: str) -> None:
    if message := st.session_state.get(f"{prefix}.error"):
        st.error(message)
