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
IN_PROCESS_KINDS = frozenset({"io", "blocking"})
LOOP = True
MAX_WORKERS = 64
MAX_THREADS = 64
ROUTES = {"io": "call_on_loop", "blocking": "call_in_thread", "cpu": "call_in_pool", "isolated": "call_in_child"}


def plan(workload, workers: int | None) -> Plan:
    blocking = workload.count_kind("blocking")
    threads = (workers or min(MAX_THREADS, blocking)) if blocking else 0
    processes = default_processes() if workload.count_kind("cpu") else 0
    return Plan(workers=threads or None, threads=threads, processes=processes, async_http=True)


async def schedule(run) -> None:
    await run.gather(run.calls, lambda call: getattr(run, ROUTES[call.kind])(call), stagger=True)
