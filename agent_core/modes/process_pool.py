"""process-pool: every call on a warm ``ProcessPoolExecutor`` (forkserver). CPU work runs in parallel."""
from __future__ import annotations

from ..machine import default_processes
from . import ALL_KINDS, Plan

SUMMARY = "a warm process pool: CPU work runs in parallel on every core; each call is pickled across"
COLOUR = "#54A24B"
SNIPPET = "process_pool"
ROUTES = dict.fromkeys(ALL_KINDS, "pool")
LOOP = False
MAX_WORKERS = 16


def plan(workload, workers: int | None) -> Plan:
    n = workers or default_processes()
    return Plan(workers=n, sizes={"pool": n})
