"""The Dask lane's clock mapping: a worker stamps its calls with its own ``time.perf_counter()``; this
places those stamps on *this* process's ``perf_counter``, within a measured bound.

Cristian's algorithm: :data:`CLOCK_ROUND_TRIPS` round trips to the worker's ``agent_clock`` handler
(:mod:`agent_core.lanes._dask_worker`), keeping the fastest: the worker read its clock somewhere inside
that round trip, so its midpoint gives the offset and its half bounds the error. Measured when a run is
prepared, and for any worker first seen later (a restarted one).
"""
from __future__ import annotations

import time

from .._execute import Outcome

CLOCK_ROUND_TRIPS = 15


class ClockMap:
    """Per cluster: each worker's ``perf_counter`` minus ours, and the error bound of that figure."""

    def __init__(self, client) -> None:
        self.client = client
        self.offsets: dict[str, tuple[float, float]] = {}    # address -> (offset, error bound), seconds

    async def measure(self, addr: str) -> tuple[float, float]:
        """The fastest of ``CLOCK_ROUND_TRIPS`` round trips gives the worker's offset, within half of it."""
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
        """The worker's mapping, measured now if it is new; None if it cannot be reached (it is gone)."""
        if addr not in self.offsets:
            try:
                await self.measure(addr)
            except (OSError, KeyError):
                return None
        return self.offsets[addr]

    def error_s(self, addrs: list[str]) -> float:
        """The worst error bound over these workers."""
        return max(self.offsets[a][1] for a in addrs)

    async def place(self, outcome: Outcome, addr: str | None, sent: float, received: float) -> None:
        """Put the stamps of a call that ran on ``addr`` on our clock, clamped to when it was ``sent`` and
        when its result was ``received``; say how exact the mapping is (``detail["clock_error_ms"]``)."""
        if addr is None or outcome.started_at is None or outcome.elapsed_s is None:
            return
        mapping = await self.offset(addr)
        if mapping is None:
            outcome.started_at = None       # the worker is gone: the runner falls back to its own stamps
            return
        offset, error = mapping
        elapsed = min(outcome.elapsed_s, received - sent)
        outcome.started_at = min(max(outcome.started_at - offset, sent), received - elapsed)
        outcome.elapsed_s = elapsed
        outcome.detail = {**outcome.detail, "clock_error_ms": round(error * 1000, 3)}
