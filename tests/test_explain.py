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
