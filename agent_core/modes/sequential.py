"""sequential: one call after another, in the calling thread. The baseline: wall ≈ Σ task time."""
from __future__ import annotations

from . import ALL_KINDS, Plan

SUMMARY = "one call after another in the calling thread: the baseline (wall ≈ Σ task time)"
COLOUR = "#9D9D9D"
SNIPPET = "sequential"
ROUTES = dict.fromkeys(ALL_KINDS, "here")
LOOP = False
MAX_WORKERS = 1
CAUSES = {"io": "one call at a time: every call adds its full latency",
          "cpu": "one core: the other cores idle"}


def plan(workload, workers: int | None) -> Plan:
    return Plan(workers=1)


def reason(report) -> str:
    return "it waits for each call before starting the next"
