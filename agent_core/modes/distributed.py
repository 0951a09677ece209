"""distributed: every call on a Dask cluster — an embedded ``LocalCluster`` by default, or the cluster at
``DASK_SCHEDULER_ADDRESS`` (Dask's own convention) when it is set.

``io`` calls run as coroutines on the workers' event loops (many at once per worker), ``blocking`` ones in
worker threads, ``cpu`` ones spread over the worker processes (one at a time per process: no shared
GIL), ``isolated`` scripts in a child process each worker starts. ``workers``, when given, caps how many
of the cluster's workers the run uses. The cluster starts once per process, before any clock.
"""
from __future__ import annotations

from . import ALL_KINDS, Plan

SUMMARY = "a Dask cluster: the same calls spread over its worker processes — or over many machines"
COLOUR = "#72B7B2"
SNIPPET = "distributed"
ROUTES = dict.fromkeys(ALL_KINDS, "dask")
LOOP = False
MAX_WORKERS = 64


def plan(workload, workers: int | None) -> Plan:
    return Plan(workers=workers, sizes={"dask": workers} if workers else {})
