"""process-pool: every call on a warm ``ProcessPoolExecutor`` (forkserver). CPU work runs in parallel."""
from __future__ import annotations

from ..machine import default_processes
from . import Plan

SUMMARY = "a warm process pool: CPU work runs in parallel on every core; each call is pickled across"
IN_PROCESS_KINDS = frozenset()
LOOP = False
MAX_WORKERS = 16


def plan(workload, workers: int | None) -> Plan:
    n = workers or default_processes()
    return Plan(workers=n, processes=n)


def schedule(run) -> None:
    run.wait_pool({run.submit_to_pool(call): call for call in run.calls})
