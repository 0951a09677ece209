"""subprocess: each call in a fresh Python child of its own, at most ``workers`` at once.

The isolation primitive: a hard timeout that kills the child's whole process group, limits the child
sets on itself, a crash that takes only that call. The price is an interpreter start per call. The
children are awaited from an event loop in this process (no thread per child).
"""
from __future__ import annotations

from . import ALL_KINDS, Plan, said_s

SUMMARY = "a fresh child process per call: hard timeouts and crash isolation, an interpreter start each"
COLOUR = "#B279A2"
SNIPPET = "subprocess_children"
ROUTES = dict.fromkeys(ALL_KINDS, "child")
LOOP = True
MAX_WORKERS = 16
DEFAULT_WORKERS = 8
CAUSES = {"io": "process start-up: an interpreter and its imports per call",
          "cpu": "process start-up on top of the CPU work"}


def plan(workload, workers: int | None) -> Plan:
    n = workers or DEFAULT_WORKERS
    return Plan(workers=n, sizes={"child": n})


def notes(report) -> list[str]:
    if not report.tasks:
        return []
    return [f"Every call started its own interpreter: the {len(report.tasks)} children used {said_s(report.sum_cpu_s)} "
            "of CPU between them, much of it starting Python and importing the tool's libraries."]


def reason(report) -> str | None:
    if not report.tasks:
        return None
    return (f"each of its {len(report.tasks)} calls paid for a fresh interpreter ({said_s(report.sum_cpu_s)} of CPU "
            "in all)")
