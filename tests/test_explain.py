"""Explanations are computed from the numbers: change the numbers, the words change."""
from __future__ import annotations

from agent_core.explain import explain_compare, explain_run
from agent_core.records import RunReport, TaskRecord


def t(i, kind, worker, start, end, cpu, tool=None, status="ok"):
    return TaskRecord(f"{tool or kind}#{i}", tool or kind, kind, worker, start, end, cpu, status, None if status == "ok"
                      else "boom")


def test_a_blocked_loop_is_named_with_the_tools_that_blocked_it():
    r = RunReport("asyncio", 1.0, [t(1, "blocking", "event-loop", 0, 0.4, 0.01, "legacy_sdk"),
                                   t(2, "io", "event-loop", 0, 1.0, 0.001, "web_search")],
                  loop_lag=[(0.4, 400.0)])
    text = " ".join(explain_run(r))
    assert "stood still for up to 400 ms: legacy_sdk ran on the loop's own thread" in text


def test_a_free_loop_is_credited_when_blocking_work_went_elsewhere():
    r = RunReport("hybrid", 0.3, [t(1, "blocking", "thread-0", 0, 0.3, 0.01, "legacy_sdk"),
                                  t(2, "io", "event-loop", 0, 0.29, 0.001, "web_search")], loop_lag=[(0.1, 2.0)])
    assert "never stalled more than 2 ms" in " ".join(explain_run(r))


def test_gil_inflation_is_called_out_when_cpu_time_is_far_below_wall():
    r = RunReport("threads", 0.8, [t(i, "cpu", f"thread-{i}", 0, 0.8, 0.2, "analysis") for i in range(4)],
                  baseline_wall_s=0.8)
    text = " ".join(explain_run(r))
    assert "spent 0.80 s on the CPU but 3.20 s of wall" in text
    assert "true speedup is ×1.0" in text and "apparent ×4.0" in text


def test_failures_are_counted_by_status():
    r = RunReport("threads", 0.5, [t(1, "io", "thread-0", 0, 0.5, 0, "web_search", "timeout"),
                                   t(2, "io", "thread-1", 0, 0.1, 0, "web_search")])
    assert "1 of 2 calls did not finish ok (1 timeout); first: web_search#1: boom." in explain_run(r)


def test_compare_names_the_winner_and_why_each_loser_lost():
    seq = RunReport("sequential", 2.0, [t(i, "cpu", "MainThread", i * 0.5, i * 0.5 + 0.5, 0.5, "analysis")
                                         for i in range(4)])
    pool = RunReport("process-pool", 1.0, [t(i, "cpu", f"pid {i % 2}", 0, 0.5, 0.5, "analysis") for i in range(4)],
                     workers=2)
    threads = RunReport("threads", 2.1, [t(i, "cpu", f"thread-{i}", 0, 2.0, 0.5, "analysis") for i in range(4)])
    lines = explain_compare([seq, pool, threads])
    assert lines[0].startswith("process-pool finished first in 1.00 s, ×2.0 faster than sequential (2.00 s)")
    assert "threads (2.10 s): the GIL serialised its analysis calls." in lines


def dask(i, start, end, cpu, worker=1, **detail):
    return TaskRecord(f"analysis#{i}", "analysis", "cpu", f"dask worker {worker} · tcp://127.0.0.1:{40000 + worker}",
                      start, end, cpu, "ok", None, {"gil_exclusive": True, **detail})


def test_the_gil_is_named_only_where_cpu_calls_shared_the_callers_process():
    """Stretched CPU calls on Dask worker processes (one GIL each) are not a GIL story; in threads they are."""
    spread = [dask(i, 0, 0.8, 0.2, worker=1 + i % 2) for i in range(4)]
    r = RunReport("distributed", 0.8, spread)
    text = " ".join(explain_run(r))
    assert "GIL" not in text.replace("no two shared a GIL", "")
    assert "ran on 2 Dask worker processes (dask worker 1, dask worker 2)" in text
    assert "no two shared a GIL" in text
    threads = RunReport("threads", 0.8, [t(i, "cpu", f"thread-{i}", 0, 0.8, 0.2, "analysis") for i in range(4)])
    assert "take turns on the GIL" in " ".join(explain_run(threads))


def test_a_mode_explains_its_own_loss_in_its_own_words():
    seq = RunReport("sequential", 3.3, [t(i, "cpu", "MainThread", i * 0.8, i * 0.8 + 0.8, 0.8, "analysis")
                                        for i in range(4)])
    spread = RunReport("distributed", 3.2, [dask(i, 0, 3.2, 0.2, worker=1 + i % 2) for i in range(4)])
    restarted = RunReport("distributed", 3.25, [dask(1, 0, 0.6, 0.6, worker_restarted=True, restart_s=2.3)])
    fast = RunReport("process-pool", 1.0, [t(i, "cpu", f"pid {i % 2}", 0, 1.0, 0.8, "analysis") for i in range(4)],
                     workers=2)
    lines = explain_compare([seq, fast, spread, restarted])
    assert lines[1].startswith("distributed (3.20 s): its analysis calls took 12.80 s for 0.80 s of CPU on 2 worker "
                               "processes sharing")
    assert lines[2] == "distributed (3.25 s): 1 of its calls overran in a worker thread, and restarting a worker " \
                       "took 2.30 s."
    assert lines[3] == "sequential (3.30 s): it waits for each call before starting the next."
    pool = RunReport("process-pool", 1.0, [t(i, "io", f"pid {i % 2}", 0, 0.5, 0.01, "web_search") for i in range(6)],
                     workers=2)
    assert "The pool has 2 workers, so 6 network calls queued behind each other" in " ".join(explain_run(pool))
    pool.workers = 8
    assert "queued" not in " ".join(explain_run(pool)), "a pool with a worker per call queues nothing"
