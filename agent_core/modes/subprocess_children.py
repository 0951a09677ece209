"""subprocess: each call in a fresh Python child of its own, at most ``workers`` at once.

The isolation primitive: a hard timeout that kills the child's whole process group, limits the child
sets on itself, a crash that takes only that call. The price is an interpreter start per call. The
children are awaited from an event loop in this process (no thread per child).
"""
from __future__ import annotations

from . import ALL_KINDS, Plan

SUMMARY = "a fresh child process per call: hard timeouts and crash isolation, an interpreter start each"
COLOUR = "#B279A2"
SNIPPET = "subprocess_children"
ROUTES = dict.fromkeys(ALL_KINDS, "child")
LOOP = True
MAX_WORKERS = 16
DEFAULT_WORKERS = 8


def plan(workload, workers: int | None) -> Plan:
    n = workers or DEFAULT_WORKERS
    return Plan(workers=n, sizes={"child": n})
