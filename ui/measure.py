"""Running a measurement from a page: a queue, one job at a time per app process, that no script run can strand.

Two runs at once on a 2-core machine would distort both (and could exhaust a Community Cloud container), so
the app measures one *job* (what one press of Run measures) at a time, in the order visitors asked.

Who does what:

- A job's own worker thread, started the moment the job is queued and before anything is drawn, waits for
  its turn, measures, and hands the machine to the next job in its ``finally``. Nothing a script run does
  can leave the machine taken: Streamlit may stop a script run at any ``st.*`` call (the visitor changed a
  widget, reran, left), and the job does not care.
- A script run only *looks* at its session's job for its page (progress the job buffered, its place in
  the queue, its result) and draws it. Jobs are kept in a process-wide registry keyed by the session and the
  page, so the next script run of the page finds the same job again: a widget change during a run, or while
  waiting, never starts a second one.
- A waiting job whose session has ended (the tab was closed: ``Runtime.is_active_session`` has been false
  for :data:`GONE_GRACE_S`) is dropped and never runs; a running one whose session has ended is stopped
  between its runs. A job that has overrun its estimate while others wait is stopped between its runs too.
- Before a job is queued its length is estimated (:mod:`agent_core.budget`): over the page-job limit it is
  refused, with what to lower; a visitor who would wait behind more than ``MAX_WAIT_S`` of estimated work is
  told to come back. Waiting visitors see their place and when theirs should start, from those estimates.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

import agent_core
from agent_core import BadInput, RunReport, TaskRecord
from agent_core.budget import JOB_LIMIT_S, MAX_WAIT_S
from agent_core.scaling import Progress

T = TypeVar("T")
Emit = Callable[[object], None]
JobFn = Callable[[Emit], object]

PROGRESS_EVERY_S = 0.1      # a script run redraws a job at most this often (it needs the GIL too)
POLL_S = 0.2                # a waiting job looks at its turn and its session at least this often
GONE_GRACE_S = 2.0          # a session inactive this long has ended (a reconnecting tab comes back sooner)
KEEP_UNSHOWN_S = 3600.0     # a finished job nobody came back for is forgotten after this


class QueueFull(RuntimeError):
    """The jobs ahead are estimated longer than a visitor may be asked to wait."""


class JobStopped(RuntimeError):
    """A job stopped between its runs: its session ended, or it overran its estimate while others waited."""


@dataclass(eq=False)
class Job:
    """One page job: what it runs, where it stands, what it has measured so far (the worker writes, script
    runs read, both under ``lock``)."""

    key: tuple[str, str]
    session_id: str | None
    label: str
    total: int
    estimate_s: float
    fn: JobFn
    result_key: str | None = None
    state: str = "waiting"          # waiting → running → done | failed; or waiting → dropped
    result: object = None
    error: BaseException | None = None
    why_dropped: str = ""
    enqueued: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    cancelled: bool = False
    gone_since: float | None = None
    done: int = 0                   # calls measured so far
    text: str = ""                  # the latest progress line
    fraction: float | None = None   # a sweep's progress (it reports points, not calls)
    runs: list[str] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class View:
    """A job as a script run draws it."""

    state: str
    place: int              # 1: next to measure; 0: measuring or over
    ahead_s: float          # the estimated time left of the jobs ahead of it
    elapsed_s: float        # waiting or measuring, so far
    done: int
    text: str
    fraction: float | None
    last_run: str


def session_alive(session_id: str) -> bool:
    """True while the Streamlit session is connected (always, with no Streamlit server: AppTest, scripts)."""
    if not runtime.exists():
        return True
    return runtime.get_instance().is_active_session(session_id)


class MeasureQueue:
    """Jobs measured one at a time, first come first served; thread-safe. ``alive(session_id)`` says whether
    the session that asked for a job is still there."""

    def __init__(self, alive: Callable[[str], bool] = session_alive, grace_s: float = GONE_GRACE_S,
                 max_wait_s: float = MAX_WAIT_S) -> None:
        self._alive, self._grace_s, self._max_wait_s = alive, grace_s, max_wait_s
        self._cond = threading.Condition()
        self._line: list[Job] = []              # waiting, in order
        self._running: Job | None = None
        self._jobs: dict[tuple[str, str], Job] = {}   # by key: waiting, running, or over and not yet shown
        self.measured = 0                       # jobs that started measuring since the process started

    # -- asking -------------------------------------------------------------------------------------------
    def submit(self, key: tuple[str, str], session_id: str | None, label: str, total: int, estimate_s: float,
               fn: JobFn, result_key: str | None = None) -> Job:
        """Queue a job and start its worker; if the key already has a job waiting or running, return that one
        (never a second). Raises QueueFull when the jobs ahead are estimated longer than ``max_wait_s``."""
        with self._cond:
            self._prune()
            job = self._jobs.get(key)
            if job is not None and not job.finished.is_set():
                return job
            ahead = self._time_ahead(len(self._line))
            if ahead > self._max_wait_s:
                raise QueueFull(f"the measurements queued ahead of yours are estimated at {ahead:.0f} s, over the "
                                f"{self._max_wait_s:.0f} s a visitor may be asked to wait: try again in about "
                                f"{max(1.0, ahead - self._max_wait_s):.0f} s")
            job = Job(key, session_id, label, total, estimate_s, fn, result_key)
            self._jobs[key] = job
            self._line.append(job)
        # sequential mode runs its calls in this thread: its lane in the timeline is called "caller"
        worker = threading.Thread(target=self._work, args=(job,), name="caller", daemon=True)
        try:
            worker.start()
        except BaseException:
            with self._cond:
                self._line.remove(job)
                self._jobs.pop(key, None)
                self._cond.notify_all()
            raise
        return job

    def cancel(self, key: tuple[str, str]) -> None:
        """Give up a waiting job's place (a running job measures on: the engine cannot stop a run midway)."""
        with self._cond:
            if (job := self._jobs.get(key)) is not None and job.state == "waiting":
                job.cancelled = True
                self._cond.notify_all()

    # -- looking ------------------------------------------------------------------------------------------
    def get(self, key: tuple[str, str]) -> Job | None:
        with self._cond:
            return self._jobs.get(key)

    def active(self, key: tuple[str, str]) -> Job | None:
        """The key's job if it is waiting or measuring."""
        job = self.get(key)
        return job if job is not None and not job.finished.is_set() else None

    def forget(self, job: Job) -> None:
        """The job's outcome has been shown: drop it from the registry."""
        with self._cond:
            if self._jobs.get(job.key) is job and job.finished.is_set():
                del self._jobs[job.key]

    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._line)

    def status(self) -> tuple[int, int, int]:
        """(jobs measuring, jobs waiting, jobs measured since the process started)."""
        with self._cond:
            return int(self._running is not None), len(self._line), self.measured

    def view(self, job: Job) -> View:
        with self._cond:
            place = self._line.index(job) + 1 if job in self._line else 0
            ahead = self._time_ahead(place - 1) if place else 0.0
        with job.lock:
            since = job.started if job.started is not None else job.enqueued
            return View(job.state, place, ahead, (job.ended or time.monotonic()) - since, job.done, job.text,
                        job.fraction, job.runs[-1] if job.runs else "")

    # -- the worker ---------------------------------------------------------------------------------------
    def _time_ahead(self, n_waiting: int) -> float:
        """Estimated seconds until the job after the first ``n_waiting`` waiting ones starts (lock held)."""
        left = 0.0
        if (running := self._running) is not None and running.started is not None:
            left = max(0.0, running.estimate_s - (time.monotonic() - running.started))
        return left + sum(j.estimate_s for j in self._line[:n_waiting])

    def _gone(self, job: Job) -> bool:
        """The job's session has been inactive for the grace period (lock held)."""
        if job.session_id is None or self._alive(job.session_id):
            job.gone_since = None
            return False
        job.gone_since = job.gone_since or time.monotonic()
        return time.monotonic() - job.gone_since >= self._grace_s

    def _work(self, job: Job) -> None:
        with self._cond:
            while True:
                if job.cancelled or self._gone(job):
                    job.why_dropped = ("you left the queue" if job.cancelled else "the page that asked for it closed")
                    self._line.remove(job)
                    job.state, job.ended = "dropped", time.monotonic()
                    self._cond.notify_all()
                    job.finished.set()
                    return
                if self._running is None and self._line[0] is job:
                    break
                self._cond.wait(POLL_S)
            self._line.pop(0)
            self._running = job
            self.measured += 1
            with job.lock:
                job.state, job.started = "running", time.monotonic()
        try:
            result = job.fn(lambda event: self._emit(job, event))
            with job.lock:
                job.result, job.state = result, "done"
        except BaseException as exc:  # noqa: BLE001 - shown on the page by a script run
            with job.lock:
                job.error, job.state = exc, "failed"
        finally:
            with self._cond:
                self._running = None
                job.ended = time.monotonic()
                job.finished.set()      # inside the lock: a submit for this page never sees it as still active
                self._cond.notify_all()

    def _emit(self, job: Job, event: object) -> None:
        """Progress from the engine, from whichever thread produced it: buffered for script runs to draw. Between
        runs (a report or a sweep's point, handed over in the job's own thread) the job may be stopped."""
        with job.lock:
            if isinstance(event, TaskRecord):
                job.done += 1
                job.text = (f"{event.id} {event.status} in {1000 * event.duration_s:.0f} ms on {event.worker}")
            elif isinstance(event, RunReport):
                job.runs.append(f"{event.mode} done in {event.wall_s:.2f} s")
            elif isinstance(event, Progress):
                job.fraction, job.text = event.done / max(1, event.total), f"{event.done}/{event.total} · {event.text}"
        if isinstance(event, (RunReport, Progress)):
            self._maybe_stop(job)

    def _maybe_stop(self, job: Job) -> None:
        with self._cond:
            gone = self._gone(job)
            overran = bool(self._line) and time.monotonic() - job.started > job.estimate_s
        if gone:
            raise JobStopped("stopped between its runs: the page that asked for it closed")
        if overran:
            done = f"after {len(job.runs)} of its runs" if job.runs else "part way"
            raise JobStopped(f"stopped {done}: it took longer than its estimate of {job.estimate_s:.0f} s while "
                             "other visitors were waiting; try a smaller workload")

    def _prune(self) -> None:
        """Forget finished jobs nobody will come back for (lock held)."""
        now = time.monotonic()
        for key, job in list(self._jobs.items()):
            if job.finished.is_set() and (now - (job.ended or now) > KEEP_UNSHOWN_S
                                          or (job.session_id is not None and not self._alive(job.session_id))):
                del self._jobs[key]


QUEUE = MeasureQueue()      # one per app process: module state, shared by every session


def busy() -> bool:
    return QUEUE.busy()


# -- drawing a job (script thread only) -------------------------------------------------------------------------

def _follow(job: Job, leave_key: str | None = None) -> None:
    """Draw the job until it is over: its place and expected start while it waits, its progress while it
    measures. Streamlit may stop this at any ``st.*`` call (each pass makes one: the line with the time
    so far); the job goes on, and the next script run of the page draws it again."""
    with st.status(job.label, expanded=True, state="running") as box:
        note, bar, leave = st.empty(), st.empty(), st.empty()
        if leave_key is not None and job.state == "waiting":
            leave.button("Leave the queue", key=leave_key, on_click=QUEUE.cancel, args=(job.key,))
        label, progress = job.label, None
        while True:
            over = job.finished.wait(PROGRESS_EVERY_S)
            v = QUEUE.view(job)
            if v.state == "waiting":
                now = f"Waiting for the machine: you are number {v.place} in the queue · {job.label}"
                note.caption(f"Another session is measuring right now, and two runs at once would distort each "
                             f"other. Yours should start within about {v.ahead_s:.0f} s (the estimates of the "
                             f"{'job' if v.place == 1 else 'jobs'} ahead) · waiting {v.elapsed_s:.1f} s so far")
            elif v.state == "running":
                leave.empty()
                now = f"{job.label} · {v.last_run}" if v.last_run else job.label
                note.caption(f"Measuring for {v.elapsed_s:.1f} s · estimated at up to {job.estimate_s:.0f} s")
                share = v.fraction if v.fraction is not None else min(1.0, v.done / max(1, job.total))
                counted = "" if v.fraction is not None else f"{v.done}/{job.total} calls"
                drawn = (share, f"{counted} · {v.text}" if counted and v.text else counted or v.text or "starting")
                if drawn != progress:
                    bar.progress(*drawn)
                    progress = drawn
            if over:
                break
            if now != label:                # a new label is a new element to the browser: keep it open
                box.update(label=now, expanded=True)
                label = now
        leave.empty()
        note.empty()
        if v.state == "done":
            box.update(label=f"{job.label} · {v.done} calls measured in {v.elapsed_s:.1f} s", state="complete",
                       expanded=False)
        elif v.state == "dropped":
            box.update(label=f"{job.label} · not measured: {job.why_dropped}", state="error", expanded=False)
        else:
            box.update(label=f"{job.label} · failed", state="error", expanded=False)


def _message(job: Job) -> str | None:
    """What a visitor reads about a job that did not give a result: one line, never a traceback."""
    if job.state == "dropped":
        return f"Not measured: {job.why_dropped}."
    if job.state != "failed":
        return None
    exc = job.error
    if isinstance(exc, (BadInput, JobStopped)):
        return f"The run {exc}" if isinstance(exc, JobStopped) else str(exc)
    return f"The run failed: {type(exc).__name__}: {exc}"


def measure(label: str, total_calls: int, job: Callable[[Emit], T], estimate_s: float = JOB_LIMIT_S) -> T:
    """Queue ``job(report_event)``, show its progress, and return what it returns (or raise what it raised).

    ``job`` passes each finished :class:`TaskRecord` (and, for comparisons, each :class:`RunReport`; for
    sweeps, each :class:`~agent_core.scaling.Progress`) to ``report_event``. Its own worker thread takes the
    machine and gives it back, even if the caller goes away."""
    ctx = get_script_run_ctx()
    key = (uuid.uuid4().hex, "measure")
    queued = QUEUE.submit(key, ctx.session_id if ctx else None, label, total_calls, estimate_s, job)
    try:
        _follow(queued)
        queued.finished.wait()
    finally:
        QUEUE.forget(queued)
    if queued.state == "failed":
        raise queued.error
    if queued.state == "dropped":
        raise JobStopped(f"not measured: {queued.why_dropped}")
    return queued.result


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


def _key(prefix: str) -> tuple[str | None, tuple[str, str]]:
    """(the Streamlit session id, the registry key of this session's job on this page)."""
    ctx = get_script_run_ctx()
    token = st.session_state.setdefault("measure.session", uuid.uuid4().hex)
    return (ctx.session_id if ctx else None), (token, prefix)


def run_button(prefix: str, label: str, job: str = "run", key: str | None = None, primary: bool = True) -> str | None:
    """A page's Run button, disabled while this session's job for the page waits or measures. Returns the
    ``job`` a click asked for (kept until :func:`measure_into` has queued it), or None."""
    state = st.session_state
    _, registry_key = _key(prefix)
    asked = state.get(f"{prefix}.start") is not None          # this script run is about to queue a job
    st.button(label, type="primary" if primary else "secondary", key=key or f"{prefix}.run",
              disabled=asked or QUEUE.active(registry_key) is not None,
              on_click=lambda: state.update({f"{prefix}.start": job, f"{prefix}.error": None}))
    return state.get(f"{prefix}.start")


Plan = Callable[[], tuple[str, int, JobFn, float]]


def measure_into(prefix: str, result_key: str, plan: Plan, start: str | None = None) -> bool:
    """Call on every script run of a page that measures. With ``start`` (what :func:`run_button` returned),
    build the job with ``plan()`` (a label, the calls to expect, the job and its estimated seconds; bad
    values or a job over the budget raise BadInput) and queue it. Then, if this session has a job for the
    page, draw it until it is over and keep its result in ``result_key`` (as given when it was queued), or
    a line a user can act on in ``{prefix}.error``: never a traceback. True when a job's outcome (or why it
    could not be queued) has just been stored: the page may draw it, then ``st.rerun()`` to enable Run again."""
    state = st.session_state
    session_id, key = _key(prefix)
    warm = _warming()
    if start is not None:
        if QUEUE.active(key) is None:
            try:
                label, total, fn, estimate_s = plan()

                def job(emit: Emit, fn: JobFn = fn) -> object:
                    warm.join(60)           # a run needs the backend; the engine starts what is still missing
                    return fn(emit)

                QUEUE.submit(key, session_id, label, total, estimate_s, job, result_key)
            except (BadInput, QueueFull) as exc:
                state[f"{prefix}.error"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - shown, one line, instead of a traceback
                state[f"{prefix}.error"] = f"The run could not start: {type(exc).__name__}: {exc}"
        state.pop(f"{prefix}.start", None)
        if state.get(f"{prefix}.error"):
            return True                     # refused: the page reruns, to show why and enable Run again
    measuring, waiting, measured = QUEUE.status()
    st.sidebar.caption(f"Measurement queue: {measuring} measuring, {waiting} waiting · {measured} measured since "
                       "the app started")
    job = QUEUE.get(key)
    if job is None:
        return False
    _follow(job, leave_key=f"{prefix}.leave")
    if job.state == "done" and job.result_key is not None:
        state[job.result_key] = job.result
    elif (message := _message(job)) is not None:
        state[f"{prefix}.error"] = message
    QUEUE.forget(job)
    return True


def show_error(prefix: str) -> None:
    if message := st.session_state.get(f"{prefix}.error"):
        st.error(message)
