"""asyncio: every call on one event loop, the way naive asyncio code does it.

``io`` tools are awaited (and cancelled at their timeout by ``asyncio.timeout``) and overlap. The other
tools have no async API, so they are called directly in a coroutine and freeze the loop for as long as
they run: the trap, made visible by the heartbeat (a ``sandboxed_script`` runs unprotected, on the
loop's own thread). ``async_twins`` awaits ``aiosqlite`` for ``memory_write`` instead. ``workers``,
when given, caps how many calls are in flight (a semaphore).
"""
from __future__ import annotations

from . import ALL_KINDS, Plan

SUMMARY = "one event loop: I/O overlaps, but blocking and CPU calls run on the loop and freeze it"
COLOUR = "#4C78A8"
SNIPPET = "asyncio_loop"
ROUTES = dict.fromkeys(ALL_KINDS, "loop")
LOOP = True
MAX_WORKERS = 500
CAUSES = {"io": "client CPU: every request is the HTTP client's work on the one loop thread",
          "cpu": "one core, on the loop's thread"}


def plan(workload, workers: int | None) -> Plan:
    return Plan(workers=workers, limit=workers)
