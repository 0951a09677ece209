"""threads: every call on a pool of threads. Waiting overlaps; pure-Python CPU work does not (the GIL)."""
from __future__ import annotations

from . import ALL_KINDS, Plan

SUMMARY = "a thread pool: I/O and blocking calls overlap, pure-Python CPU work is serialised by the GIL"
COLOUR = "#F58518"
SNIPPET = "threads"
ROUTES = dict.fromkeys(ALL_KINDS, "thread")
LOOP = False
MAX_WORKERS = 64
CAUSES = {"io": "pool saturation: more calls than threads, so they queue ({workers} workers)",
          "cpu": "the GIL: threads take turns on one core"}
DEFAULT_WORKERS = 32


def plan(workload, workers: int | None) -> Plan:
    n = workers or min(DEFAULT_WORKERS, workload.n_calls)
    return Plan(workers=n, sizes={"thread": n})
