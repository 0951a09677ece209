"""to_child: each call in a fresh child process of its own (``subprocess`` mode, and ``isolated`` tools in
``hybrid``), awaited from the event loop; at most ``size`` children at once.

The child is a lean interpreter that sets its own limits (CPU seconds, address space, an alarm) and
leads its own process group; it dies with this process (:mod:`agent_core._supervise`).

TIMEOUT: at the call's deadline the child's whole process group is killed (SIGKILL) and reaped before
the call returns: ``timeout``, nothing left running. CANCEL: the same kill, at once. A crash takes only
the child: ``crashed``, with the signal that ended it.
"""
from __future__ import annotations

import asyncio

from .._execute import Outcome
from ..childproc import Child
from . import Job, Lane

DEFAULT_CHILDREN = 8


class ChildLane(Lane):
    name = "child"
    title = "children"
    in_process = False
    remote = True
    where = "in its child"
    default_size = DEFAULT_CHILDREN

    async def open(self, workload) -> None:
        self._gate = asyncio.Semaphore(self.size)

    async def call(self, job: Job) -> Outcome:
        async with self._gate:
            job.begin("child")
            return await Child(job.call.tool, job.call.params, job.ctx).await_()
