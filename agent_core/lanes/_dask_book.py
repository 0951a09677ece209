"""The Dask lane's bookkeeping shared by every run on one cluster (so one per process): the client, the
workers' names, labels and resources, their clocks (:mod:`agent_core.lanes._dask_clock`), the lane's
restarts and why, where each task started, and why a worker died.

Everything here runs on the Dask client's own event loop (a thread of this process). Importing this module
does not import ``distributed``: making a book does.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid

from .._execute import Outcome, classify
from ._dask_clock import ClockMap

RESTART_TIMEOUT_S = 30.0
MEMORY_TOPIC = "worker-restart-memory"      # distributed's nanny logs this when it ends a worker over its limit
EVENT_SLACK_S = 1.0                         # scheduler and lane clocks (time.time) may disagree by this much


class DaskCall:
    """One call on its way through the Dask lane: what to run, where it went, what it became."""

    __slots__ = ("token", "tool", "kind", "params", "ctx", "out", "submitted", "sent_at", "addr", "dask_future",
                 "attempts", "started", "seen", "cancelled", "key")

    def __init__(self, tool: str, kind: str, params: dict, ctx) -> None:
        self.token = uuid.uuid4().hex
        self.tool, self.kind, self.params, self.ctx = tool, kind, params, ctx
        self.out: concurrent.futures.Future = concurrent.futures.Future()
        self.submitted = time.perf_counter()
        self.sent_at = time.time()                # on the scheduler's kind of clock, for its events
        self.addr: str | None = None              # where it was sent (io) or last started (tasks)
        self.dask_future = None
        self.attempts: list[tuple[str, float]] = []     # (worker address, its start on the worker's clock)
        self.started: asyncio.Event | None = None
        self.seen: float | None = None            # when (our clock) the latest start event arrived
        self.cancelled = False
        self.key = f"agent-{tool}-{self.token}"


class ClusterBook:
    """Per cluster: worker identities, clocks, restarts, start events and deaths (see the module docstring)."""

    def __init__(self, cluster) -> None:
        from ._dask_worker import PLUGIN_NAME, START_TOPIC, AgentPlugin  # here: it imports distributed
        self.cluster = cluster
        self.client = cluster.client
        self.loop: asyncio.AbstractEventLoop = self.client.loop.asyncio_loop
        self.clocks = ClockMap(self.client)
        self.index: dict[str, int] = {}           # worker name -> 1-based index (address order at first sight)
        self.addr_by_name: dict[str, str] = {}
        self.name_by_addr: dict[str, str] = {}     # every worker seen, for labels of workers since gone
        self.resources: dict[str, dict] = {}
        self.memory_limit: dict[str, int] = {}     # every worker seen -> its nanny's memory limit, bytes
        self.io_inflight: dict[str, int] = {}
        self.restarting: dict[str, asyncio.Task] = {}
        self.restart_reason: dict[str, str] = {}  # address -> why the lane restarted it
        self.memory_kills: dict[str, tuple[float, dict]] = {}   # address -> its nanny's memory event
        self.by_key: dict[str, DaskCall] = {}
        self.client.register_plugin(AgentPlugin(), name=PLUGIN_NAME)
        self.client.subscribe_topic(START_TOPIC, self._on_start)
        self.client.subscribe_topic(MEMORY_TOPIC, self._on_memory_kill)

    @classmethod
    def of(cls, cluster) -> ClusterBook:
        """The cluster's book, made on first use."""
        with cluster.lock:
            book = cluster.extras.get("lane")
            if book is None:
                book = cluster.extras["lane"] = cls(cluster)
            return book

    # -- workers ---------------------------------------------------------------------------------------------
    async def refresh(self) -> None:
        workers = (await self.client.scheduler.identity(n_workers=-1))["workers"]
        self.addr_by_name = {str(w["name"]): addr for addr, w in workers.items()}
        self.name_by_addr.update({addr: name for name, addr in self.addr_by_name.items()})  # gone ones kept
        self.resources = {addr: dict(w.get("resources") or {}) for addr, w in workers.items()}
        self.memory_limit.update({addr: w["memory_limit"] for addr, w in workers.items() if w.get("memory_limit")})
        for addr in sorted(workers):
            self.index.setdefault(self.name_by_addr[addr], len(self.index) + 1)

    async def settle(self, expected: int, within: float) -> None:
        """:meth:`refresh` until the cluster has ``expected`` workers or ``within`` seconds have passed: a
        worker its nanny is restarting (after a crash, the memory limit, the lane's own restart) is back
        in about half a second, and a run prepared in that gap would use one worker fewer."""
        deadline = time.monotonic() + within
        await self.refresh()
        while len(self.addr_by_name) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            await self.refresh()

    async def try_refresh(self) -> None:
        """:meth:`refresh`, unless the scheduler cannot be reached right now."""
        try:
            await self.refresh()
        except OSError:
            pass

    def label(self, addr: str | None) -> str:
        if addr is None:
            return "dask"
        n = self.index.get(self.name_by_addr.get(addr, ""))
        return f"dask worker {n if n is not None else '?'} · {addr}"

    # -- restarts and deaths ---------------------------------------------------------------------------------
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
        await self.try_refresh()
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

    def _on_memory_kill(self, event) -> None:
        """A nanny ended its worker for using too much memory (``{"worker", "pid", "rss"}``)."""
        when, msg = event
        if isinstance(msg, dict) and msg.get("worker"):
            self.memory_kills[msg["worker"]] = (when, msg)

    async def memory_kill(self, call: DaskCall, addr: str) -> dict | None:
        """The nanny's memory event for ``addr`` since ``call`` was sent, if there is one. The event usually
        arrives before the news of the death (the nanny logs it, then terminates a process that must first
        free its memory); if not, the scheduler is asked once."""
        if addr not in self.memory_kills:
            try:
                for when, msg in await self.client.scheduler.events(topic=MEMORY_TOPIC):
                    self._on_memory_kill((when, msg))
            except OSError:
                pass
        when, msg = self.memory_kills.get(addr, (0.0, None))
        return msg if msg is not None and when >= call.sent_at - EVENT_SLACK_S else None

    async def lost(self, call: DaskCall, addr: str | None, exc: BaseException | None) -> Outcome:
        """A call whose worker died under it (or was restarted by the lane): ``crashed``, with why."""
        label = self.label(addr)
        why = self.restart_reason.get(addr or "")
        detail = {"lost_with_worker": label}
        if why:
            detail["worker_restarted_because"] = why
            return Outcome("crashed", detail, f"lost: {label} was restarted by the lane ({why}) before this call "
                                              "ended", worker=addr)
        error = f"lost: {label} died before this call ended"
        killed = await self.memory_kill(call, addr) if addr else None
        if killed is None:
            return Outcome("crashed", detail, error + (f" ({type(exc).__name__})" if exc is not None else ""),
                           worker=addr)
        limit = self.memory_limit.get(addr)
        error += f": killed by its nanny at {f'the {_size(limit)}' if limit else 'its'} memory limit"
        detail["killed_by"] = "its nanny: memory limit"
        if limit:
            detail["memory_limit_mb"] = round(limit / 2**20)
        if killed.get("rss"):
            error += f" (it held {_size(killed['rss'])})"
            detail["worker_rss_mb"] = round(killed["rss"] / 2**20)
        return Outcome("crashed", detail, error, worker=addr)


def _size(n: int) -> str:
    """1073741824 -> "1 GiB"; 1021 MiB -> "1021 MiB"."""
    if n % 2**30 == 0:
        return f"{n // 2**30} GiB"
    return f"{n / 2**20:.0f} MiB"
