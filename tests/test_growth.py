"""Finding 9c: a long-lived process (the app) runs workload after workload; nothing may pile up.

Measured without calling ``gc.collect()`` first: the app never does, so neither does this test. Before the
fix, file descriptors climbed by ~10 for every pool a fault broke (its pipes waited for a full collection),
and every run's objects (a run is a reference cycle) were frozen by ``gc.freeze()`` and never collected.
"""
from __future__ import annotations

import gc
import os
import threading
import time

import agent_core
from agent_core import _tmp

from .conftest import call_children, descendants

FAST = {"web_search": {"latency_ms": 5}, "analysis": {"work": 2000}, "memory_write": {"rows": 10}}
SPEC = "web_search:2,memory_write:1,analysis:1"
# (mode, fault on analysis): crash breaks the pool in process-pool and hybrid and is hosted in the other
# in-process modes; spin overruns its 0.5 s timeout (a pool worker's alarm, an abandoned thread, a killed child)
FAULTS = [None, ("crash", 1.0), ("raise", 1.0), ("spin", 1.0)]
SLACK_FDS = 2


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(threads_before: int) -> None:
    """Abandoned threads end by themselves once their fault's time is up."""
    deadline = time.monotonic() + 15
    while (agent_core.abandoned_calls() or threading.active_count() > threads_before) and time.monotonic() < deadline:
        time.sleep(0.05)


# What kept them growing: gc.freeze() in every run's prepare left each run's cycles uncollected (now
# agent_core/engine/run.py collects before it), and a killed pool's pipes stayed open (now _pool._kill closes them).
def test_runs_across_modes_and_faults_leave_fds_memory_and_processes_flat():
    modes = agent_core.MODES
    for mode in modes:                          # warm every mode: the backend, clients, the pool, imports
        agent_core.run(SPEC, mode, params=FAST)
    gc.collect()
    threads_before, fds_before, kids_before = threading.active_count(), fds(), len(descendants())
    gc.collect()                                # from here on, only the collections the process makes itself

    runs = 0
    for fault in FAULTS:
        for mode in modes:
            faults = {"analysis": fault} if fault else None
            report = agent_core.run(SPEC, mode, params=FAST, faults=faults, timeout_s=0.5)
            runs += 1
            assert len(report.tasks) == 4
            assert call_children() == {}, "a call's child outlived its run"
    settle(threads_before)

    assert agent_core.abandoned_calls() == []
    assert fds() <= fds_before + SLACK_FDS, f"{fds() - fds_before} more file descriptors after {runs} runs"
    assert len(descendants()) <= kids_before, "a process outlived its run (replaced pools keep their size)"
    root = _tmp.run_root()
    assert [d for d in os.listdir(root) if d.startswith("run-")] == [], "a run's folder outlived it"
    left = gc.collect()
    assert left < 2_000, f"{left} objects of finished runs were still waiting for a full collection"
    assert runs == len(FAULTS) * len(modes)
