"""Figure builders are pure: records in, figure out; what they draw must match the records."""
from __future__ import annotations

from agent_core.modes import MODES, get_mode
from agent_core.records import RunReport, TaskRecord
from ui import charts


def report() -> RunReport:
    tasks = [TaskRecord("web_search#1", "web_search", "io", "event-loop", 0.0, 0.3, 0.002, "ok", None, {"results": 5}),
             TaskRecord("web_search#2", "web_search", "io", "event-loop", 0.01, 0.32, 0.002, "ok"),
             TaskRecord("memory_write#1", "memory_write", "blocking", "thread-0", 0.0, 0.05, 0.01, "ok"),
             TaskRecord("analysis#1", "analysis", "cpu", "pid 42", 0.0, 0.2, 0.19, "timeout", "too slow")]
    return RunReport("hybrid", 0.33, tasks, loop_lag=[(0.005, 0.4), (0.01, 3.5)], baseline_wall_s=0.8)


def test_the_timeline_draws_one_bar_per_record_at_its_start_for_its_duration():
    r = report()
    fig = charts.timeline(r)
    bars = {(cid, y): (base, width) for tr in fig.data
            for cid, y, base, width in zip(tr.customdata, tr.y, tr.base, tr.x, strict=True)}
    assert len(bars) == len(r.tasks)
    rows = charts.lane_rows(r)
    for t in r.tasks:
        base, width = bars[(t.id, rows[t.id])]
        assert abs(base - 1000 * t.start_s) < 1e-9 and abs(width - 1000 * t.duration_s) < 1e-9
    assert fig.layout.xaxis.range[1] >= 1000 * r.wall_s


def test_overlapping_calls_on_one_lane_get_rows_of_their_own():
    rows = charts.lane_rows(report())
    assert rows["web_search#1"] == "event-loop" and rows["web_search#2"] == "event-loop ·2"
    assert rows["memory_write#1"] == "thread-0" and rows["analysis#1"] == "pid 42"


def test_failed_calls_are_marked_on_the_timeline():
    fig = charts.timeline(report())
    analysis = next(tr for tr in fig.data if tr.name == "analysis")
    assert analysis.marker.line.color[0] == charts.FAILED and analysis.marker.pattern.shape[0] == "x"
    assert "too slow" in analysis.hovertext[0]


def test_wall_vs_sum_shows_the_measured_totals_and_marks_the_critical_path():
    r = report()
    fig = charts.wall_vs_sum(r)
    values = dict(zip(fig.data[0].y, fig.data[0].x, strict=True))
    assert values == {"sequential run": 0.8, "Σ task time": r.sum_task_s, "Σ CPU time": r.sum_cpu_s, "wall-clock": 0.33}
    assert fig.layout.shapes[0].x0 == r.critical_path_s
    assert "true ×2.4" in fig.layout.title.text


def test_loop_lag_is_drawn_only_for_runs_with_a_loop():
    r = report()
    fig = charts.loop_lag(r)
    assert list(fig.data[0].y) == [0.4, 3.5] and list(fig.data[0].x) == [5.0, 10.0]
    r.loop_lag = None
    assert charts.loop_lag(r) is None


def test_compare_charts_have_one_bar_per_mode():
    a, b = report(), report()
    b.mode, b.wall_s = "threads", 0.5
    bars = charts.compare_bars([a, b])
    assert list(bars.data[0].x) == ["hybrid", "threads"] and list(bars.data[0].y) == [0.33, 0.5]
    speed = charts.speedup_bars([a, b])
    assert [round(v, 3) for v in speed.data[0].y] == [round(0.8 / 0.33, 3), 1.6]


def test_each_mode_is_drawn_in_the_colour_its_module_gives():
    reports = []
    for mode in MODES:
        r = report()
        r.mode = mode
        reports.append(r)
    speed = charts.speedup_bars(reports)
    assert list(speed.data[0].marker.color) == [get_mode(m).COLOUR for m in MODES]
    assert charts.mode_colour("no-such-mode") == charts.UNKNOWN


def test_every_built_in_tool_has_a_colour_of_its_own():
    from agent_core.catalog import CATALOG
    assert len({charts.tool_colour(tool) for tool in CATALOG}) == len(CATALOG), "add a colour to charts.PALETTE"
