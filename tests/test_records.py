from __future__ import annotations

import json

from agent_core.records import RunReport, TaskRecord


def rec(i: int, start: float, end: float, cpu: float, worker: str = "thread-0", status: str = "ok") -> TaskRecord:
    return TaskRecord(f"analysis#{i}", "analysis", "cpu", worker, start, end, cpu, status)


def gil_bound_threads() -> RunReport:
    # four 0.2 s CPU calls in threads on a GIL: each looks 0.8 s long, the run takes 0.8 s
    return RunReport("threads", 0.8, [rec(i, 0.0, 0.8, 0.2, f"thread-{i}") for i in range(4)], baseline_wall_s=0.8)


def test_apparent_speedup_is_sum_of_task_wall_over_wall_and_true_speedup_uses_the_baseline():
    r = gil_bound_threads()
    assert r.sum_task_s == 3.2 and r.sum_cpu_s == 0.8
    assert r.speedup == 4.0, "the apparent speedup the GIL inflates"
    assert r.true_speedup == 1.0, "the truth: no faster than sequential"


def test_critical_path_is_the_longest_call_and_peak_counts_overlaps():
    r = RunReport("x", 1.0, [rec(1, 0.0, 0.5, 0.1), rec(2, 0.1, 0.3, 0.1), rec(3, 0.5, 0.9, 0.1)])
    assert r.critical_path_s == 0.5
    assert r.peak_concurrency == 2, "a call starting exactly when another ends does not overlap it"


def test_no_baseline_means_no_true_speedup_and_no_loop_means_no_lag():
    r = RunReport("threads", 1.0, [rec(1, 0, 1, 1)])
    assert r.true_speedup is None and r.loop_lag_max_ms is None
    r.loop_lag = [(0.1, 2.5), (0.2, 7.25)]
    assert r.loop_lag_max_ms == 7.25


def test_statuses_lanes_and_ok():
    r = RunReport("x", 1.0, [rec(1, 0.2, 0.3, 0, "pid 9"), rec(2, 0.0, 0.1, 0, "event-loop", "timeout")])
    assert r.statuses == {"ok": 1, "timeout": 1}
    assert r.lanes() == ["event-loop", "pid 9"]
    assert not r.ok


def test_a_report_survives_a_json_round_trip():
    r = gil_bound_threads()
    r.loop_lag = [(0.1, 1.5)]
    again = RunReport.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.to_dict() == r.to_dict()
