"""sequential: one call after another, in the calling thread. The baseline: wall ≈ Σ task time."""
from __future__ import annotations

from . import ALL_KINDS, Plan

SUMMARY = "one call after another in the calling thread: the baseline (wall ≈ Σ task time)"
IN_PROCESS_KINDS = ALL_KINDS
LOOP = False
MAX_WORKERS = 1


def plan(workload, workers: int | None) -> Plan:
    return Plan(workers=1)


def schedule(run) -> None:
    for call in run.calls:
        run.call_here(call)
