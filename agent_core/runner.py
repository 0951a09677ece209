"""The runner: prepares a run, owns its clock, stamps every call, and builds the report.

Strategies (:mod:`agent_core.modes`) decide where calls go, through the ``call_*`` building blocks of
:class:`Run`; every building block stamps start and end with the same clock (``time.perf_counter``
unless a test injects one), so every mode is measured the same way. Work that is not the workload
(starting the backend, warming pools, building HTTP clients, creating the database) happens before
the clock starts and is reported as ``setup_s``.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

from ._execute import Outcome, classify
from ._pool import warm_pool
from ._threads import DaemonThreadPool
from .calls import call_async, call_blocking, pool_task
from .catalog import CATALOG
from .heartbeat import Heartbeat
from .modes import MODES, Plan, get_mode
from .records import RunReport, TaskRecord
from .tools import ToolContext, llm_target
from .workload import Call, Options, Workload

Clock = Callable[[], float]
OnRecord = Callable[[TaskRecord], None]


def _network(tool: str) -> bool:
    return CATALOG[tool].module.endswith("http_tools")


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
        self.http = None                                  # AsyncClients, in loop modes with io calls
        self.sync_http = None                             # httpx.Client for in-process blocking calls
        self.children: asyncio.Semaphore | None = None    # caps concurrent call children (loop modes)
        self._ctx: dict = {}
        self._tmp: str | None = None
        self._records: list[TaskRecord | None] = [None] * len(self.calls)
        self._lock = threading.Lock()
        self._on_record = on_record

    # -- preparation (before the clock) --------------------------------------------------------------------
    def prepare(self) -> None:
        t = self.clock()
        ctx = {"seed": self.options.seed, "timeout_s": self.options.timeout_s}
        if any(_network(tool) for tool in self.workload.counts):
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
        self.setup_s = self.clock() - t

    def cleanup(self) -> None:
        if self.threads is not None:
            self.threads.shutdown(wait=False)
        if self.sync_http is not None:
            self.sync_http.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- stamping ------------------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() - self.t0

    def ctx(self, call: Call, http=None) -> ToolContext:
        """The call's context; in-process calls get the run's HTTP client (``http`` overrides it)."""
        return ToolContext(call.id, http=http or self.sync_http, **self._ctx)

    def _record(self, call: Call, start: float, end: float, outcome: Outcome, worker: str) -> TaskRecord:
        record = TaskRecord(call.id, call.tool, call.kind, outcome.worker or worker, start, end, outcome.cpu_s,
                            outcome.status, outcome.error, outcome.detail)
        with self._lock:
            self._records[call.index] = record
        if self._on_record is not None:
            self._on_record(record)
        return record

    # -- building blocks for strategies --------------------------------------------------------------------
    def call_here(self, call: Call) -> TaskRecord:
        """Run the call in this thread (an ``isolated`` tool still gets its own child)."""
        start = self.now()
        outcome = call_blocking(call.tool, call.params, self.ctx(call))
        return self._record(call, start, self.now(), outcome, threading.current_thread().name)

    async def call_on_loop(self, call: Call) -> TaskRecord:
        """Run the call on this event loop: awaited if it is ``io``, *directly* (blocking the loop) otherwise."""
        if call.kind == "isolated":
            return await self.call_in_child(call)
        http = self.http.for_call(call.index) if self.http is not None and call.kind == "io" else self.sync_http
        start = self.now()
        outcome = await call_async(call.tool, call.params, self.ctx(call, http))
        return self._record(call, start, self.now(), outcome, "event-loop")

    async def call_in_thread(self, call: Call) -> TaskRecord:
        """Run the call on the run's thread pool, awaited from the loop."""
        return await asyncio.get_running_loop().run_in_executor(self.threads, self.call_here, call)

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
            try:
                outcome = done.result()
            except BrokenProcessPool as exc:
                outcome = Outcome("crashed", error=f"BrokenProcessPool: {exc}")
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
            record.set_result(self._record(call, start, end, outcome, "process-pool"))

        try:
            ctx = ToolContext(call.id, **self._ctx)     # the worker uses its own HTTP client
            self.pool.submit(pool_task, call.tool, call.params, ctx).add_done_callback(finish)
        except BrokenProcessPool as exc:
            failed: Future = Future()
            failed.set_exception(exc)
            finish(failed)
        return record

    async def call_in_pool(self, call: Call) -> TaskRecord:
        return await asyncio.wrap_future(self.submit_to_pool(call))

    async def call_in_child(self, call: Call) -> TaskRecord:
        """Run the call in a fresh child process, awaited from the loop (at most ``plan.children`` at once)."""
        from .childproc import arun_in_child
        async with self.children:
            start = self.now()
            outcome = await arun_in_child(call.tool, call.params, ToolContext(call.id, **self._ctx))
            return self._record(call, start, self.now(), outcome, "child")

    def wait_all(self, futures: Iterable[Future]) -> None:
        futures = list(futures)
        concurrent.futures.wait(futures)
        for f in futures:
            f.result()

    # -- the report ----------------------------------------------------------------------------------------
    def report(self, wall_s: float, loop_lag: list[tuple[float, float]] | None = None) -> RunReport:
        tasks = [r if r is not None else TaskRecord(c.id, c.tool, c.kind, "none", wall_s, wall_s, 0.0, "cancelled",
                                                    "never started")
                 for c, r in zip(self.calls, self._records, strict=True)]
        return RunReport(mode=self.mode, wall_s=wall_s, tasks=tasks, workers=self.workers,
                         options={"workers": self.options.workers, "timeout_s": self.options.timeout_s,
                                  "seed": self.options.seed, "spec": self.workload.spec,
                                  "params": self.workload.params},
                         loop_lag=loop_lag, setup_s=self.setup_s, started_at=self.started_at)


def warm_up(processes: int | None = None) -> None:
    """Do once, ahead of time, what a process's first run would otherwise pay for: start the backend,
    warm the HTTP stack and the process pool. Safe to call from any thread, any number of times."""
    from .backend import ensure_backend
    from .tools import http_tools
    http_tools.warm_up(ensure_backend().url)
    warm_pool(processes or os.cpu_count() or 1)


def _sync_run(strategy, run: Run) -> RunReport:
    run.prepare()
    try:
        run.started_at, run.t0 = time.time(), run.clock()
        strategy.schedule(run)
        wall = run.clock() - run.t0
    finally:
        run.cleanup()
    return run.report(wall)


async def _loop_run(strategy, run: Run) -> RunReport:
    await asyncio.to_thread(run.prepare)
    heartbeat = Heartbeat(run.clock)
    try:
        if run.workload.count_kind("io") and strategy.__name__.endswith(("asyncio_loop", "hybrid")):
            from .tools.http_tools import AsyncClients
            run.http = AsyncClients(run.workload.count_kind("io"))
        run.children = asyncio.Semaphore(run.plan.children)
        heartbeat.start()
        await asyncio.sleep(0)          # the heartbeat's first beat is scheduled before the clock starts
        run.started_at, run.t0 = time.time(), run.clock()
        await strategy.schedule(run)
        wall = run.clock() - run.t0
    finally:
        await heartbeat.stop()
        if run.http is not None:
            await run.http.aclose()
        run.cleanup()
    return run.report(wall, heartbeat.since(run.t0))


def _setup(workload: Workload | str | dict, mode: str, workers: int | None, timeout_s: float, seed: int,
           params: dict | None, clock: Clock, on_record: OnRecord | None):
    strategy = get_mode(mode)
    if isinstance(workload, str):
        workload = Workload.parse(workload, params)
    elif isinstance(workload, dict):
        workload = Workload.of(workload, params)
    options = Options(workers, timeout_s, seed).checked(mode, strategy.MAX_WORKERS)
    return strategy, Run(workload, mode, options, strategy.plan(workload, options.workers), clock, on_record)


def run(workload: Workload | str | dict, mode: str = "hybrid", *, workers: int | None = None,
        timeout_s: float = 30.0, seed: int = 0, params: dict | None = None, on_record: OnRecord | None = None,
        clock: Clock = time.perf_counter) -> RunReport:
    """Run ``workload`` in ``mode`` and return its report. Blocking; call it from any thread without a loop.

    ``workload`` is a :class:`Workload`, a spec (``"llm_call:4,analysis:2"``) or ``{tool: count}``;
    ``params`` is ``{tool: {param: value}}``. Bad input raises :class:`BadInput` before anything runs.
    A call that fails, times out or crashes does not raise: its record says so.
    """
    strategy, r = _setup(workload, mode, workers, timeout_s, seed, params, clock, on_record)
    if strategy.LOOP:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(_loop_run(strategy, r))
        raise RuntimeError("agent_core.run() was called from a running event loop: use `await agent_core.arun(...)`")
    return _sync_run(strategy, r)


async def arun(workload: Workload | str | dict, mode: str = "hybrid", *, workers: int | None = None,
               timeout_s: float = 30.0, seed: int = 0, params: dict | None = None,
               on_record: OnRecord | None = None, clock: Clock = time.perf_counter) -> RunReport:
    """The async twin of :func:`run`. Loop modes run on the caller's loop (its lag is what gets measured);
    the others run in a worker thread so the caller's loop stays free."""
    strategy, r = _setup(workload, mode, workers, timeout_s, seed, params, clock, on_record)
    if strategy.LOOP:
        return await _loop_run(strategy, r)
    return await asyncio.to_thread(_sync_run, strategy, r)


def compare(workload: Workload | str | dict, modes: Iterable[str] = MODES, *, workers: int | None = None,
            timeout_s: float = 30.0, seed: int = 0, params: dict | None = None,
            on_run: Callable[[RunReport], None] | None = None, on_record: OnRecord | None = None,
            clock: Clock = time.perf_counter) -> list[RunReport]:
    """Run the same workload in each mode, one at a time (never two at once: they would distort each
    other), sequential first as the baseline for every report's ``true_speedup``.

    ``workers`` applies to every mode, lowered to a mode's bound where it is higher.
    """
    order = ["sequential"] + [m for m in dict.fromkeys(modes) if m != "sequential"]
    strategies = {m: get_mode(m) for m in order}
    if isinstance(workload, str):
        workload = Workload.parse(workload, params)
    elif isinstance(workload, dict):
        workload = Workload.of(workload, params)
    for m, strategy in strategies.items():   # every mode's options are checked before anything runs
        Options(None if workers is None else min(workers, strategy.MAX_WORKERS), timeout_s, seed).checked(
            m, strategy.MAX_WORKERS)
    reports: list[RunReport] = []
    for m, strategy in strategies.items():
        w = None if workers is None else min(workers, strategy.MAX_WORKERS)
        report = run(workload, m, workers=w, timeout_s=timeout_s, seed=seed, on_record=on_record, clock=clock)
        report.baseline_wall_s = reports[0].wall_s if reports else report.wall_s
        reports.append(report)
        if on_run is not None:
            on_run(report)
    return reports
