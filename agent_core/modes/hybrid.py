"""hybrid: each call goes to the primitive its kind calls for, all orchestrated from one event loop.

``io`` → awaited on the loop; ``blocking`` → a thread pool sized by the engine (asyncio's default
executor has only min(32, cores + 4) = 6 workers here); ``cpu`` → the warm process pool; ``isolated``
→ a child process of its own. ``workers``, when given, sizes the thread pool. Calls are started one
loop iteration apart, so the loop stays responsive while they start.
"""
from __future__ import annotations

from ..machine import default_processes
from . import Plan

SUMMARY = "each kind to its primitive from one loop: io awaited, blocking in threads, cpu in processes"
COLOUR = "#E45756"
SNIPPET = "hybrid"
ROUTES = {"io": "loop", "blocking": "thread", "cpu": "pool", "isolated": "child"}
LOOP = True
MAX_WORKERS = 64
CAUSES = {"io": "client CPU: every request is the HTTP client's work on the one loop thread", "cpu": "every core busy"}
MAX_THREADS = 64


def plan(workload, workers: int | None) -> Plan:
    blocking = workload.count_kind("blocking")
    threads = (workers or min(MAX_THREADS, blocking)) if blocking else 0
    return Plan(workers=threads or None, sizes={"thread": threads, "pool": default_processes()}, stagger=True)
