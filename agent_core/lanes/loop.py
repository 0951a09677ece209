"""loop: the call runs on the run's event loop, in this process (``asyncio`` mode, ``io`` in ``hybrid``).

``io`` tools are awaited and overlap (through the run's async HTTP clients, over its ``http`` transport);
with ``async_twins`` a blocking tool's async twin (aiosqlite) is awaited too. Every other call has only a
blocking implementation, so it runs right on the loop's thread and freezes the loop while it does: the trap,
made visible by the heartbeat.

TIMEOUT: an awaited call is cancelled by ``asyncio.timeout`` at its deadline (``timeout``, nothing left
running). A blocking call on the loop cannot be interrupted: it is found late, when it returns. CANCEL:
an awaited call is cancelled at its next ``await``; a blocking one finishes first (the loop is not free
to deliver the cancel until it does).
"""
from __future__ import annotations

import asyncio

from .._execute import Outcome
from ..calls import call_async
from ..workload import DEFAULT_HTTP
from . import Job, Lane


class LoopLane(Lane):
    name = "loop"
    title = "event loop"
    where = "on the event loop's thread"
    async_http = True           # io calls go through async clients built over the run's ``http`` transport

    def __init__(self, size: int | None = None, options=None) -> None:
        super().__init__(size, options)
        self.async_twins = bool(options and options.async_twins)
        self.transport = options.http if options else DEFAULT_HTTP
        self.http = None

    async def open(self, workload) -> None:
        if n_io := workload.count_kind("io"):
            from ..tools.http_tools import AsyncClients
            self.http = AsyncClients(n_io, self.transport)          # bound to this loop: built on it, closed on it

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()
            self.http = None

    async def call(self, job: Job) -> Outcome:
        call, ctx = job.call, job.ctx
        if self.http is not None and call.kind == "io":
            ctx.http = self.http.for_call(call.index)
        job.begin("event-loop")
        try:
            async with asyncio.timeout(job.timeout_s):
                return await call_async(call.tool, call.params, ctx, self.async_twins)
        except TimeoutError:
            return Outcome("timeout", error=f"cancelled by asyncio.timeout after {job.timeout_s:g} s")
