"""The Dask lane: calls run on the workers of a Dask cluster (the ``distributed`` mode).

Where calls run, by kind (worker side: :mod:`agent_core.lanes._dask_worker`; this side, by job: the io path
:mod:`~agent_core.lanes._dask_io`, the task path :mod:`~agent_core.lanes._dask_tasks`, the clock mapping
:mod:`~agent_core.lanes._dask_clock`, the bookkeeping shared by every run on a cluster
:mod:`~agent_core.lanes._dask_book`):

- ``io``: a coroutine on a worker's event loop, sent straight to the worker (one comm round trip, no
  scheduler), to the worker with the fewest io calls in flight. Many overlap on each worker; they take
  none of its thread slots (a coroutine *task* would: see ``_dask_worker``'s docstring).
- ``blocking``: a Dask task in a worker thread (``THREADS_PER_WORKER`` per worker, embedded cluster).
- ``cpu``: a Dask task that needs one ``agent-cpu`` resource; each worker *process* has one, so two cpu
  calls never share a GIL and they spread over the worker processes. (On a cluster whose workers do
  not declare it, Dask's own placement decides; ``detail["gil_exclusive"]`` says which.)
- ``isolated``: a Dask task whose worker thread starts a child process of its own
  (:func:`agent_core.childproc.run_in_child`).

What a TIMEOUT does (``ctx.timeout_s``, counted from the call's start on its worker, not its queueing):

- ``io``: ``asyncio.timeout`` cancels the coroutine on the worker's loop: ``timeout``, nothing left
  running. If the worker does not answer ``BACKSTOP_S`` later, its loop is frozen (a spin on it): the
  call is ``timeout`` and the worker is restarted (``detail["worker_restarted"]``).
- ``blocking``/``cpu``: the worker thread stops waiting at the timeout and the call is ``timeout``; the
  call's own thread cannot be killed, so the lane restarts that worker through its nanny
  (``client.restart_workers``) before the call resolves: ``detail["worker_restarted"]``,
  ``detail["restart_s"]``. The restart takes down every other call running on that worker; each of
  those is reported ``crashed`` and says why. A worker that sends nothing at all (frozen) is found
  ``BACKSTOP_S`` after the timeout and restarted the same way.
- ``isolated``: the child's whole process group is killed at the timeout; the worker lives on.

What a CANCEL does (:meth:`DaskLane.cancel`, or cancelling the await of :meth:`Lane.call`):

- ``io``: the coroutine is cancelled on the worker's loop (``agent_io_cancel``);
- a task that has not started is dropped from the cluster (``client.cancel``) and never runs;
- a task already running in a thread keeps running (threads cannot be stopped): its result is
  discarded, and if it is stuck past its timeout its worker is still restarted.

A worker that dies (a ``crash`` fault's segfault, a kill, its nanny's memory limit) is restarted by its
nanny. Its io calls are ``crashed``. Its tasks are ``crashed`` (``KilledWorker``) or, on a cluster that
allows retries (the embedded one allows none: ``allowed-failures`` = 0), run again elsewhere: a call is
then ``ok`` but says so: ``detail["attempts"]``, ``detail["retried_on"]``, ``detail["earlier_workers"]``.
A call lost with a worker its nanny ended at the memory limit says so: "… died before this call ended:
killed by its nanny at the 1 GiB memory limit (it held 1021 MiB)", ``detail["killed_by"]``.

Clocks: a worker stamps calls with its own ``time.perf_counter()``. At :meth:`DaskLane.prepare` (and for
any worker first seen later) the lane measures each worker's offset with Cristian's algorithm: 15 round
trips to the worker's ``agent_clock`` handler, keeping the fastest; its half round trip bounds the error
(``detail["clock_error_ms"]``, :attr:`DaskLane.clock_error_s`). Every ``started_at`` is then on *this*
process's ``perf_counter`` clock, clamped to when the call was sent and when its result came back.

Bookkeeping runs on the Dask client's own event loop (a thread of this process); :meth:`submit` and
:meth:`cancel` are safe from any thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid

from ..errors import BadInput
from ..workload import DEFAULT_HTTP
from . import Job, Lane
from ._dask_book import ClusterBook, DaskCall
from ._dask_io import IoPath
from ._dask_tasks import TaskPath

PREPARE_TIMEOUT_S = 60.0
SETTLE_S = 20.0             # how long a run waits for a cluster's workers to be back before it starts


class DaskLane(Lane):
    """Runs each call on a Dask cluster's workers, where its kind belongs; the runner owns the clock.

    Where a call runs: ``io`` as a coroutine on a worker's event loop (many at once per worker),
    ``blocking`` in a worker thread, ``cpu`` in a worker process holding that process's one
    ``agent-cpu`` resource (no two cpu calls share a GIL), ``isolated`` in a child process its worker
    starts.

    TIMEOUT (``ctx.timeout_s``, from the call's start on its worker): an io coroutine is cancelled on
    the worker's loop; a child's process group is killed; a thread cannot be, so the worker holding it
    is restarted through its nanny and the outcome says so (``detail["worker_restarted"]``). A worker
    silent ``BACKSTOP_S`` past a call's timeout is frozen: ``timeout``, and restarted too.

    CANCEL: an io coroutine is cancelled on its worker; a task not yet started never runs; a task
    already running in a thread runs on, its result discarded (like ``anyio.to_thread`` without
    ``cancellable``), and its worker is restarted if it is stuck past its timeout.

    A worker that dies takes its calls with it: ``crashed``, or retried elsewhere where the cluster
    allows it (``detail["attempts"]``, ``detail["retried_on"]``). ``Outcome.worker`` is
    ``"dask worker N · tcp://host:port"``; ``started_at`` is on this process's ``perf_counter``, mapped
    from the worker's clock within ``clock_error_s``.
    """

    name = "dask"
    title = "dask"
    in_process = False          # a crash on a worker never takes this process down
    remote = True               # calls get a context without this process's clients
    where = None                # no call comes back ok past its timeout: the lane reports the timeout itself
    default_size = None         # every worker of the cluster
    async_http = True           # io calls are awaited on the workers' loops over the run's ``http`` transport

    def __init__(self, size: int | None = None, options=None) -> None:
        super().__init__(size, options)             # size: how many of the cluster's workers to use (None: all)
        self.clock_error_s: float | None = None     # the worst clock-mapping error bound over the run's workers
        self.workers: list[str] = []                # labels of the workers this run may use
        self._book: ClusterBook | None = None
        self._io: IoPath | None = None
        self._tasks: TaskPath | None = None
        self._calls: dict[concurrent.futures.Future, DaskCall] = {}
        self._lock = threading.Lock()

    @property
    def clock_offsets(self) -> dict[str, tuple[float, float]]:
        """Worker label -> (its ``perf_counter`` minus ours, the error bound of that figure), in seconds."""
        book = self._book
        if book is None:
            return {}
        return {book.label(addr): mapping for addr, mapping in book.clocks.offsets.items()}

    # -- before the clock ------------------------------------------------------------------------------------
    def prepare(self, workload=None) -> None:
        """Cluster up (the embedded one, or ``DASK_SCHEDULER_ADDRESS``'s), client connected, the worker
        plugin installed, a task run on every worker, clocks measured. The lane's ``size`` caps how many of
        the cluster's workers this run uses, the first ones by index; more than the cluster has is
        BadInput. ``workload`` is not needed: every worker is ready for every kind."""
        from .._dask_cluster import CPU_RESOURCE, ClusterError, ensure_cluster, stop_cluster
        cluster = ensure_cluster()
        book = self._book = ClusterBook.of(cluster)
        self._sync(book.settle(cluster.expected_workers, SETTLE_S), "counting its workers")
        if len(book.addr_by_name) < cluster.expected_workers and cluster.embedded:
            stop_cluster("")                # ours, and short of workers for SETTLE_S: start it afresh, once
            cluster = ensure_cluster()
            book = self._book = ClusterBook.of(cluster)
            self._sync(book.settle(cluster.expected_workers, SETTLE_S), "counting its workers")
        if not book.addr_by_name:
            raise ClusterError(f"the Dask cluster at {cluster.address} has no worker (waited {SETTLE_S:g} s)")
        names = sorted(book.addr_by_name, key=lambda n: book.index[n])
        if self.size is not None:
            if self.size > len(names):
                raise BadInput(f"workers={self.size} is more than the Dask cluster's {len(names)} workers")
            names = names[:self.size]
        allowed = set(names) if self.size is not None else None
        addrs = [book.addr_by_name[n] for n in names]
        self._io = IoPath(book, allowed, self.options.http if self.options else DEFAULT_HTTP)
        self._tasks = TaskPath(book, allowed, all(book.resources[a].get(CPU_RESOURCE, 0) >= 1 for a in addrs))
        self._sync(self._warm(addrs), "measuring its workers' clocks")
        self.workers = [book.label(a) for a in addrs]
        self.clock_error_s = book.clocks.error_s(addrs)

    async def _warm(self, addrs: list[str]) -> None:
        from ._dask_worker import ping
        book = self._book
        for addr in addrs:
            await book.clocks.measure(addr)
        futures = [book.client.submit(ping, workers=[a], pure=False, key=f"agent-ping-{uuid.uuid4().hex}")
                   for a in addrs]
        await book.client.gather(futures, asynchronous=True)

    def _sync(self, coro, doing: str, timeout: float = PREPARE_TIMEOUT_S):
        from .._dask_cluster import ClusterError
        future = asyncio.run_coroutine_threadsafe(coro, self._book.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ClusterError(f"the Dask cluster did not answer within {timeout:g} s ({doing})") from None

    # -- calls --------------------------------------------------------------------------------------------
    def submit(self, job: Job) -> concurrent.futures.Future:
        """Send one call (``job.call.tool/kind/params``, ``job.ctx``); the future resolves to its
        :class:`~agent_core._execute.Outcome` (never raises for the call's own failures: those are
        statuses). Safe from any thread, after :meth:`prepare`."""
        call = DaskCall(job.call.tool, job.call.kind, job.call.params, job.ctx)
        with self._lock:
            self._calls[call.out] = call
        call.out.add_done_callback(self._forget)
        if call.kind != "io":
            self._tasks.send(call)
        asyncio.run_coroutine_threadsafe(self._carry(call), self._book.loop)
        return call.out

    def cancel(self, future: concurrent.futures.Future) -> bool:
        """Cancel a call sent by :meth:`submit` (see the class docstring for what that does where). True if
        the call is still running and cannot be stopped: a task already started in a worker thread."""
        with self._lock:
            call = self._calls.get(future)
        if call is None or not future.cancel():
            return False
        self._book.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._on_cancel(call)))
        return call.kind != "io" and bool(call.attempts)

    def close(self) -> None:
        """Release what this run holds: calls still pending are cancelled. The cluster stays warm."""
        with self._lock:
            pending = list(self._calls)
        for future in pending:
            self.cancel(future)

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._calls.pop(future, None)

    # -- on the client's loop ---------------------------------------------------------------------------------
    async def _carry(self, call: DaskCall) -> None:
        """Take one call through its path to its outcome, on our clock, and resolve its future."""
        book = self._book
        try:
            outcome = await (self._io.run(call) if call.kind == "io" else self._tasks.run(call))
            received, addr = time.perf_counter(), outcome.worker
            outcome.worker = book.label(addr)
            await book.clocks.place(outcome, addr, call.submitted, received)
        except BaseException as exc:  # noqa: BLE001 - a bug in the lane must reach the runner, not vanish
            if call.out.set_running_or_notify_cancel():
                call.out.set_exception(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        finally:
            book.by_key.pop(call.key, None)
        if call.out.set_running_or_notify_cancel():
            call.out.set_result(outcome)

    async def _on_cancel(self, call: DaskCall) -> None:
        call.cancelled = True
        await (self._io.cancel(call) if call.kind == "io" else self._tasks.cancel(call))
