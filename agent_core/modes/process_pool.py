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
CAUSES = {"io": "a worker per core: network calls queue behind each other ({workers} workers)",
          "cpu": "every core busy"}


def plan(workload, workers: int | None) -> Plan:
    n = workers or default_processes()
    return Plan(workers=n, sizes={"pool": n})


def _queued_io(report) -> int:
    """Network calls beyond the pool's workers: they queued although they were only waiting."""
    io_calls = sum(t.kind == "io" for t in report.tasks)
    return io_calls if report.workers and io_calls > report.workers else 0


def notes(report) -> list[str]:
    if not (io_calls := _queued_io(report)):
        return []
    return [f"The pool has {report.workers} workers, so {io_calls} network calls queued behind each other "
            "although they were only waiting: processes are for CPU work."]


def reason(report) -> str | None:
    if not (io_calls := _queued_io(report)):
        return None
    return f"its {report.workers} workers made {io_calls} network calls queue"
