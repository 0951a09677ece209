"""The runner: prepares a run, owns its clock, stamps every call, enforces timeouts, builds the report.

Strategies (:mod:`agent_core.modes`) decide where calls go, through the ``call_*`` building blocks of
:class:`Run`; every building block stamps start and end with the same clock (``time.perf_counter``
unless a test injects one), so every mode is measured the same way. Work that is not the workload
(starting the backend, warming pools, building HTTP clients, creating the database) happens before
the clock starts and is reported as ``setup_s``.

What a timeout does depends on where the call runs, and the record says which it was:

- on the event loop, an awaited call is cancelled by ``asyncio.timeout``; a blocking call on the loop
  cannot be, so it is found late, when it returns;
- in a thread, the call cannot be killed: the runner stops waiting (``timeout``), and the thread is
  *abandoned*, still running until it ends by itself (threads are daemons: they never block exit);
- in a pool worker, the worker's own alarm interrupts it; a pool that broke is replaced after the run;
- in a child process, the whole process group is killed.

A whole run never lasts more than ``MAX_RUN_S``: calls still pending then are cancelled. A crash or
memory fault in a call that would run in *this* process is hosted in a sacrificial child
(:mod:`agent_core.host`), so the loss is real and measured while the caller lives on.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures.process import BrokenProcessPool

from ._execute import Outcome, classify
from ._pool import discard_pool, warm_pool
from ._threads import DaemonThreadPool
from .calls import call_async, call_blocking, pool_task
from .catalog import CATALOG
from .heartbeat import Heartbeat
from .machine import default_processes
from .modes import MODES, Plan, get_mode
from .records import RunReport, TaskRecord
from .tools import ToolContext, llm_target
from .workload import MAX_RUN_S, Call, Options, Workload

Clock = Callable[[], float]
OnRecord = Callable[[TaskRecord], None]
_POLL_S = 0.05          # how often a loop-side watchdog looks at a thread's call

# calls abandoned in their threads, across runs: (run label, call id) -> when they were abandoned
_ABANDONED: dict[tuple[int, str], float] = {}
_ABANDONED_LOCK = threading.Lock()


def abandoned_calls() -> list[str]:
    """Calls whose threads were abandoned at their timeout and are still running (in this process)."""
    with _ABANDONED_LOCK:
        return [call_id for _, call_id in _ABANDONED]


class Run:
    """One run in progress: its calls, its clock, its records and the resources prepared for it.

    ``on_record`` is called once per finished call, from whichever thread finished it: keep it quick
    and thread-safe (put the record on a queue).
    """

    def __init__(self, workload: Workload, mode: str, options: Options, plan: Plan, clock: Clock,
                 on_record: OnRecord | None) -> None:
        self.workload, self.mode, self.options, self.plan = workload, mode, options, plan
        self.calls: list[Call] = workload.calls()
        self.workers = plan.workers
        self.clock = clock
        self.t0 = clock()
        self.started_at = 0.0
        self.setup_s = 0.0
        self.threads: DaemonThreadPool | None = None
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.pool_replaced = False
        self.http = None                                  # AsyncClients, in loop modes with io calls
        self.sync_http = None                             # httpx.Client for in-process blocking calls
        self.children: asyncio.Semaphore | None = None    # caps concurrent call children (loop modes)
        self.on_start: Callable[[Call, float], None] | None = None     # hooks for a sacrificial host
        self.on_clock: Callable[[], None] | None = None
        self._ctx: dict = {}
        self._tmp: str | None = None
        n = len(self.calls)
        self._records: list[TaskRecord | None] = [None] * n
        self._started: list[float | None] = [None] * n
        self._lanes: list[str] = [""] * n
        self._abandoned: set[int] = set()
        self._pool_futures: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._on_record = on_record
        self._cancel = threading.Event()
        self._cancel_reason = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[int, asyncio.Task] = {}
        self._released = False

    # -- preparation (before the clock) --------------------------------------------------------------------
    def prepare(self) -> None:
        t = self.clock()
        ctx = {"seed": self.options.seed, "timeout_s": self.options.timeout_s}
        if self.workload.network:
            from .backend import ensure_backend
            from .tools import http_tools
            backend = ensure_backend()
            llm_url, llm_model, llm_key = llm_target(backend.url)
            ctx.update(base_url=backend.url, llm_base_url=llm_url, llm_model=llm_model, llm_api_key=llm_key)
            http_tools.warm_up(backend.url)
            self.sync_http = http_tools.new_sync_client()
        if "memory_write" in self.workload.counts:
            from .tools.memory import prepare_db
            self._tmp = tempfile.mkdtemp(prefix="agent-core-run-")
            ctx["db_path"] = os.path.join(self._tmp, "memory.db")
            prepare_db(ctx["db_path"])
        self._ctx = ctx
        if self.plan.threads:
            self.threads = DaemonThreadPool(self.plan.threads, "thread")
        if self.plan.processes:
            self.pool = warm_pool(self.plan.processes)
        # Everything alive now (the host's modules, Streamlit's and pandas' heaps) is kept out of the cyclic
        # collector's scans until the run ends: a full collection over a big app heap stops the world for
        # 10-25 ms. The run's own garbage is still collected as usual. Undone in cleanup().
        gc.freeze()
        self.setup_s = self.clock() - t

    def cleanup(self) -> None:
        """Release what the run held. Resources an abandoned thread may still use are released when the
        last one ends; a pool that broke, or that may still run an abandoned task, is replaced."""
        gc.unfreeze()
        if self.threads is not None:
            self.threads.shutdown(wait=False, cancel_futures=True)
        if self.pool is not None and (self.pool_replaced or any(not f.done() for f in self._pool_futures.values())):
            self.pool_replaced = True
            discard_pool(self.pool)
        with self._lock:
            if self._abandoned:
                return
            self._released = True
        self._release()

    def _release(self) -> None:
        if self.sync_http is not None:
            self.sync_http.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- stamping and recording -----------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() - self.t0

    def _fields(self, call: Call) -> dict:
        """The run's context fields this call may see: the LLM's address and key only if its tool calls the LLM."""
        if CATALOG[call.tool].uses_llm:
            return self._ctx
        return {k: v for k, v in self._ctx.items() if not k.startswith("llm_")}

    def ctx(self, call: Call, http=None) -> ToolContext:
        """The call's context; in-process calls get the run's HTTP client (``http`` overrides it)."""
        return ToolContext(call.id, http=http or self.sync_http, fault=call.fault, fault_s=call.fault_s,
                           **self._fields(call))

    def _remote_ctx(self, call: Call) -> ToolContext:
        """For a call that runs in another process: it uses that process's own HTTP client."""
        return ToolContext(call.id, fault=call.fault, fault_s=call.fault_s, **self._fields(call))

    def _begin(self, call: Call, lane: str) -> float:
        start = self.now()
        self._started[call.index], self._lanes[call.index] = start, lane
        if self.on_start is not None:
            self.on_start(call, start)
        return start

    def _record(self, call: Call, start: float, end: float, outcome: Outcome, worker: str) -> TaskRecord | None:
        """Record the call's outcome, unless it was recorded already (a thread that was abandoned, a task
        that was cancelled): the first word on a call is the one that counts."""
        detail = dict(outcome.detail)
        if call.fault:
            detail["fault"] = call.fault
        record = TaskRecord(call.id, call.tool, call.kind, outcome.worker or worker, start, end, outcome.cpu_s,
                            outcome.status, outcome.error, detail)
        with self._lock:
            if self._records[call.index] is not None:
                return None
            self._records[call.index] = record
        if self._on_record is not None:
            self._on_record(record)
        if record.status not in ("ok", "cancelled") and self.options.on_error == "cancel-siblings":
            self.cancel_pending(f"cancelled: {call.id} ended {record.status} and on_error is cancel-siblings")
        return record

    def _record_cancelled(self, call: Call) -> TaskRecord | None:
        t = self.now()
        start = self._started[call.index]
        return self._record(call, t if start is None else start, t,
                            Outcome("cancelled", error=self._cancel_reason or "cancelled"),
                            self._lanes[call.index] or "not started")

    def _overran(self, outcome: Outcome, duration: float, where: str) -> Outcome:
        """A call that could not be interrupted and came back after its timeout: late, so a timeout."""
        if outcome.status == "ok" and duration > self.options.timeout_s:
            return Outcome("timeout", {**outcome.detail, "overran_s": round(duration, 3)},
                           f"came back after {duration:.2f} s, past its {self.options.timeout_s:g} s timeout: "
                           f"nothing could interrupt it {where}", outcome.cpu_s, outcome.worker)
        return outcome

    def _abandon(self, call: Call, cancelled: bool = False) -> TaskRecord | None:
        """Stop waiting for a call stuck in a thread: record it (a timeout, or cancelled); the thread runs on
        by itself until the call returns."""
        i = call.index
        if cancelled:
            outcome = Outcome("cancelled", {"abandoned": True}, f"{self._cancel_reason or 'cancelled'}; a thread "
                              "cannot be stopped, so it is still running")
        else:
            outcome = Outcome("timeout", {"abandoned": True}, f"no answer within {self.options.timeout_s:g} s: "
                              "abandoned; a thread cannot be killed, so it is still running")
        record = self._record(call, self._started[i], self.now(), outcome, self._lanes[i])
        if record is not None:
            with self._lock:
                self._abandoned.add(i)
            with _ABANDONED_LOCK:
                _ABANDONED[(id(self), call.id)] = time.monotonic()
        return record

    def _abandoned_returned(self, call: Call) -> None:
        """An abandoned call's thread finally came back; the last one releases the run's resources."""
        with self._lock:
            if call.index not in self._abandoned:
                return
            self._abandoned.discard(call.index)
            release = not self._abandoned and not self._released
            self._released = self._released or release
        with _ABANDONED_LOCK:
            _ABANDONED.pop((id(self), call.id), None)
        if release:
            self._release()

    # -- cancellation -------------------------------------------------------------------------------------
    def cancel_pending(self, reason: str) -> None:
        """Cancel every call that has not finished: tasks on the loop now, queued work as it is reached.
        Running threads and pool tasks cannot be cancelled; their records will say how they ended."""
        with self._lock:
            if self._cancel.is_set():
                return
            self._cancel_reason = reason
            self._cancel.set()
        if self._loop is not None:
            for i, task in list(self._tasks.items()):
                if self._records[i] is None:
                    self._loop.call_soon_threadsafe(task.cancel)

    def cancelled(self) -> bool:
        if not self._cancel.is_set() and self.now() >= MAX_RUN_S:
            self.cancel_pending(f"cancelled: the run reached its {MAX_RUN_S:g} s bound")
        return self._cancel.is_set()

    # -- building blocks: in this thread, or on threads ------------------------------------------------------
    def call_here(self, call: Call) -> TaskRecord | None:
        """Run the call in this thread. Nothing can interrupt it: if it overruns its timeout, it is found
        when it returns (or, on a thread pool, abandoned by :meth:`wait_threads`)."""
        if self.cancelled():
            return self._record_cancelled(call)
        lane = threading.current_thread().name
        start = self._begin(call, lane)
        outcome = call_blocking(call.tool, call.params, self.ctx(call))
        end = self.now()
        record = self._record(call, start, end, self._overran(outcome, end - start, "in its own thread"), lane)
        if record is None:
            self._abandoned_returned(call)
        return record

    def wait_threads(self, futures: dict[Future, Call]) -> None:
        """Wait for calls running on the run's threads, abandoning each one that overruns its timeout."""
        pending = set(futures)
        while pending:
            waiting = [futures[f] for f in pending]
            done, pending = concurrent.futures.wait(pending, self._until_next_deadline(waiting),
                                                    concurrent.futures.FIRST_COMPLETED)
            for f in done:
                f.result()                          # a bug in the runner itself should not pass silently
            now = self.now()
            for f in list(pending):
                call = futures[f]
                start = self._started[call.index]
                if self._records[call.index] is not None:
                    pending.discard(f)
                elif start is not None and now - start >= self.options.timeout_s:
                    self._abandon(call)
                    pending.discard(f)
                elif self.cancelled() and f.cancel():
                    self._record_cancelled(call)
                    pending.discard(f)

    def _until_next_deadline(self, waiting: list[Call]) -> float:
        """Seconds until the earliest timeout among ``waiting`` calls; a call not started yet is looked at
        again soon (its deadline starts when its thread picks it up)."""
        now = self.now()
        starts = [self._started[c.index] for c in waiting]
        deadlines = [MAX_RUN_S] + [s + self.options.timeout_s for s in starts if s is not None]
        if None in starts:
            deadlines.append(now + _POLL_S)
        return max(0.0, min(deadlines) - now) + 0.001

    async def call_in_thread(self, call: Call) -> TaskRecord | None:
        """Run the call on the run's thread pool, awaited from the loop; abandoned if it overruns."""
        loop = asyncio.get_running_loop()
        future = self.threads.submit(self.call_here, call)
        waiting = asyncio.wrap_future(future, loop=loop)
        try:
            while True:
                start = self._started[call.index]
                left = _POLL_S if start is None else start + self.options.timeout_s - self.now()
                done, _ = await asyncio.wait({waiting}, timeout=max(0.0, left))
                if done:
                    return waiting.result()
                start = self._started[call.index]
                if start is not None and self.now() - start >= self.options.timeout_s:
                    return self._abandon(call)
        except asyncio.CancelledError:
            if future.cancel() or self._started[call.index] is None:
                self._record_cancelled(call)
            elif self._records[call.index] is None:
                self._abandon(call, cancelled=True)
            raise

    # -- building blocks: the event loop -------------------------------------------------------------------
    async def gather(self, calls: list[Call], start: Callable[[Call], Awaitable], limit: int | None = None,
                     stagger: bool = False) -> None:
        """Run ``start(call)`` for every call as a task on this loop (at most ``limit`` at once), until all
        are done. Cancelling (on_error, or the run's bound) cancels the tasks still running.

        ``stagger`` yields to the loop after starting each task, so their first steps (building a request,
        opening a connection: ~1 ms each) are not all taken in one loop iteration: the loop keeps
        answering while the calls start (max lag ~6 ms instead of ~13 ms for 30 mixed calls). The price
        is a loop iteration per call: ~15% of throughput at 1,000 calls. (Adaptive batches were tried:
        they lost on both counts.)"""
        self._loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(limit) if limit else None

        async def one(call: Call):
            if gate is None:
                return await start(call)
            async with gate:
                return await start(call)

        for call in calls:
            self._tasks[call.index] = asyncio.ensure_future(one(call))
            if stagger:
                await asyncio.sleep(0)                  # this task takes its first step; the loop breathes
        bound = self._loop.call_later(max(0.0, MAX_RUN_S - self.now()), self.cancel_pending,
                                      f"cancelled: the run reached its {MAX_RUN_S:g} s bound")
        try:
            results = await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        finally:
            bound.cancel()
        for result in results:
            if isinstance(result, Exception):   # a bug in the runner itself should not pass silently
                raise result

    async def _awaited(self, call: Call, lane: str, work: Callable[[], Awaitable[Outcome]], where: str):
        """The shape of an awaited call: refuse if cancelled, stamp, await, record (also when cancelled)."""
        if self.cancelled():
            return self._record_cancelled(call)
        start = self._begin(call, lane)
        try:
            outcome = await work()
        except asyncio.CancelledError:
            self._record(call, start, self.now(), Outcome("cancelled", error=self._cancel_reason or "cancelled"),
                         lane)
            raise
        end = self.now()
        return self._record(call, start, end, self._overran(outcome, end - start, where), lane)

    async def call_on_loop(self, call: Call) -> TaskRecord | None:
        """Run the call on this event loop: awaited (and cancelled at its timeout) if it is ``io``,
        *directly*, blocking the loop, otherwise."""
        http = self.http.for_call(call.index) if self.http is not None and call.kind == "io" else self.sync_http

        async def work() -> Outcome:
            try:
                async with asyncio.timeout(self.options.timeout_s):
                    return await call_async(call.tool, call.params, self.ctx(call, http), self.options.async_twins)
            except TimeoutError:
                return Outcome("timeout", error=f"cancelled by asyncio.timeout after {self.options.timeout_s:g} s")

        return await self._awaited(call, "event-loop", work, "on the event loop's thread")

    async def call_in_child(self, call: Call) -> TaskRecord | None:
        """Run the call in a fresh child process, awaited from the loop (at most ``plan.children`` at once).
        At its timeout, or when cancelled, the child's whole process group is killed."""
        from .childproc import arun_in_child
        async with self.children:
            return await self._awaited(call, "child", lambda: arun_in_child(call.tool, call.params,
                                                                            self._remote_ctx(call)), "in its child")

    # -- building blocks: the process pool -------------------------------------------------------------------
    def submit_to_pool(self, call: Call) -> Future:
        """Send the call to the warm process pool; the future resolves to its record.

        The record spans the call's run in the worker (time queued behind other calls is not the call's
        time): with the default clock, the worker's own ``perf_counter`` stamps (the same system-wide
        monotonic clock); with an injected clock, the worker's elapsed time back from when the result arrived.
        """
        record: Future = Future()
        submitted = self.now()

        def finish(done: Future) -> None:
            received = self.now()
            if done.cancelled():
                cancelled = self._record_cancelled(call)
                with contextlib.suppress(InvalidStateError):
                    record.set_result(cancelled)
                return
            try:
                outcome = done.result()
            except BrokenProcessPool:
                self.pool_replaced = True
                outcome = Outcome("crashed", error="BrokenProcessPool: a pool worker died, and every call still "
                                                   "in the pool was lost with it")
            except Exception as exc:  # e.g. a result that could not be pickled
                status, message = classify(exc)
                outcome = Outcome(status, error=message)
            start, end = submitted, received
            if outcome.elapsed_s is not None:
                if outcome.started_at is not None and self.clock is time.perf_counter:
                    start = max(submitted, outcome.started_at - self.t0)
                    end = min(received, start + outcome.elapsed_s)
                else:
                    start = max(submitted, received - outcome.elapsed_s)
            done_record = self._record(call, start, end, outcome, "process-pool")
            with contextlib.suppress(InvalidStateError):      # its awaiting task was cancelled meanwhile
                record.set_result(done_record)

        try:
            future = self.pool.submit(pool_task, call.tool, call.params, self._remote_ctx(call))
        except BrokenProcessPool as exc:
            future = Future()
            future.set_exception(exc)
        self._pool_futures[call.index] = future
        future.add_done_callback(finish)
        return record

    def wait_pool(self, futures: dict[Future, Call]) -> None:
        """Wait for pool calls (each worker enforces its call's timeout). Once cancelled, queued calls are
        dropped; past the run's bound, running ones are given up on (and the pool is replaced)."""
        pending = set(futures)
        while pending:
            _, pending = concurrent.futures.wait(pending, max(0.0, MAX_RUN_S - self.now()) + 0.001,
                                                 concurrent.futures.FIRST_COMPLETED)
            if not pending or not self.cancelled():
                continue
            for f in list(pending):
                call = futures[f]
                self._pool_futures[call.index].cancel()        # if still queued, its callback records it
                if self.now() >= MAX_RUN_S:
                    self._record(call, self._started[call.index] or self.now(), self.now(),
                                 Outcome("timeout", error=self._cancel_reason), "process-pool")
                if self._records[call.index] is not None:
                    pending.discard(f)

    async def call_in_pool(self, call: Call) -> TaskRecord | None:
        """Send the call to the process pool, awaited from the loop. Cancelling drops it if it is queued;
        a running pool task ends by its worker's alarm."""
        record = self.submit_to_pool(call)
        try:
            return await asyncio.wrap_future(record)
        except asyncio.CancelledError:
            self._pool_futures[call.index].cancel()
            self._record_cancelled(call)
            raise

    # -- the report ----------------------------------------------------------------------------------------
    def report(self, wall_s: float, loop_lag: list[tuple[float, float]] | None = None) -> RunReport:
        tasks = [r if r is not None else TaskRecord(c.id, c.tool, c.kind, "not started", wall_s, wall_s, 0.0,
                                                    "cancelled", self._cancel_reason or "never started")
                 for c, r in zip(self.calls, self._records, strict=True)]
        with self._lock:
            abandoned = [self.calls[i].id for i in sorted(self._abandoned)]
        return RunReport(mode=self.mode, wall_s=wall_s, tasks=tasks, workers=self.workers,
                         options={"workers": self.options.workers, "timeout_s": self.options.timeout_s,
                                  "seed": self.options.seed, "on_error": self.options.on_error,
                                  "async_twins": self.options.async_twins,
                                  "spec": self.workload.spec, "params": self.workload.params},
                         loop_lag=loop_lag, setup_s=self.setup_s, started_at=self.started_at,
                         faults=[{"call": c.id, "kind": c.fault, "seconds": c.fault_s} for c in self.calls if c.fault],
                         abandoned=abandoned, pool_replaced=self.pool_replaced)


def warm_up(processes: int | None = None) -> None:
    """Do once, ahead of time, what a process's first run would otherwise pay for: start the backend,
    warm the HTTP stack and the process pool. Safe to call from any thread, any number of times."""
    from .backend import ensure_backend
    from .tools import http_tools
    http_tools.warm_up(ensure_backend().url)
    warm_pool(processes or default_processes())


def _sync_run(strategy, run: Run) -> RunReport:
    try:
        run.prepare()
        run.started_at, run.t0 = time.time(), run.clock()
        if run.on_clock is not None:
            run.on_clock()
        strategy.schedule(run)
        wall = run.clock() - run.t0
    finally:
        run.cleanup()
    return run.report(wall)


async def _loop_run(strategy, run: Run) -> RunReport:
    heartbeat = Heartbeat(run.clock)
    try:
        await asyncio.to_thread(run.prepare)
        if run.plan.async_http and run.workload.count_kind("io"):
            from .tools.http_tools import AsyncClients
            run.http = AsyncClients(run.workload.count_kind("io"))
        run.children = asyncio.Semaphore(run.plan.children)
        heartbeat.start()
        await asyncio.sleep(0)          # the heartbeat's first beat is scheduled before the clock starts
        run.started_at, run.t0 = time.time(), run.clock()
        if run.on_clock is not None:
            run.on_clock()
        await strategy.schedule(run)
        wall = run.clock() - run.t0
    finally:
        await heartbeat.stop()
        if run.http is not None:
            await run.http.aclose()
        run.cleanup()
    return run.report(wall, heartbeat.since(run.t0))


def execute(strategy, run: Run) -> RunReport:
    """Run a set-up :class:`Run` in this thread (a loop mode on a loop of its own) and report it."""
    if strategy.LOOP:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(_loop_run(strategy, run))
        raise RuntimeError("agent_core.run() was called from a running event loop: use `await agent_core.arun(...)`")
    return _sync_run(strategy, run)


def _workload(workload: Workload | str | dict, params: dict | None, faults: dict | None) -> Workload:
    if isinstance(workload, str):
        return Workload.parse(workload, params, faults)
    if isinstance(workload, dict):
        return Workload.of(workload, params, faults)
    if faults:
        return Workload.of(workload.counts, workload.params, faults)
    return workload


def _setup(workload: Workload | str | dict, mode: str, workers: int | None, timeout_s: float, seed: int,
           params: dict | None, faults: dict | None, on_error: str, async_twins: bool, clock: Clock,
           on_record: OnRecord | None):
    strategy = get_mode(mode)
    workload = _workload(workload, params, faults)
    options = Options(workers, timeout_s, seed, on_error, async_twins).checked(mode, strategy.MAX_WORKERS)
    return strategy, Run(workload, mode, options, strategy.plan(workload, options.workers), clock, on_record)


def _needs_host(strategy, run: Run) -> bool:
    """A crash or memory fault in a call that would run in this process would take the caller down."""
    return any(c.fault in ("crash", "memory") and c.kind in strategy.IN_PROCESS_KINDS for c in run.calls)


def run(workload: Workload | str | dict, mode: str = "hybrid", *, workers: int | None = None,
        timeout_s: float = 30.0, seed: int = 0, params: dict | None = None, faults: dict | None = None,
        on_error: str = "keep-going", async_twins: bool = False, on_record: OnRecord | None = None,
        clock: Clock = time.perf_counter, contained: bool = False) -> RunReport:
    """Run ``workload`` in ``mode`` and return its report. Blocking; call it from any thread without a loop.

    ``workload`` is a :class:`Workload`, a spec (``"llm_call:4,analysis:2"``) or ``{tool: count}``;
    ``params`` is ``{tool: {param: value}}``; ``faults`` is ``{tool: (kind, seconds)}`` (the tool's first
    call carries it). Bad input raises :class:`BadInput` before anything runs. A call that fails, times
    out or crashes does not raise: its record says so. ``contained`` means "already in a sacrificial
    host": never host again.
    """
    strategy, r = _setup(workload, mode, workers, timeout_s, seed, params, faults, on_error, async_twins, clock,
                         on_record)
    if not contained and _needs_host(strategy, r):
        from .host import run_hosted
        return run_hosted(r.workload, mode, r.options, on_record)
    return execute(strategy, r)


async def arun(workload: Workload | str | dict, mode: str = "hybrid", *, workers: int | None = None,
               timeout_s: float = 30.0, seed: int = 0, params: dict | None = None, faults: dict | None = None,
               on_error: str = "keep-going", async_twins: bool = False, on_record: OnRecord | None = None,
               clock: Clock = time.perf_counter) -> RunReport:
    """The async twin of :func:`run`. Loop modes run on the caller's loop (its lag is what gets measured);
    the others, and runs hosted in a sacrificial child, run in a worker thread so the caller's loop stays free."""
    strategy, r = _setup(workload, mode, workers, timeout_s, seed, params, faults, on_error, async_twins, clock,
                         on_record)
    if _needs_host(strategy, r):
        from .host import run_hosted
        return await asyncio.to_thread(run_hosted, r.workload, mode, r.options, on_record)
    if strategy.LOOP:
        return await _loop_run(strategy, r)
    return await asyncio.to_thread(_sync_run, strategy, r)


def run_many(workload: Workload | str | dict, variants: Iterable[dict], *, workers: int | None = None,
             timeout_s: float = 30.0, seed: int = 0, params: dict | None = None, faults: dict | None = None,
             on_error: str = "keep-going", async_twins: bool = False,
             on_run: Callable[[RunReport], None] | None = None, on_record: OnRecord | None = None,
             clock: Clock = time.perf_counter) -> list[RunReport]:
    """Run the same workload once per variant, one at a time (never two at once: they would distort each
    other). A variant is ``{"mode": ..., **run options}`` (e.g. ``{"mode": "asyncio", "async_twins": True}``);
    its options override the common ones. ``workers`` is lowered to each mode's bound where it is higher.
    Every variant is checked before anything runs."""
    workload = _workload(workload, params, faults)
    plans = []
    for variant in variants:
        options = {"workers": workers, "timeout_s": timeout_s, "seed": seed, "on_error": on_error,
                   "async_twins": async_twins, **{k: v for k, v in variant.items() if k != "mode"}}
        strategy = get_mode(variant["mode"])
        if options["workers"] is not None:
            options["workers"] = min(options["workers"], strategy.MAX_WORKERS)
        Options(**options).checked(variant["mode"], strategy.MAX_WORKERS)
        plans.append((variant["mode"], options))
    reports = []
    for mode, options in plans:
        report = run(workload, mode, on_record=on_record, clock=clock, **options)
        reports.append(report)
        if on_run is not None:
            on_run(report)
    return reports


def compare(workload: Workload | str | dict, modes: Iterable[str] = MODES, *, baseline: bool = True,
            on_run: Callable[[RunReport], None] | None = None, **options) -> list[RunReport]:
    """Run the same workload in each mode, one at a time, in the order given (with ``baseline``, sequential
    first, and every report's ``true_speedup`` against it). Takes :func:`run_many`'s options."""
    order = list(dict.fromkeys(modes))
    if baseline:
        order = ["sequential"] + [m for m in order if m != "sequential"]
    reports: list[RunReport] = []

    def measured(report: RunReport) -> None:
        if baseline:
            report.baseline_wall_s = (reports[0] if reports else report).wall_s
        reports.append(report)
        if on_run is not None:
            on_run(report)

    run_many(workload, [{"mode": m} for m in order], on_run=measured, **options)
    return reports
