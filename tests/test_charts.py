"""Figure builders are pure: records in, figure out; what they draw must match the records."""
from __future__ import annotations

from agent_core.modes import BASELINE, MODES, get_mode
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


# -- charts that compare --------------------------------------------------------------------------------------------

def run_of(mode: str, wall_s: float, worst_lag_ms: float | None = None) -> RunReport:
    """A run of ``mode`` whose calls fill ``wall_s``; with a heartbeat whose worst lag is ``worst_lag_ms``."""
    tasks = [TaskRecord(f"web_search#{i}", "web_search", "io", "event-loop", 0.0, wall_s * (0.5 + i / 4), 0.001, "ok")
             for i in range(3)]
    tasks.append(TaskRecord("legacy_sdk#1", "legacy_sdk", "blocking", "event-loop", 0.0, wall_s / 2, 0.0, "ok"))
    lag = None if worst_lag_ms is None else [(wall_s * i / 10, worst_lag_ms * (i == 5) + 0.2) for i in range(10)]
    return RunReport(mode, wall_s, tasks, loop_lag=lag, baseline_wall_s=4.3)


def test_every_timeline_of_a_comparison_shares_one_time_axis_and_a_faster_run_draws_shorter():
    reports = [run_of(m, wall) for m, wall in zip(MODES, (4.3, 1.5, 1.1, 2.5, 2.1, 0.6, 0.9), strict=False)]
    figs = charts.timelines(reports)
    ranges = {tuple(f.layout.xaxis.range) for f in figs}
    assert len(figs) == len(reports) and len(ranges) == 1, ranges
    (start, end), = ranges
    assert start == 0 and end >= 1000 * max(r.wall_s for r in reports)
    ends = {r.mode: max(b + w for tr in f.data for b, w in zip(tr.base, tr.x, strict=True))
            for r, f in zip(reports, figs, strict=True)}
    assert ends[BASELINE] > 5 * ends["hybrid"], "the 4.3 s run's bars reach ×7 further than the 0.6 s run's"
    assert len({f.layout.margin.l for f in figs}) == 1 and not any(f.layout.yaxis.automargin for f in figs), \
        "each plot leaves its row labels the same room: side by side, the plots are as wide"


def test_long_row_labels_are_shortened_in_timelines_that_compare_keeping_the_row_number():
    assert charts._short("dask worker 1 · tcp://127.0.0.1:33335 ·2") == "dask worker 1 ·2"
    assert charts._short("dask worker 12 · tcp://127.0.0.1:33335") == "dask worker 12"
    short = charts._short("a-lane-name-much-longer-than-that ·12")
    assert len(short) <= charts.ROW_LABEL_CHARS and short.endswith("… ·12")
    assert charts._short("event-loop ·2") == "event-loop ·2" and charts._short("pid 21985") == "pid 21985"


def test_heartbeats_of_two_runs_share_one_lag_axis_logarithmic_and_titled_so_when_far_apart():
    frozen, free = run_of("asyncio", 1.3, worst_lag_ms=1000.0), run_of("hybrid", 0.35, worst_lag_ms=2.0)
    fig = charts.lag_overlay([frozen, free], ["asyncio", "hybrid"], "Heartbeat")
    assert [tr.name.split(" ")[0] for tr in fig.data] == ["asyncio", "hybrid"]
    assert {tr.yaxis or "y" for tr in fig.data} == {"y"} and {tr.xaxis or "x" for tr in fig.data} == {"x"}
    assert fig.layout.yaxis.type == "log" and "log scale" in fig.layout.yaxis.title.text
    low, high = fig.layout.yaxis.range            # log10 of the milliseconds
    assert 10 ** low <= 2.0 and 10 ** high >= 1000.0, "both runs' worst lag is on the axis"
    assert tuple(fig.layout.xaxis.range) == (0, charts.time_end_ms([frozen, free]))
    near = charts.lag_overlay([run_of("asyncio", 1, 8.0), run_of("hybrid", 1, 2.0)], ["a", "h"], "Heartbeat")
    assert near.layout.yaxis.type != "log" and near.layout.yaxis.title.text == "lag (ms)"


def scaling_points() -> list:
    """A sweep's points as the sweep returns them: the last size cut for the budget for every mode; a workers
    sweep per kind with a mode refusing its top."""
    from agent_core.scaling import REFUSED, Point, workers_axis
    points = []
    for kind in ("io", "cpu"):
        for n in (1, 3, 10, 30):
            for i, mode in enumerate(MODES):
                cut = n == 30
                points.append(Point(kind, mode, n, 4, None if cut else 0.1 * (1 + i) * n ** (0.3 + i / 10), 0.1,
                                    skipped="over the time budget" if cut else None))
        for w in workers_axis(kind):
            for mode in ("threads", "process-pool"):
                refused = mode == "process-pool" and w == workers_axis(kind)[-1] and kind == "io"
                points.append(Point(kind, mode, 32, w, None if refused else 3.2 / w, 0.1, axis="workers",
                                    skipped=f"{REFUSED}: too many" if refused else None))
    return points


def test_every_scaling_line_is_complete_and_covers_the_same_sizes():
    from agent_core import scaling
    points = scaling_points()
    points.append(scaling.Point("io", "threads", 30, 4, 0.5, 0.1))      # one mode alone at a size: not drawn
    for kind in ("io", "cpu"):
        knees = scaling.knees([p for p in points if p.workload == kind])
        for fig in (charts.scaling_wall(points, kind, knees), charts.scaling_overhead(points, kind, knees)):
            lines = [tr for tr in fig.data if tr.name in MODES]
            assert [tr.name for tr in lines] == list(MODES)
            assert {tuple(tr.x) for tr in lines} == {(1, 3, 10)}, "same x points on every line"
            assert all(y is not None and y == y for tr in lines for y in tr.y), "no hole in any line"
            assert not fig.layout.annotations, "knees are ringed on the lines, not written over them"


def test_the_workers_axis_of_each_kind_ends_where_that_kind_can_use_workers(monkeypatch):
    from agent_core import scaling
    for cores in (1, 2, 3, 8):
        monkeypatch.setattr(scaling, "usable_cores", lambda cores=cores: cores)
        cpu, io = scaling.workers_axis("cpu"), scaling.workers_axis("io")
        assert cpu[0] == 1 and cpu[-1] == 2 * cores and list(cpu) == sorted(set(cpu))
        assert io[0] == 1 and io[-1] == scaling.IO_WORKERS_MAX == 64
    monkeypatch.setattr(scaling, "usable_cores", lambda: 2)
    points = scaling_points()
    for kind in ("io", "cpu"):
        fig = charts.scaling_workers(points, kind)
        low, high = fig.layout.xaxis.range
        assert 10 ** low < 1 and scaling.workers_axis(kind)[-1] < 10 ** high < 1.5 * scaling.workers_axis(kind)[-1]
        assert list(fig.layout.xaxis.tickvals) == list(scaling.workers_axis(kind))


# -- every figure the ui builds ---------------------------------------------------------------------------------------

def samples() -> dict:
    """A value for each parameter a chart function takes, by its name."""
    from agent_core import scaling
    from agent_core.classifier import Verdict
    frozen, free = run_of("asyncio", 1.3, worst_lag_ms=1000.0), run_of("hybrid", 0.35, worst_lag_ms=2.0)
    evidence = {"cpu_share": 0.9, "loop_lag_ms": 120.0, "wall_ms": 100.0, "two_in_threads_x": 1.9}
    points = scaling_points()
    return {"r": report(), "reports": [report(), frozen, free], "labels": ["one", "two", "three"],
            "title": "A title", "message": "Press Run", "points": points, "kind": "io",
            "knees": scaling.knees([p for p in points if p.workload == "io"]),
            "verdicts": [Verdict(n, k, k, evidence, "because", False) for n, k in (("a", "cpu"), ("b", "io"))],
            "a": frozen, "b": free}


def figure_modules() -> list:
    """Every module of ui/ that builds Plotly figures (its source names ``go.Figure``)."""
    import importlib
    import os
    folder = os.path.dirname(charts.__file__)
    names = []
    for file in sorted(f for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_")):
        with open(os.path.join(folder, file), encoding="utf-8") as f:
            if "go.Figure" in f.read():
                names.append(file[:-3])
    return [importlib.import_module(f"ui.{n}") for n in names]


def every_figure() -> list[tuple[str, object]]:
    """(name, figure) for every public function of the ui's figure modules that builds figures, called with the
    samples: a new chart (or a new module of them) is in this list as soon as it exists, and a parameter nobody
    knows how to fill fails here."""
    import inspect
    known = samples()
    out = []
    for module in figure_modules():
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != module.__name__ or "Figure" not in str(
                    fn.__annotations__.get("return", "")):
                continue
            name = f"{module.__name__.split('.')[-1]}.{name}"
            params = [p for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty]
            missing = [p.name for p in params if p.name not in known]
            assert not missing, f"add a sample for {name}'s {missing} to tests/test_charts.py samples()"
            built = fn(**{p.name: known[p.name] for p in params})
            out += [(f"{name}[{i}]", fig) for i, fig in enumerate(built if isinstance(built, list) else [built])
                    if fig is not None]
    return out


def test_no_legend_lies_over_an_axis_title_in_any_figure_the_ui_builds():
    figs = every_figure()
    assert {name.split("[")[0] for name, _ in figs} >= {
        f"charts.{n}" for n in ("timeline", "lag_overlay", "scaling_wall", "scaling_workers", "pair_timelines",
                                "compare_bars", "classify_map")} | {"pipeline_charts.timelines"}
    for name, fig in figs:
        if not charts.legend_shown(fig):
            continue
        legend, height = fig.layout.legend, fig.layout.height
        # axis titles and tick labels live left of and under the plot. A legend may sit above the plot, in a band
        # under the title, or in a column at the right edge; referenced to the figure (container), so that Plotly
        # reserves its room in the margin instead of laying it over the plot
        assert legend.xref == "container" and legend.yref == "container", name
        assert legend.yanchor == "top" and legend.y * height <= height - charts.TITLE_PX + 1, \
            f"{name}: the legend overlaps the title"
        if legend.orientation == "h":
            assert legend.y > 0.5 and legend.x == 0 and legend.xanchor == "left", f"{name}: not a band on top"
        else:
            assert legend.x == 1 and legend.xanchor == "right", f"{name}: not a column at the right edge"
        assert fig.layout.title.yref == "container", name


def test_a_figure_without_a_legend_keeps_room_for_its_title():
    for name, fig in every_figure():
        if not charts.legend_shown(fig):
            assert fig.layout.margin.t >= charts.TITLE_PX, name


def test_every_built_in_tool_has_a_colour_of_its_own():
    from agent_core.catalog import CATALOG
    assert len({charts.tool_colour(tool) for tool in CATALOG}) == len(CATALOG), "add a colour to charts.PALETTE"
