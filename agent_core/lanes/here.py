"""here: the call runs in the calling thread, start to end (``sequential`` mode).

TIMEOUT: nothing can interrupt a call here. It runs to its end, and one that came back after its
timeout is recorded as a ``timeout`` (found late). CANCEL: a call not started yet never starts; one
that is running finishes first.
"""
from __future__ import annotations

import threading

from .._execute import Outcome
from ..calls import call_blocking
from . import Job, Lane


class HereLane(Lane):
    name = "here"
    title = "caller"
    where = "in its own thread"

    def run(self, job: Job) -> Outcome:
        job.begin(threading.current_thread().name)
        return call_blocking(job.call.tool, job.call.params, job.ctx)
