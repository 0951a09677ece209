"""Where one call's work happens: this thread, this loop, or a process-pool worker.

Light on purpose: process-pool workers import this module (it is the fork server's preload). A call
runs wherever its mode puts it; an ``isolated`` tool gets a child process of its own only in the modes
that give it one (``subprocess``, ``hybrid``: see :mod:`agent_core.childproc`). Elsewhere it runs
unprotected, and a crash there takes its host down: that is what the modes are here to show.
"""
from __future__ import annotations

import os
import resource
import signal
import time

from ._execute import Outcome, run_tool, run_tool_async
from ._supervise import die_with
from .catalog import CATALOG
from .errors import ToolTimeout
from .tools import ToolContext
from .usertools import impl_of

POOL_WORKER_MEM_MB = 1024       # each pool worker limits its own address space (a memory fault meets it)
WORKER_NICENESS = 10


def call_blocking(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    """Run the call's blocking implementation and block this thread until it is done."""
    return run_tool(impl_of(tool, "sync", ctx), params, ctx)


async def call_async(tool: str, params: dict, ctx: ToolContext, async_twins: bool = False) -> Outcome:
    """Run the call from the event loop, the way plain asyncio code would.

    ``io`` tools are awaited (and, with ``async_twins``, a blocking tool's async twin, such as
    ``aiosqlite`` for ``memory_write``). Any other call has only a blocking implementation, so it runs
    right here, on the loop's thread, and freezes the loop while it does.
    """
    spec = CATALOG[tool]
    if spec.aio and (spec.kind == "io" or async_twins):
        return await run_tool_async(impl_of(tool, "aio", ctx), params, ctx)
    return run_tool(impl_of(tool, "sync", ctx), params, ctx)   # blocking the loop on purpose: the trap, made visible


# -- process-pool workers ------------------------------------------------------------------------------------

def _alarm(signum, frame) -> None:
    raise ToolTimeout("no answer in time: the pool worker's alarm interrupted the call")


def init_worker(owner_pid: int) -> None:
    """A pool worker sets its own limits (never ``preexec_fn``), arms its timeout handler, builds its client,
    and dies with ``owner_pid``, the process whose pool it is (its parent is the fork server, which outlives it).

    It also lowers its own priority: CPU work is throughput, the event loop and the backend are latency.
    When both want a core, the OS scheduler now prefers the loop (on 2 cores, two busy workers would
    otherwise preempt it for whole time slices); when the loop is idle, the workers lose nothing."""
    die_with(owner_pid)
    os.nice(WORKER_NICENESS)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = POOL_WORKER_MEM_MB << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit if hard == resource.RLIM_INFINITY else min(limit, hard)))
    signal.signal(signal.SIGALRM, _alarm)
    from .tools import http_tools
    http_tools.sync_client()


def pool_task(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    """Runs in a process-pool worker: the call, timed where it runs, labelled with the worker's pid.

    The worker enforces the call's timeout itself with SIGALRM (a worker runs its task in its main
    thread, where signals arrive), so a stuck call frees its worker. ``time.perf_counter`` is
    CLOCK_MONOTONIC, one clock for every process on the machine, so the runner can place these stamps
    on its own timeline.
    """
    t = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, ctx.timeout_s)
    try:
        outcome = call_blocking(tool, params, ctx)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    outcome.started_at, outcome.elapsed_s = t, time.perf_counter() - t
    outcome.worker = f"pid {os.getpid()}"
    return outcome


def hello(hold_s: float) -> int:
    """Warm-up task: keeps its worker busy a moment so the next warm-up task lands on another worker."""
    time.sleep(hold_s)
    return os.getpid()
