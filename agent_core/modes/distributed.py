"""distributed: every call on a Dask cluster — an embedded ``LocalCluster`` by default, or the cluster at
``DASK_SCHEDULER_ADDRESS`` (Dask's own convention) when it is set.

``io`` calls run as coroutines on the workers' event loops (many at once per worker), ``blocking`` ones in
worker threads, ``cpu`` ones spread over the worker processes (one at a time per process: no shared
GIL), ``isolated`` scripts in a child process each worker starts. ``workers``, when given, caps how many
of the cluster's workers the run uses. The cluster starts once per process, before any clock.
"""
from __future__ import annotations

from . import ALL_KINDS, Plan, said_s

SUMMARY = "a Dask cluster: the same calls spread over its worker processes — or over many machines"
COLOUR = "#72B7B2"
SNIPPET = "distributed"
ROUTES = dict.fromkeys(ALL_KINDS, "dask")
LOOP = False
MAX_WORKERS = 64
CAUSES = {"io": "client CPU: every call is a message to a worker and back, through this process's Dask client",
          "cpu": "task scheduling: each cpu call waits for the scheduler to hand it to a worker with a free CPU slot"}


def plan(workload, workers: int | None) -> Plan:
    return Plan(workers=workers, sizes={"dask": workers} if workers else {})


def _worker(label: str) -> str:
    return label.split(" · ")[0]            # "dask worker 2 · tcp://127.0.0.1:41191" -> "dask worker 2"


def notes(report) -> list[str]:
    """Where the calls ran, and whether CPU calls had a worker process (and its GIL) each."""
    if not report.tasks:
        return []
    workers = list(dict.fromkeys(_worker(t.worker) for t in report.tasks))
    out = [f"The {len(report.tasks)} calls ran on {len(workers)} Dask worker process"
           f"{'es' * (len(workers) != 1)} ({', '.join(workers)})."]
    cpu = [t for t in report.tasks if t.kind == "cpu"]
    if len(cpu) >= 2 and all(t.detail.get("gil_exclusive") for t in cpu):
        spread = len({_worker(t.worker) for t in cpu})
        out.append(f"Each of its {len(cpu)} CPU calls held its worker's one CPU slot, so no two shared a GIL; "
                   f"they ran on {spread} worker process{'es' * (spread != 1)}.")
    restarted = [t for t in report.tasks if t.detail.get("worker_restarted")]
    if restarted:
        out.append(f"{len(restarted)} of its calls overran their timeout in a worker thread, which cannot be "
                   f"stopped: their workers were restarted (up to {_restart(restarted)} each).")
    return out


def _restart(calls) -> str:
    return said_s(max(t.detail.get("restart_s", 0.0) for t in calls))


def reason(report) -> str | None:
    """A worker restart, or CPU calls that took far longer than their CPU time on the worker processes."""
    restarted = [t for t in report.tasks if t.detail.get("worker_restarted")]
    if restarted:
        return (f"{len(restarted)} of its calls overran in a worker thread, and restarting a worker took "
                f"{_restart(restarted)}")
    cpu = [t for t in report.tasks if t.kind == "cpu"]
    wall, used = sum(t.duration_s for t in cpu), sum(t.cpu_s for t in cpu)
    if cpu and wall > 1.5 * used:
        workers = len({_worker(t.worker) for t in cpu})
        names = ", ".join(dict.fromkeys(t.tool for t in cpu))
        return (f"its {names} calls took {said_s(wall)} for {said_s(used)} of CPU on {workers} worker "
                f"process{'es' * (workers != 1)} sharing {report.cores} cores with everything else")
    return None
