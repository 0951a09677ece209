"""The Dask lane's worker side: what runs inside a Dask worker process (see :mod:`agent_core.lanes.to_dask`).

- :class:`AgentPlugin`, registered once per cluster, is installed by the scheduler on every worker,
  including each one a nanny restarts. It warms the tool modules and the HTTP stack, keeps a few
  ``httpx.AsyncClient`` for the worker's event loop over each async transport (``workload.HTTP_CLIENTS``; one
  that cannot be imported there is left out, and a call asking for it says so), and adds three comm handlers
  to the worker:
  ``agent_io`` (run one io call as a coroutine on the worker's event loop), ``agent_io_cancel`` and
  ``agent_clock`` (this process's ``time.perf_counter()``, for the lane's clock mapping).
- :func:`run_task` is the task function of ``blocking``, ``cpu`` and ``isolated`` calls: it runs in a
  worker thread, announces its start on the ``agent-core-start`` event topic, and returns an
  :class:`~agent_core._execute.Outcome` stamped with the worker's clock.

Why io calls are not Dask tasks: this version of ``distributed`` does await an ``async def`` task
function on the worker's event loop (``Worker.execute`` → ``_run_task_async``), but the worker's state
machine starts a task only while ``len(executing) < nthreads`` (``WorkerState._ensure_computing``), so a
coroutine task still holds one of the worker's thread slots: measured here, 50 tasks of 200 ms on two
workers with one thread each took 5.1 s with 2 running at once. Out of band, on the same loop, they all
overlap.
"""
from __future__ import annotations

import asyncio
import importlib
import os
import threading
import time

from distributed import WorkerPlugin, get_worker

from .._execute import Outcome, run_tool_async
from ..calls import call_blocking
from ..catalog import CATALOG
from ..tools import ToolContext
from ..usertools import impl_of
from ..workload import DEFAULT_HTTP, HTTP_CLIENTS

PLUGIN_NAME = "agent-core"
START_TOPIC = "agent-core-start"
ASYNC_CLIENTS = 4            # per worker; each holds at most 100 connections (see http_tools.AsyncClients)
HANDLERS = ("agent_io", "agent_io_cancel", "agent_clock")


class AgentPlugin(WorkerPlugin):
    """Installed on every worker of the cluster (and on every worker that joins or restarts)."""

    idempotent = False

    async def setup(self, worker) -> None:
        from ..tools import http_tools
        for spec in CATALOG.values():           # import every tool's module now, not in a measured call
            importlib.import_module(spec.module)
        self.calls: dict[str, asyncio.Task] = {}
        self.next = 0
        self.http: dict[str, http_tools.AsyncClients] = {}      # transport -> this worker's clients over it
        self.missing: dict[str, str] = {}                       # transport -> why this worker has none
        for transport in HTTP_CLIENTS:
            try:
                self.http[transport] = http_tools.AsyncClients(ASYNC_CLIENTS * http_tools.CALLS_PER_ASYNC_CLIENT,
                                                               transport)
            except ImportError as exc:          # a worker of a cluster set up elsewhere may lack httpx-aiohttp
                self.missing[transport] = f"{type(exc).__name__}: {exc}"
                continue
            await _warm_http(self.http[transport].clients[0], http_tools.sync_client())
        worker.handlers.update(agent_io=self.io, agent_io_cancel=self.cancel, agent_clock=clock)

    async def teardown(self, worker) -> None:
        for name in HANDLERS:
            worker.handlers.pop(name, None)
        for task in list(self.calls.values()):
            task.cancel()
        for clients in self.http.values():
            await clients.aclose()

    async def io(self, token: str, tool: str, params: dict, ctx: dict, http: str = DEFAULT_HTTP) -> dict:
        """Handler ``agent_io``: one io call, awaited on this worker's event loop over the ``http`` transport's
        clients, bounded by its timeout."""
        t = time.perf_counter()
        if http not in self.http:
            why = self.missing.get(http, "not a transport of this worker's agent_core")
            return {"status": "error", "detail": {}, "cpu_s": 0.0, "t": t, "elapsed": time.perf_counter() - t,
                    "pid": os.getpid(), "error": f"this Dask worker has no {http} HTTP transport ({why})"}
        client = self.http[http].for_call(self.next)
        self.next += 1
        task = asyncio.ensure_future(_io_call(tool, params, ToolContext(**ctx, http=client)))
        self.calls[token] = task
        try:
            outcome = await task
        finally:
            self.calls.pop(token, None)
        return {"status": outcome.status, "detail": outcome.detail, "error": outcome.error, "cpu_s": outcome.cpu_s,
                "t": t, "elapsed": time.perf_counter() - t, "pid": os.getpid()}

    def cancel(self, token: str) -> bool:
        """Handler ``agent_io_cancel``: cancel a running io call (it ends ``cancelled`` at its next await)."""
        task = self.calls.get(token)
        if task is None or task.done():
            return False
        task.cancel()
        return True


def clock() -> float:
    """Handler ``agent_clock``."""
    return time.perf_counter()


async def _warm_http(client, sync_client) -> None:
    """httpx and httpcore import parts of themselves on a client's first request (~15 ms): pay it here,
    against a port nothing listens on (refused at once), so no call is charged for it."""
    import httpx
    try:
        await client.get("http://127.0.0.1:1/")
    except httpx.HTTPError:
        pass
    try:
        await asyncio.to_thread(sync_client.get, "http://127.0.0.1:1/")
    except httpx.HTTPError:
        pass


async def _io_call(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    try:
        async with asyncio.timeout(ctx.timeout_s):
            return await run_tool_async(impl_of(tool, "aio", ctx), params, ctx)
    except TimeoutError:
        return Outcome("timeout", error=f"cancelled by asyncio.timeout after {ctx.timeout_s:g} s on its worker's "
                                        "event loop")
    except asyncio.CancelledError:
        return Outcome("cancelled", error="cancelled on its worker's event loop")


def ping() -> int:
    """Warm-up task: the worker's task path (deserialising this module's functions) is ready after it."""
    return os.getpid()


def run_task(tool: str, kind: str, params: dict, ctx: ToolContext) -> Outcome:
    """A ``blocking``, ``cpu`` or ``isolated`` call, in a Dask worker thread.

    ``isolated`` calls run in a child process of their own (:func:`agent_core.childproc.run_in_child`:
    limits, and its process group killed at the timeout). Other calls run in a thread of their own,
    which this worker thread waits for until the call's timeout: a call that does not return by then is
    reported ``timeout`` with ``detail["stuck_thread"]`` (its thread cannot be killed; the lane then
    restarts the worker). The call's start is announced on :data:`START_TOPIC` so the lane knows where
    each attempt ran and when.
    """
    worker = get_worker()
    t = time.perf_counter()
    worker.log_event(START_TOPIC, {"key": worker.get_current_task(), "worker": worker.address, "t": t,
                                   "pid": os.getpid()})
    if kind == "isolated":
        from ..childproc import run_in_child
        outcome = run_in_child(tool, params, ctx)
        outcome.detail = {**outcome.detail, "child": outcome.worker}
    else:
        outcome = _bounded(tool, params, ctx)
    outcome.started_at, outcome.elapsed_s = t, time.perf_counter() - t
    outcome.worker = worker.address
    outcome.detail = {**outcome.detail, "pid": os.getpid()}
    return outcome


def _bounded(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    box: list[Outcome] = []
    thread = threading.Thread(target=lambda: box.append(call_blocking(tool, params, ctx)),
                              name=f"agent-call {ctx.call_id}", daemon=True)
    thread.start()
    thread.join(ctx.timeout_s)
    if box:
        return box[0]
    return Outcome("timeout", {"stuck_thread": True},
                   f"no answer within {ctx.timeout_s:g} s on its Dask worker; a thread cannot be interrupted")
