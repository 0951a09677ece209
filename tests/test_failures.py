"""Failure boundaries, mode by mode: what a fault does to the faulty call, to the others, to the process.

Each cell of the mode × fault matrix asserts the outcome that mode's primitive really gives, measured; a test
fails when a mode of the registry or a fault kind has no cell. Every cell also meets the contract any mode
must (:func:`check_boundary`, which tests/test_recipes.py runs over a throwaway mode). Faults are short
(hang and spin last 2 s, timeouts are 1 s) so the matrix runs in about a minute and a half.
"""
from __future__ import annotations

import gc
import os
import threading
import time

import pytest

import agent_core
from agent_core import abandoned_calls
from agent_core.explain import explain_failure, failure_summary
from agent_core.faults import FAULT_KINDS
from agent_core.modes import MODES, in_process_kinds, uses_workers

from .conftest import call_children, descendants

FAST = {"web_search": {"latency_ms": 100}, "legacy_sdk": {"latency_ms": 100}, "analysis": {"work": 20_000},
        "sandboxed_script": {"size": 1000}}
FAULTY_TOOL = {"raise": "web_search", "hang": "legacy_sdk", "crash": "sandboxed_script", "memory": "analysis",
               "spin": "analysis"}
# A call's timeout leaves room for a fresh child's start-up: with a spin on one of the 2 cores, three web_search
# children took 0.45-0.74 s here (0.6 s timed them out now and then)
TIMEOUT_S, FAULT_S = 1.0, 2.0


def faulty_run(mode: str, fault: str, **kw) -> agent_core.RunReport:
    tool = FAULTY_TOOL[fault]
    spec = "web_search:3" if tool == "web_search" else f"web_search:3,{tool}:1"
    timeout = 10.0 if fault == "memory" else TIMEOUT_S     # touching ~1 GiB takes a while
    return agent_core.run(spec, mode, params=FAST, faults={tool: (fault, FAULT_S)}, timeout_s=timeout, **kw)


def faulty(r):
    (t,) = [t for t in r.tasks if t.id in r.faulty_ids]
    return t


def others(r):
    return [t for t in r.tasks if t.id not in r.faulty_ids]


# expected (faulty status, how the others end, did a sacrificial host die) per mode × fault
EXPECTED = {
    ("sequential", "raise"): ("error", "ok", None), ("asyncio", "raise"): ("error", "ok", None),
    ("threads", "raise"): ("error", "ok", None), ("process-pool", "raise"): ("error", "ok", None),
    ("subprocess", "raise"): ("error", "ok", None), ("hybrid", "raise"): ("error", "ok", None),
    # a hang: found late where nothing can interrupt it; abandoned in threads; cancelled, alarmed or killed elsewhere
    ("sequential", "hang"): ("timeout", "ok", None),
    ("asyncio", "hang"): ("timeout", "lost", None),        # the frozen loop made every awaited call overrun
    ("threads", "hang"): ("timeout", "ok", None), ("process-pool", "hang"): ("timeout", "ok", None),
    ("subprocess", "hang"): ("timeout", "ok", None), ("hybrid", "hang"): ("timeout", "ok", None),
    # a segfault: the whole in-process run is lost; a pool breaks; a child dies alone
    ("sequential", "crash"): ("crashed", "lost", True), ("asyncio", "crash"): ("crashed", "lost", True),
    ("threads", "crash"): ("crashed", "lost", True), ("process-pool", "crash"): ("crashed", "any", None),
    ("subprocess", "crash"): ("crashed", "ok", None), ("hybrid", "crash"): ("crashed", "ok", None),
    # eating memory: every process that can run it has a limit it set itself, so it meets a MemoryError
    ("sequential", "memory"): ("error", "any", False), ("asyncio", "memory"): ("error", "any", False),
    ("threads", "memory"): ("error", "any", False), ("process-pool", "memory"): ("error", "ok", None),
    ("subprocess", "memory"): ("error", "ok", None), ("hybrid", "memory"): ("error", "ok", None),
    # spinning on the CPU: found late in the caller's thread, and on the loop it starves every other call
    ("sequential", "spin"): ("timeout", "ok", None), ("asyncio", "spin"): ("timeout", "lost", None),
    ("threads", "spin"): ("timeout", "ok", None), ("process-pool", "spin"): ("timeout", "ok", None),
    ("subprocess", "spin"): ("timeout", "ok", None), ("hybrid", "spin"): ("timeout", "ok", None),
    # a Dask cluster: a thread that overran is stopped by restarting its worker; a script's child dies alone;
    # a worker that eats memory is killed by its nanny (the call is crashed: KilledWorker), not a MemoryError
    ("distributed", "raise"): ("error", "ok", None), ("distributed", "hang"): ("timeout", "ok", None),
    ("distributed", "crash"): ("crashed", "ok", None), ("distributed", "memory"): ("crashed", "any", None),
    ("distributed", "spin"): ("timeout", "ok", None),
}
CELLS = [(mode, fault) for mode in MODES for fault in FAULT_KINDS]


def check_boundary(r: agent_core.RunReport, mode: str, fault: str) -> None:
    """What any mode shows for any fault, from the registry's facts alone: the faulty call is not ok; a crash
    or memory fault in a call the mode runs in the caller's process is hosted in a sacrificial child (which a
    crash kills and a MemoryError does not), and no other run is hosted; the summary and the explanation name
    the faulty call and what became of it; no call's child outlives the run."""
    bad = faulty(r)
    assert bad.status != "ok"
    in_caller = fault in ("crash", "memory") and bad.kind in in_process_kinds(mode)
    assert (r.host is not None) == in_caller, r.host
    if in_caller:
        assert r.host["survived"] is (fault != "crash") and r.host["pid"] != os.getpid()
    summary = failure_summary(r)
    assert (summary["faulty_call"], summary["faulty_status"]) == (bad.id, bad.status)
    assert summary["others_kept"] == sum(t.status == "ok" for t in others(r))
    assert summary["others_kept"] + summary["others_lost"] == len(r.tasks) - 1
    text = explain_failure(r)
    if r.host and not r.host["survived"]:
        assert text.startswith(f"{bad.id} ({fault}) killed the process running the whole {mode} run"), text
    else:
        assert text.startswith(f"{bad.id} ({fault}) ended {bad.status} after "), text
    assert call_children() == {}, "no call child outlives its run"


def test_the_matrix_has_a_cell_for_every_mode_and_every_fault():
    assert [cell for cell in CELLS if cell not in EXPECTED] == [], "add the outcome this mode really gives"
    assert [cell for cell in EXPECTED if cell not in CELLS] == [], "a cell for a mode or fault that is gone"


@pytest.mark.parametrize("mode, fault", CELLS)
def test_each_mode_contains_each_fault_as_its_primitive_allows(mode, fault):
    status, rest, host_died = EXPECTED[(mode, fault)]       # no cell: a KeyError, never a silent skip
    r = faulty_run(mode, fault)
    bad = faulty(r)
    assert bad.status == status, (bad.status, bad.error)
    if rest == "ok":
        assert all(t.status == "ok" for t in others(r)), [(t.id, t.status, t.error) for t in others(r)]
    elif rest == "lost":
        assert all(t.status != "ok" for t in others(r))
    if host_died is None:
        assert r.host is None, "contained without a sacrificial host"
    else:
        assert r.host is not None and r.host["survived"] is not host_died
    if fault == "memory":
        assert "MemoryError" in bad.error if status == "error" else "memory limit" in bad.error, bad.error
    if (mode, fault) in (("threads", "hang"), ("hybrid", "hang"), ("threads", "spin")):
        assert bad.detail.get("abandoned") and bad.id in r.abandoned, "a thread cannot be killed: it is abandoned"
        assert bad.duration_s < FAULT_S, "…but the run stops waiting for it at its timeout"
    if (mode, fault) in (("sequential", "hang"), ("sequential", "spin"), ("asyncio", "spin")):
        assert bad.duration_s >= FAULT_S * 0.9, "nothing could interrupt it: found when it came back"
    if fault == "crash" and mode == "process-pool":
        assert r.pool_replaced and "BrokenProcessPool" in bad.error
    if (mode, fault) in (("distributed", "hang"), ("distributed", "spin")):
        assert bad.detail.get("worker_restarted") and "Dask worker" in bad.error, bad.detail
        assert "the worker that ran it was restarted" in explain_failure(r)
    check_boundary(r, mode, fault)


def test_a_crash_in_an_in_process_mode_loses_the_whole_run_but_not_the_caller():
    r = faulty_run("threads", "crash")
    assert r.host["survived"] is False and r.host["exit"] == "killed by SIGSEGV"
    assert all(t.status == "crashed" for t in r.tasks)
    assert faulty(r).error.startswith("took the whole process down")
    assert r.host["pid"] != os.getpid(), "the run died in a child of its own…"
    assert r.host["pid"] not in descendants(), "…which is gone, and we are the ones who report it"


def test_results_finished_before_the_crash_are_reported_as_lost_with_the_process():
    r = agent_core.run("web_search:3,sandboxed_script:1", "sequential", params=FAST,
                       faults={"sandboxed_script": ("crash", 1)})
    finished = [t for t in r.tasks if t.detail.get("result_lost")]
    assert [t.id for t in finished] == ["web_search#1", "web_search#2", "web_search#3"]
    assert all(t.detail["finished_as"] == "ok" and t.status == "crashed" for t in finished)
    assert r.host["results_lost"] == 3


def test_the_process_pool_is_replaced_after_a_worker_dies():
    broken = faulty_run("process-pool", "crash")
    assert broken.pool_replaced
    again = agent_core.run("analysis:2", "process-pool", params=FAST)
    assert again.ok and not again.pool_replaced


def test_an_abandoned_thread_is_counted_until_it_ends_by_itself():
    r = agent_core.run("legacy_sdk:1", "threads", params=FAST, faults={"legacy_sdk": ("hang", 1.5)}, timeout_s=0.3)
    assert r.abandoned == ["legacy_sdk#1"] and "legacy_sdk#1" in abandoned_calls()
    deadline = time.monotonic() + 10
    while "legacy_sdk#1" in abandoned_calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "legacy_sdk#1" not in abandoned_calls(), "it came back by itself once the server answered"


def test_asyncio_cancels_an_overdue_awaited_call_for_real():
    r = agent_core.run("web_search:2", "asyncio", params=FAST, faults={"web_search": ("hang", 5)}, timeout_s=0.4)
    bad = faulty(r)
    assert bad.status == "timeout" and "asyncio.timeout" in bad.error
    assert bad.duration_s < 1.0 and r.wall_s < 1.5


def test_a_subprocess_is_killed_with_its_whole_group_at_its_timeout():
    r = faulty_run("subprocess", "hang")
    assert "process group killed" in faulty(r).error and faulty(r).duration_s < TIMEOUT_S + 0.9


@pytest.mark.parametrize("mode", MODES)
def test_cancel_siblings_cancels_what_has_not_started(mode):
    spec = "web_search:1,legacy_sdk:4"
    workers = 2 if uses_workers(mode, agent_core.Workload.parse(spec)) else None    # so that calls queue
    r = agent_core.run(spec, mode, workers=workers, params={"legacy_sdk": {"latency_ms": 400}},
                       faults={"web_search": ("raise", 1)}, on_error="cancel-siblings")
    bad = faulty(r)
    assert bad.status == "error"
    cancelled = [t for t in others(r) if t.status == "cancelled"]
    assert cancelled, [(t.id, t.status) for t in r.tasks]
    assert all("cancel-siblings" in t.error for t in cancelled)
    late = [t.id for t in others(r) if t.status != "cancelled" and t.start_s > bad.end_s + 0.05]
    assert late == [], "a call that had not started when the failure was noticed never starts"


def test_keep_going_keeps_every_other_result():
    r = agent_core.run("web_search:1,legacy_sdk:3", "asyncio", params=FAST, faults={"web_search": ("raise", 1)})
    assert [t.status for t in others(r)] == ["ok"] * 3


SOCKET_SLACK = 2       # a Dask client keeps a pool of connections to its workers: it reopens them as workers
                       # restart (measured: two more or fewer, whatever the number of runs)


def _fds() -> tuple[int, int]:
    """This process's open file descriptors: (files and pipes, sockets)."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:           # the one listdir itself opened
            pass
    sockets = sum(t.startswith("socket:") for t in targets)
    return len(targets) - sockets, sockets


def test_fifty_faulty_runs_leave_no_process_thread_or_file_descriptor_behind():
    for mode in agent_core.MODES:               # warm every mode once: pools, clients, imports
        agent_core.run("web_search:1,analysis:1", mode, params=FAST)
    gc.collect()
    threads_before, fds_before = threading.active_count(), _fds()
    kids_before = set(descendants())
    cells = [(mode, fault) for fault in ("hang", "crash", "raise", "spin") for mode in MODES]
    for i in range(50):
        mode, fault = cells[i % len(cells)]
        tool = FAULTY_TOOL[fault]
        spec = "web_search:3" if tool == "web_search" else f"web_search:2,{tool}:1"
        agent_core.run(spec, mode, params=FAST, faults={tool: (fault, 0.5)}, timeout_s=0.3)
        assert call_children() == {}
    deadline = time.monotonic() + 15            # abandoned threads come back once their hang ends
    while (abandoned_calls() or threading.active_count() > threads_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    gc.collect()
    assert abandoned_calls() == []
    assert threading.active_count() <= threads_before
    files, sockets = _fds()
    assert files <= fds_before[0], "a file or pipe was left open"
    assert sockets <= fds_before[1] + SOCKET_SLACK, "sockets were left open"
    new = {pid: cmd for pid, cmd in descendants().items() if pid not in kids_before}
    pool = ("forkserver", "multiprocessing", "agent_core.calls")
    assert all(any(word in cmd for word in pool) for cmd in new.values()), new   # only replaced pool workers
