"""The Dask lane: calls run on the workers of a Dask cluster (the ``distributed`` mode).

Where calls run, by kind (worker side: :mod:`agent_core.lanes._dask_worker`):

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

What a CANCEL does (:meth:`DaskLane.cancel`, or cancelling :meth:`DaskLane.call`):

- ``io``: the coroutine is cancelled on the worker's loop (``agent_io_cancel``);
- a task that has not started is dropped from the cluster (``client.cancel``) and never runs;
- a task already running in a thread keeps running (threads cannot be stopped): its result is
  discarded, and if it is stuck past its timeout its worker is still restarted.

A worker that dies (a ``crash`` fault's segfault, a kill, its nanny's memory limit) is restarted by its
nanny. Its io calls are ``crashed``. Its tasks are ``crashed`` (``KilledWorker``) or, on a cluster that
allows retries (the embedded one allows none: ``allowed-failures`` = 0), run again elsewhere: a call is
then ``ok`` but says so: ``detail["attempts"]``, ``detail["retried_on"]``, ``detail["earlier_workers"]``.

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

from .._execute import Outcome, classify
from ..errors import BadInput
from . import Lane

BACKSTOP_S = 3.0            # past its timeout, a call whose worker says nothing: the worker is frozen
CLOCK_ROUND_TRIPS = 15
RESTART_TIMEOUT_S = 30.0
PREPARE_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 1.0     # a worker that is gone refuses at once, but distributed retries until this
_RETRY_S = 0.05             # before sending again a call no worker got


class _NotSent(Exception):
    """An io call never reached a worker (it could not be connected to, or it closed before the request)."""


class _Call:
    __slots__ = ("token", "tool", "kind", "params", "ctx", "out", "submitted", "addr", "dask_future", "attempts",
                 "started", "seen", "cancelled", "key")

    def __init__(self, tool: str, kind: str, params: dict, ctx) -> None:
        self.token = uuid.uuid4().hex
        self.tool, self.kind, self.params, self.ctx = tool, kind, params, ctx
        self.out: concurrent.futures.Future = concurrent.futures.Future()
        self.submitted = time.perf_counter()
        self.addr: str | None = None              # where it was sent (io) or last started (tasks)
        self.dask_future = None
        self.attempts: list[tuple[str, float]] = []     # (worker address, its start on the worker's clock)
        self.started: asyncio.Event | None = None
        self.seen: float | None = None            # when (our clock) the latest start event arrived
        self.cancelled = False
        self.key = f"agent-{tool}-{self.token}"


class _Shared:
    """Per cluster (so per process): the client, worker identities, clock offsets, restarts, start events."""

    def __init__(self, cluster) -> None:
        from distributed import Client  # noqa: F401 - imported here: the lane's module stays light

        from ._dask_worker import PLUGIN_NAME, START_TOPIC, AgentPlugin
        self.cluster = cluster
        self.client = cluster.client
        self.loop: asyncio.AbstractEventLoop = self.client.loop.asyncio_loop
        self.index: dict[str, int] = {}           # worker name -> 1-based index (address order at first sight)
        self.addr_by_name: dict[str, str] = {}
        self.name_by_addr: dict[str, str] = {}     # every worker seen, for labels of workers since gone
        self.resources: dict[str, dict] = {}
        self.offsets: dict[str, tuple[float, float]] = {}    # address -> (worker clock - ours, error bound)
        self.io_inflight: dict[str, int] = {}
        self.restarting: dict[str, asyncio.Task] = {}
        self.restart_reason: dict[str, str] = {}  # address -> why the lane restarted it
        self.by_key: dict[str, _Call] = {}
        self.client.register_plugin(AgentPlugin(), name=PLUGIN_NAME)
        self.client.subscribe_topic(START_TOPIC, self._on_start)

    # -- workers ---------------------------------------------------------------------------------------------
    async def refresh(self) -> None:
        workers = (await self.client.scheduler.identity(n_workers=-1))["workers"]
        self.addr_by_name = {str(w["name"]): addr for addr, w in workers.items()}
        self.name_by_addr.update({addr: name for name, addr in self.addr_by_name.items()})  # gone ones kept
        self.resources = {addr: dict(w.get("resources") or {}) for addr, w in workers.items()}
        for addr in sorted(workers):
            self.index.setdefault(self.name_by_addr[addr], len(self.index) + 1)

    def label(self, addr: str | None) -> str:
        if addr is None:
            return "dask"
        n = self.index.get(self.name_by_addr.get(addr, ""))
        return f"dask worker {n if n is not None else '?'} · {addr}"

    async def measure_clock(self, addr: str) -> tuple[float, float]:
        """Cristian's algorithm: the fastest of ``CLOCK_ROUND_TRIPS`` round trips gives the offset of the
        worker's ``perf_counter`` from ours, within half that round trip."""
        rpc = self.client.rpc(addr)
        best = None
        for _ in range(CLOCK_ROUND_TRIPS):
            t0 = time.perf_counter()
            theirs = await rpc.agent_clock()
            t1 = time.perf_counter()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, theirs - (t0 + t1) / 2)
        self.offsets[addr] = (best[1], best[0] / 2)
        return self.offsets[addr]

    async def offset(self, addr: str) -> tuple[float, float] | None:
        if addr not in self.offsets:
            try:
                await self.measure_clock(addr)
            except (OSError, KeyError):
                return None
        return self.offsets[addr]

    async def restart(self, addr: str, reason: str) -> dict:
        """Restart one worker through its nanny (once, however many calls ask); what happened, for detail."""
        task = self.restarting.get(addr)
        if task is None:
            self.restart_reason[addr] = reason
            task = self.restarting[addr] = asyncio.ensure_future(self._restart(addr))
        return dict(await asyncio.shield(task))

    async def _restart(self, addr: str) -> dict:
        t = time.perf_counter()
        try:
            result = await self.client.restart_workers([addr], timeout=RESTART_TIMEOUT_S, raise_for_error=False)
            status = str(result.get(addr, result))
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the call's outcome is already known
            status = classify(exc)[1]
        try:
            await self.refresh()
        except OSError:
            pass
        return {"worker_restarted": status == "OK", "restart": status, "restart_s": round(time.perf_counter() - t, 3)}

    def _on_start(self, event) -> None:
        """A task began (or began again) on a worker: from the ``agent-core-start`` topic, on the client loop."""
        _, msg = event
        call = self.by_key.get(msg.get("key"))
        if call is not None:
            call.attempts.append((msg["worker"], msg["t"]))
            call.addr = msg["worker"]
            if call.started is not None:
                call.started.set()

    def lost(self, call: _Call, addr: str | None, exc: BaseException | None) -> Outcome:
        """A call whose worker died under it (or was restarted by the lane): ``crashed``, with why."""
        label = self.label(addr)
        why = self.restart_reason.get(addr or "")
        error = (f"lost: {label} was restarted by the lane ({why}) before this call ended" if why
                 else f"lost: {label} died before this call ended")
        if exc is not None and not why:
            error += f" ({type(exc).__name__})"
        detail = {"lost_with_worker": label}
        if why:
            detail["worker_restarted_because"] = why
        return Outcome("crashed", detail, error, worker=addr)


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
    in_process = False          # a crash on a worker never takes this process down
    remote = True               # calls get a context without this process's clients
    where = None                # no call comes back ok past its timeout: the lane reports the timeout itself
    default_size = None         # every worker of the cluster

    def __init__(self, size: int | None = None, options=None) -> None:
        self.size = size                            # how many of the cluster's workers to use (None: all)
        self.options = options
        self.clock_error_s: float | None = None     # the worst clock-mapping error bound over the run's workers
        self.workers: list[str] = []                # labels of the workers this run may use
        self._shared: _Shared | None = None
        self._names: set[str] | None = None         # worker names this run may use (None: all)
        self._cpu_resource = False
        self._calls: dict[concurrent.futures.Future, _Call] = {}
        self._lock = threading.Lock()

    @property
    def clock_offsets(self) -> dict[str, tuple[float, float]]:
        """Worker label -> (its ``perf_counter`` minus ours, the error bound of that figure), in seconds."""
        shared = self._shared
        if shared is None:
            return {}
        return {shared.label(addr): mapping for addr, mapping in shared.offsets.items()}

    # -- before the clock ------------------------------------------------------------------------------------
    def prepare(self, workload_kinds=None, workers: int | None = None) -> None:
        """Cluster up (the embedded one, or ``DASK_SCHEDULER_ADDRESS``'s), client connected, the worker
        plugin installed, a task run on every worker, clocks measured. ``workers`` (default: the lane's
        ``size``) caps how many of the cluster's workers this run uses, the first ones by index; more than
        the cluster has is BadInput. ``workload_kinds`` (a set of kinds, or a Workload) is not needed:
        every worker is ready for every kind."""
        from .._dask_cluster import CPU_RESOURCE, ensure_cluster
        if workers is None:
            workers = self.size
        cluster = ensure_cluster()
        with cluster.lock:
            shared = cluster.extras.get("lane")
            if shared is None:
                shared = cluster.extras["lane"] = _Shared(cluster)
        self._shared = shared
        self._sync(shared.refresh())
        names = sorted(shared.addr_by_name, key=lambda n: shared.index[n])
        if workers is not None:
            if workers > len(names):
                raise BadInput(f"workers={workers} is more than the Dask cluster's {len(names)} workers")
            names = names[:workers]
        self._names = set(names) if workers is not None else None
        addrs = [shared.addr_by_name[n] for n in names]
        self._cpu_resource = all(shared.resources[a].get(CPU_RESOURCE, 0) >= 1 for a in addrs)
        self._sync(self._warm(addrs))
        self.workers = [shared.label(a) for a in addrs]
        self.clock_error_s = max(shared.offsets[a][1] for a in addrs)

    async def _warm(self, addrs: list[str]) -> None:
        from ._dask_worker import ping
        shared = self._shared
        for addr in addrs:
            await shared.measure_clock(addr)
        futures = [shared.client.submit(ping, workers=[a], pure=False, key=f"agent-ping-{uuid.uuid4().hex}")
                   for a in addrs]
        await shared.client.gather(futures, asynchronous=True)

    def _sync(self, coro, timeout: float = PREPARE_TIMEOUT_S):
        return asyncio.run_coroutine_threadsafe(coro, self._shared.loop).result(timeout)

    # -- calls --------------------------------------------------------------------------------------------
    def submit(self, tool, kind: str | None = None, params: dict | None = None, ctx=None) -> concurrent.futures.Future:
        """Send one call; the future resolves to its :class:`Outcome` (never raises for the call's own
        failures: those are statuses). Safe from any thread. ``tool`` may also be an engine ``Job``
        (``job.call.tool/kind/params``, ``job.ctx``)."""
        if kind is None:
            job = tool
            tool, kind, params, ctx = job.call.tool, job.call.kind, job.call.params, job.ctx
        call = _Call(tool, kind, params, ctx)
        with self._lock:
            self._calls[call.out] = call
        call.out.add_done_callback(self._forget)
        if kind != "io":
            self._send_task(call)
        asyncio.run_coroutine_threadsafe(self._run(call), self._shared.loop)
        return call.out

    async def open(self, workload=None) -> None:
        """Nothing is bound to the caller's loop: the lane's bookkeeping runs on the Dask client's loop."""

    async def aclose(self) -> None:
        """See :meth:`open`."""

    async def call(self, tool, kind: str | None = None, params: dict | None = None, ctx=None) -> Outcome:
        """:meth:`submit`, awaited from any asyncio loop; cancelling the await cancels the call."""
        future = self.submit(tool, kind, params, ctx)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self.cancel(future)
            raise

    def cancel(self, future: concurrent.futures.Future) -> bool:
        """Cancel a call sent by :meth:`submit` (see the class docstring for what that does where). True if
        the call is still running and cannot be stopped: a task already started in a worker thread."""
        with self._lock:
            call = self._calls.get(future)
        if call is None or not future.cancel():
            return False
        self._shared.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._on_cancel(call)))
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
    async def _run(self, call: _Call) -> None:
        shared = self._shared
        try:
            outcome = await (self._io(call) if call.kind == "io" else self._task(call))
            await self._stamp(call, outcome)
        except BaseException as exc:  # noqa: BLE001 - a bug in the lane must reach the runner, not vanish
            if call.out.set_running_or_notify_cancel():
                call.out.set_exception(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        finally:
            shared.by_key.pop(call.key, None)
        if call.out.set_running_or_notify_cancel():
            call.out.set_result(outcome)

    async def _io_worker(self, call: _Call, avoid: set[str]) -> str | None:
        """The run's connected worker with the fewest io calls in flight (one that could not be reached for
        this call only if there is no other); after a worker died or restarted, wait (up to the call's
        timeout) for one to be back."""
        shared = self._shared
        deadline = call.submitted + max(call.ctx.timeout_s, 1.0)
        while True:
            candidates = [a for n, a in shared.addr_by_name.items() if self._names is None or n in self._names]
            candidates = [a for a in candidates if a not in avoid] or candidates
            if candidates:
                return min(candidates, key=lambda a: shared.io_inflight.get(a, 0))
            if time.perf_counter() > deadline or call.cancelled:
                return None
            await asyncio.sleep(_RETRY_S)
            await self._refresh()

    async def _refresh(self) -> None:
        try:
            await self._shared.refresh()
        except OSError:
            pass

    async def _io(self, call: _Call) -> Outcome:
        """Send the call to a worker's ``agent_io`` handler and wait for its answer (bounded by the call's
        timeout plus ``BACKSTOP_S``). A worker that could not be reached, or whose plugin is not installed
        yet (it has just restarted), never got the call: another is tried."""
        shared = self._shared
        unreachable: set[str] = set()
        while True:
            if call.cancelled:
                return Outcome("cancelled", error="cancelled before it was sent")
            addr = await self._io_worker(call, unreachable)
            if addr is None:
                return Outcome("error", error="no Dask worker of this run is connected")
            call.addr = addr
            shared.io_inflight[addr] = shared.io_inflight.get(addr, 0) + 1
            try:
                reply = await asyncio.wait_for(self._send_io(call, addr), call.ctx.timeout_s + BACKSTOP_S)
            except _NotSent:
                unreachable.add(addr)
                if time.perf_counter() > call.submitted + call.ctx.timeout_s:
                    return Outcome("timeout", {"unreachable": sorted(shared.label(a) for a in unreachable)},
                                   f"no worker of this run could be reached within {call.ctx.timeout_s:g} s")
                await asyncio.sleep(_RETRY_S)
                await self._refresh()
                continue
            except TimeoutError:
                restart = await shared.restart(addr, f"{call.ctx.call_id} froze its event loop")
                return Outcome("timeout", {"frozen_loop": True, **restart},
                               f"no answer within {call.ctx.timeout_s + BACKSTOP_S:g} s: the event loop of "
                               f"{shared.label(addr)} stopped answering, so the worker was restarted", worker=addr)
            except OSError as exc:          # CommClosedError: the worker died before it answered
                await self._refresh()
                return shared.lost(call, addr, exc)
            finally:
                shared.io_inflight[addr] -= 1
            if reply is None:               # no agent_io handler: a worker still setting up after a restart
                await asyncio.sleep(_RETRY_S)
                continue
            return Outcome(reply["status"], {**(reply["detail"] or {}), "pid": reply["pid"]}, reply["error"],
                           reply["cpu_s"], addr, reply["elapsed"], reply["t"])

    async def _send_io(self, call: _Call, addr: str) -> dict | None:
        """One request on a pooled connection: a failure before the request is written is :class:`_NotSent`."""
        pool = self._shared.client.rpc
        try:
            comm = await pool.connect(addr, timeout=CONNECT_TIMEOUT_S)    # refused is retried until then
        except OSError as exc:
            raise _NotSent from exc
        try:
            try:
                await comm.write({"op": "agent_io", "reply": True, "token": call.token, "tool": call.tool,
                                  "params": call.params, "ctx": call.ctx.to_dict()})
            except OSError as exc:
                raise _NotSent from exc
            reply = await comm.read()
        except BaseException:
            comm.abort()
            raise
        finally:
            pool.reuse(addr, comm)
        if isinstance(reply, dict) and reply.get("status") == "uncaught-error":
            raise RuntimeError(f"the worker's agent_io handler failed: {reply.get('text') or reply}")
        return reply

    def _send_task(self, call: _Call) -> None:
        """Hand a blocking, cpu or isolated call to the scheduler from the caller's thread, as any client
        code would (``Client.submit`` is thread-safe); the client's loop only waits for the result."""
        from .._dask_cluster import CPU_RESOURCE
        from ._dask_worker import run_task
        shared = self._shared
        call.started = asyncio.Event()
        shared.by_key[call.key] = call
        options = {"key": call.key, "pure": False, "retries": 0}
        if call.kind == "cpu" and self._cpu_resource:
            options["resources"] = {CPU_RESOURCE: 1}
        if self._names is not None:
            options["workers"] = [a for n, a in list(shared.addr_by_name.items()) if n in self._names]
            options["allow_other_workers"] = False
        call.dask_future = shared.client.submit(run_task, call.tool, call.kind, call.params, call.ctx, **options)

    async def _task(self, call: _Call) -> Outcome:
        shared = self._shared
        future = call.dask_future
        result = asyncio.ensure_future(future.result())
        try:
            outcome = await self._watch(call, result)
        finally:
            if not result.done():
                result.cancel()
        if any(a not in shared.name_by_addr for a in [outcome.worker, *(a for a, _ in call.attempts)] if a):
            await self._refresh()           # a worker that joined since (a restart): learn its name
        if call.kind == "cpu":
            outcome.detail = {**outcome.detail, "gil_exclusive": self._cpu_resource}
        if len(call.attempts) > 1:
            outcome.detail = {**outcome.detail, "attempts": len(call.attempts),
                              "earlier_workers": [shared.label(a) for a, _ in call.attempts[:-1]]}
            if outcome.status != "crashed":
                outcome.detail["retried_on"] = shared.label(outcome.worker or call.attempts[-1][0])
        elif call.attempts:
            outcome.detail = {**outcome.detail, "attempts": 1}
        if outcome.detail.get("stuck_thread") and outcome.worker:
            outcome.detail.update(await shared.restart(outcome.worker, f"{call.ctx.call_id} hung in its thread"))
        return outcome

    async def _watch(self, call: _Call, result: asyncio.Future) -> Outcome:
        """Wait for a task's result; a worker silent ``BACKSTOP_S`` past the timeout of the call's latest
        attempt is frozen: restart it and report the call ``timeout``."""
        from distributed import KilledWorker
        shared = self._shared
        while True:
            limit = None
            if call.seen is not None:
                limit = max(0.0, call.seen + call.ctx.timeout_s + BACKSTOP_S - time.perf_counter())
            waiter = asyncio.ensure_future(call.started.wait())
            done, _ = await asyncio.wait({result, waiter}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if result in done:
                break
            if waiter in done:
                call.started.clear()
                call.seen = time.perf_counter()
                continue
            addr = call.addr
            restart = await shared.restart(addr, f"{call.ctx.call_id} froze its worker")
            await self._drop(call)
            return Outcome("timeout", {"frozen_worker": True, **restart},
                           f"no word from {shared.label(addr)} {BACKSTOP_S:g} s past the call's "
                           f"{call.ctx.timeout_s:g} s timeout: the worker was restarted", worker=addr)
        try:
            return result.result()
        except KilledWorker as exc:
            await self._refresh()               # no io call goes to the dead worker's address
            addr = getattr(exc.last_worker, "address", None) or call.addr
            outcome = shared.lost(call, addr, exc)
            outcome.detail["dask"] = f"KilledWorker after {exc.allowed_failures + 1} worker death(s)"
            return outcome
        except (asyncio.CancelledError, concurrent.futures.CancelledError):    # Dask's FutureCancelledError
            return Outcome("cancelled", error="cancelled")
        except Exception as exc:  # noqa: BLE001 - e.g. a result that could not be unpickled
            status, message = classify(exc)
            return Outcome(status, error=message, worker=call.addr)

    async def _on_cancel(self, call: _Call) -> None:
        call.cancelled = True
        shared = self._shared
        if call.kind == "io":
            if call.addr is not None:
                try:
                    await shared.client.rpc(call.addr).agent_io_cancel(token=call.token)
                except OSError:
                    pass
        elif call.dask_future is not None and not call.attempts:
            await self._drop(call)          # not started: it never will; started: it runs on, discarded

    async def _drop(self, call: _Call) -> None:
        """Release a task's key on the cluster (on this loop, ``Client.cancel`` must be awaited)."""
        await self._shared.client.cancel([call.dask_future], asynchronous=True)

    async def _stamp(self, call: _Call, outcome: Outcome) -> None:
        """Put the worker's stamps on our clock; label the worker; say how exact the mapping is."""
        shared = self._shared
        received = time.perf_counter()
        addr = outcome.worker
        outcome.worker = shared.label(addr)
        if addr is None or outcome.started_at is None or outcome.elapsed_s is None:
            return
        mapping = await shared.offset(addr)
        if mapping is None:
            outcome.started_at = None       # the worker is gone: the runner falls back to its own stamps
            return
        offset, error = mapping
        elapsed = min(outcome.elapsed_s, received - call.submitted)
        outcome.started_at = min(max(outcome.started_at - offset, call.submitted), received - elapsed)
        outcome.elapsed_s = elapsed
        outcome.detail = {**outcome.detail, "clock_error_ms": round(error * 1000, 3)}

