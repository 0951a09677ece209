"""Where one call's work happens: this thread, this loop, a child process, or a process-pool worker.

Light on purpose: process-pool workers import this module (it is the forkserver's preload), so it
pulls in nothing beyond the catalog until a tool needs it. An ``isolated`` tool always runs in a child
of its own, whatever the mode: isolation is what the tool is for.
"""
from __future__ import annotations

import importlib
import os
import time

from ._execute import Outcome, run_tool, run_tool_async
from .catalog import CATALOG
from .tools import ToolContext


def call_blocking(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    """Run the call and block this thread until it is done."""
    spec = CATALOG[tool]
    if spec.kind == "isolated":
        from .childproc import run_in_child
        return run_in_child(tool, params, ctx)
    return run_tool(spec.impl("sync"), params, ctx)


async def call_async(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    """Run the call from the event loop, the way plain asyncio code would.

    ``io`` tools are awaited; an ``isolated`` tool's child is awaited without blocking; any other tool
    has only a blocking implementation, so it runs right here and freezes the loop while it does.
    """
    spec = CATALOG[tool]
    if spec.kind == "isolated":
        from .childproc import arun_in_child
        return await arun_in_child(tool, params, ctx)
    if spec.kind == "io" and spec.aio:
        return await run_tool_async(spec.impl("aio"), params, ctx)
    return run_tool(spec.impl("sync"), params, ctx)   # noqa: ASYNC - blocking on purpose: the trap, made visible


def pool_task(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    """Runs in a process-pool worker: the call, timed where it runs, labelled with the worker's pid.

    ``time.perf_counter`` is CLOCK_MONOTONIC, one clock for every process on the machine, so the runner
    can place these stamps on its own timeline.
    """
    t = time.perf_counter()
    outcome = call_blocking(tool, params, ctx)
    outcome.started_at, outcome.elapsed_s = t, time.perf_counter() - t
    outcome.worker = outcome.worker or f"pid {os.getpid()}"
    return outcome


def warm(modules: tuple[str, ...]) -> int:
    """A pool worker's warm-up: import the tool modules the run will need, and say who we are."""
    for name in modules:
        importlib.import_module(name)
        if name.endswith("http_tools"):
            importlib.import_module(name).sync_client()
    return os.getpid()
