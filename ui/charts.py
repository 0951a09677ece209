"""Plotly figure builders: records in, ``go.Figure`` out. Pure functions (no Streamlit), unit-tested.

Gantt charts use ``go.Bar(orientation="h", base=start_ms, x=duration_ms)`` on a numeric millisecond
axis (``px.timeline`` forces a date axis and would zero numeric durations).
"""
from __future__ import annotations

import math

import plotly.graph_objects as go

from agent_core.catalog import CATALOG
from agent_core.errors import BadInput
from agent_core.modes import BASELINE, get_mode
from agent_core.records import RunReport, TaskRecord

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2", "#EECA3B", "#FF9DA6", "#9D755D",
           "#17BECF", "#BCBD22")   # one colour per built-in tool; a user's tools take them round again
TOOL_COLORS = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(CATALOG)}
KIND_COLOURS = {"io": "#4C78A8", "blocking": "#F58518", "cpu": "#E45756", "isolated": "#B279A2"}
LAG_SHARE_TOP = 1.5         # the classify map's lag axis ends here (a tool can freeze a loop longer than its wall)
FAILED = "#D62728"
UNKNOWN = "#888888"
FONT = {"family": "Inter, -apple-system, Segoe UI, sans-serif", "size": 13}


def tool_colour(tool: str) -> str:
    """A tool's colour: by its place in the catalog, so a tool registered after start-up (a user's) gets one too."""
    if tool in TOOL_COLORS:
        return TOOL_COLORS[tool]
    names = list(CATALOG)
    return PALETTE[names.index(tool) % len(PALETTE)] if tool in names else UNKNOWN


def mode_colour(mode: str) -> str:
    """The mode's colour in every chart: its module's ``COLOUR`` (grey for a mode this process does not know)."""
    try:
        return get_mode(mode).COLOUR
    except BadInput:
        return UNKNOWN


TITLE_PX = 34               # the title's band at the top of every figure, in pixels
TOP_PX = 10                 # between the title's band and the plot area, when there is no legend between them


def legend_shown(fig: go.Figure) -> bool:
    """Whether Plotly will draw a legend: not turned off, and two traces or more in it (or one that asks to be)."""
    if fig.layout.showlegend is False:
        return False
    listed = [t for t in fig.data if t.showlegend is not False]
    return len(listed) >= 2 or any(t.showlegend is True for t in listed)


def _layout(fig: go.Figure, title: str, height: int, legend_side: str = "top") -> go.Figure:
    """The frame every figure shares. The title is pinned to the top of the figure. The legend, when there is one,
    is referenced to the figure (``xref``/``yref="container"``), so Plotly reserves a band of the figure's margin
    for it and never lays it over the plot, an axis title or the tick labels (which live left of and under the
    plot): ``"top"``, a horizontal band under the title; ``"right"``, a column at the right edge, for a figure
    that puts text just above its plot (subplot titles), which a band on top would touch."""
    legend = legend_shown(fig)
    if legend_side == "top":
        place = {"orientation": "h", "xref": "container", "x": 0, "xanchor": "left",
                 "yref": "container", "y": 1 - TITLE_PX / height, "yanchor": "top"}
        top = TOP_PX if legend else TITLE_PX + TOP_PX
    elif legend_side == "right":
        place = {"orientation": "v", "xref": "container", "x": 1, "xanchor": "right",
                 "yref": "container", "y": 1 - TITLE_PX / height, "yanchor": "top"}
        top = TITLE_PX + TOP_PX
    else:
        raise ValueError(f"legend_side={legend_side!r}: top or right")
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left", "xref": "container", "yref": "container",
                             "y": 1 - 8 / height, "yanchor": "top", "font": {"size": 15}},
                      height=height, font=FONT, margin={"l": 10, "r": 10, "t": top, "b": 10}, legend=place,
                      plot_bgcolor="white", bargap=0.25)
    fig.update_xaxes(gridcolor="#EEEEEE", zeroline=False)
    fig.update_yaxes(gridcolor="#EEEEEE")
    return fig


def _fmt_s(x: float) -> str:
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def wall_vs_sum(r: RunReport) -> go.Figure:
    """The design card's chart: wall-clock against summed task time, CPU time beside it, the floor marked."""
    rows = [("Σ task time", r.sum_task_s, "#9ECAE9", "each call's own wall time, added up"),
            ("Σ CPU time", r.sum_cpu_s, "#F2B880", "CPU the calls really used (threads, loop, children)"),
            ("wall-clock", r.wall_s, "#4C78A8", "what the user waited for")]
    if r.baseline_wall_s is not None and r.mode != BASELINE:
        rows.insert(0, (f"{BASELINE} run", r.baseline_wall_s, "#BBBBBB", "the same calls one after another"))
    fig = go.Figure(go.Bar(
        y=[name for name, *_ in rows], x=[v for _, v, *_ in rows], orientation="h",
        marker_color=[c for *_, c, _ in rows], text=[_fmt_s(v) for _, v, *_ in rows], textposition="auto",
        customdata=[why for *_, why in rows], hovertemplate="%{y}: %{x:.3f} s<br>%{customdata}<extra></extra>",
        showlegend=False))
    fig.add_vline(x=r.critical_path_s, line_dash="dash", line_color="#333333")
    fig.add_annotation(x=r.critical_path_s, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                       text=f"critical path (the floor) {_fmt_s(r.critical_path_s)}", font={"size": 12})
    fig.update_xaxes(title_text="seconds", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Where the time went · apparent ×{r.speedup:.1f}"
                   + (f" · true ×{r.true_speedup:.1f}" if r.true_speedup is not None else "")
                   + (" ⚠ see the physics check" if r.physics else ""), 300)


def placeholder(title: str, message: str, height: int = 300) -> go.Figure:
    """An empty chart frame with a note: where results will appear (it shows no figures). It holds empty
    traces of the kinds the results use, so the browser has them ready before the first run."""
    fig = go.Figure([go.Bar(x=[], y=[], orientation="h", base=[]), go.Scatter(x=[], y=[], fill="tozeroy")])
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 15, "color": "#888888"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height)


def _hover(t: TaskRecord) -> str:
    details = "".join(f"<br>{k}: {v}" for k, v in list(t.detail.items())[:6])
    error = f"<br><b>{t.error}</b>" if t.error else ""
    return (f"<b>{t.id}</b> ({t.kind}) on {t.worker}<br>status: {t.status}<br>start {1000 * t.start_s:.1f} ms · "
            f"took {1000 * t.duration_s:.1f} ms · CPU {1000 * t.cpu_s:.1f} ms{details}{error}")


def lane_rows(r: RunReport) -> dict[str, str]:
    """Call id -> timeline row: its worker's lane, split into rows where calls overlap on that lane
    (many awaited calls share the event loop at once), packed greedily so each lane uses as few rows as
    its peak concurrency."""
    rows: dict[str, str] = {}
    free_at: dict[str, list[float]] = {}           # lane -> when each of its rows is free again
    for t in sorted(r.tasks, key=lambda t: (t.start_s, t.end_s)):
        ends = free_at.setdefault(t.worker, [])
        slot = next((i for i, end in enumerate(ends) if end <= t.start_s), len(ends))
        if slot == len(ends):
            ends.append(t.end_s)
        else:
            ends[slot] = t.end_s
        rows[t.id] = t.worker if slot == 0 else f"{t.worker} ·{slot + 1}"
    return rows


def _timeline_traces(r: RunReport, legend: set[str] | None = None) -> tuple[list[go.Bar], list[str]]:
    """The timeline's bars (one trace per tool) and its rows, top first. ``legend``: tools already in the
    figure's legend (a second run's bars of the same tool join their legend entry)."""
    rows = lane_rows(r)
    lanes = r.lanes()
    order = list(dict.fromkeys(rows[t.id] for t in sorted(r.tasks, key=lambda t: (lanes.index(t.worker),
                                                                                   rows[t.id]))))
    traces = []
    for tool in dict.fromkeys(t.tool for t in r.tasks):
        ts = [t for t in r.tasks if t.tool == tool]
        failed = [t.status != "ok" for t in ts]
        traces.append(go.Bar(
            name=tool, orientation="h", y=[rows[t.id] for t in ts], base=[1000 * t.start_s for t in ts],
            x=[max(1000 * t.duration_s, 0.5) for t in ts], marker_color=tool_colour(tool),
            marker_line_color=[FAILED if f else "rgba(0,0,0,0.25)" for f in failed],
            marker_line_width=[3 if f else 0.5 for f in failed],
            marker_pattern_shape=["x" if f else "" for f in failed], legendgroup=tool,
            showlegend=legend is None or tool not in legend,
            customdata=[t.id for t in ts], hovertext=[_hover(t) for t in ts], hoverinfo="text"))
        if legend is not None:
            legend.add(tool)
    return traces, order


def time_end_ms(reports: list[RunReport]) -> float:
    """The end of a time axis that holds every one of ``reports`` (milliseconds): the longest wall, and a little."""
    return 1000 * max((r.wall_s for r in reports), default=0.0) * 1.02 or 1.0


def timeline(r: RunReport, title: str | None = None, height: int | None = None,
             end_ms: float | None = None) -> go.Figure:
    """One lane per worker (event loop, thread, pid), one bar per call, coloured by tool; failures outlined.
    ``end_ms``: where the time axis ends (charts that compare runs give them all the same), else this run's end."""
    traces, order = _timeline_traces(r)
    fig = go.Figure(traces)
    fig.update_layout(barmode="overlay")
    _shade(fig, blocking_spans(r), named=False)
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(order)), title_text=None)
    fig.update_xaxes(title_text="milliseconds since the run started", range=[0, end_ms or time_end_ms([r])])
    lanes = len(r.lanes())
    return _layout(fig, title or f"Timeline · {r.mode} · {lanes} lane{'s' * (lanes != 1)}",
                   height or min(900, 140 + 22 * len(order)))


ROW_LABEL_CHARS = 16        # a row's label in timelines that compare: longer ones are shortened (the hover has all)
ROW_LABEL_PX = 120          # ... and the room left of the plot for them, the same in each


def _short(label: str, chars: int = ROW_LABEL_CHARS) -> str:
    """``label`` in at most ``chars`` characters: its first `` · `` part (the rest is detail: a Dask worker's
    address), cut with an ellipsis if still too long, and its row number (`` ·2``) if it has one."""
    if len(label) <= chars:
        return label
    base, dot, row = label.rpartition(" ·")
    suffix = f" ·{row}" if dot and row.isdigit() else ""
    base = (base if suffix else label).split(" · ")[0]
    room = chars - len(suffix)
    return (base if len(base) <= room else base[:room - 1].rstrip() + "…") + suffix


def timelines(reports: list[RunReport], titles: list[str] | None = None, height: int = 340) -> list[go.Figure]:
    """One timeline per run, all on one time axis (the longest run's) and with the same room for their row labels,
    so that side by side each plot is as wide and a run twice as fast draws half as long."""
    end = time_end_ms(reports)
    titles = titles or [f"{r.mode} · {r.wall_s:.2f} s" for r in reports]
    figs = []
    for r, t in zip(reports, titles, strict=True):
        fig = timeline(r, title=t, height=height, end_ms=end)
        rows = list(fig.layout.yaxis.categoryarray)
        fig.update_yaxes(automargin=False, tickmode="array", tickvals=rows, ticktext=[_short(x) for x in rows])
        fig.update_layout(margin={"l": ROW_LABEL_PX})
        figs.append(fig)
    return figs


def blocking_spans(r: RunReport) -> list[TaskRecord]:
    """Calls that ran on the event loop's own thread without awaiting: while they ran, the loop was frozen."""
    def froze(t: TaskRecord) -> bool:
        if t.detail.get("fault") == "spin":
            return True                     # a spin never awaits, whatever the tool
        return t.kind != "io" and t.detail.get("driver") != "aiosqlite"     # aiosqlite is awaited
    return [t for t in r.tasks if t.worker == "event-loop" and froze(t)]


def _shade(fig: go.Figure, spans: list[TaskRecord], named: bool = True) -> None:
    """Shade each span; ``named``: with its tool's name at its top left (not on a timeline: there the bars under
    the band already say it, and the name would sit on them)."""
    for t in spans:
        fig.add_vrect(x0=1000 * t.start_s, x1=1000 * t.end_s, fillcolor=FAILED, opacity=0.12, line_width=0,
                      **({"annotation_text": t.tool, "annotation_position": "top left", "annotation_font_size": 11}
                         if named else {}))


def loop_lag(r: RunReport, title: str | None = None, height: int = 260) -> go.Figure | None:
    """The heartbeat: how late the event loop woke, over the run, with the calls that blocked the loop
    shaded. None for modes without a loop in this process."""
    if r.loop_lag is None:
        return None
    fig = go.Figure(go.Scatter(x=[1000 * t for t, _ in r.loop_lag], y=[lag for _, lag in r.loop_lag], mode="lines",
                               line={"color": "#E45756", "width": 1.5}, fill="tozeroy", name="loop lag",
                               hovertemplate="%{x:.0f} ms: %{y:.1f} ms late<extra></extra>"))
    _shade(fig, blocking_spans(r))
    fig.update_xaxes(title_text="milliseconds since the run started", range=[0, 1000 * r.wall_s * 1.02])
    fig.update_yaxes(title_text="lag (ms)", rangemode="tozero")
    return _layout(fig, title or f"Event-loop heartbeat · max lag {r.loop_lag_max_ms:.1f} ms", height)


def compare_bars(reports: list[RunReport]) -> go.Figure:
    """Grouped bars per mode: wall-clock against Σ task time, with Σ CPU time."""
    modes = [r.mode for r in reports]
    fig = go.Figure([
        go.Bar(name="wall-clock", x=modes, y=[r.wall_s for r in reports], marker_color="#4C78A8",
               text=[_fmt_s(r.wall_s) for r in reports], textposition="outside"),
        go.Bar(name="Σ task time", x=modes, y=[r.sum_task_s for r in reports], marker_color="#9ECAE9"),
        go.Bar(name="Σ CPU time", x=modes, y=[r.sum_cpu_s for r in reports], marker_color="#F2B880"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="seconds", rangemode="tozero")
    return _layout(fig, "Wall-clock vs summed task time, per mode", 380)


def speedup_bars(reports: list[RunReport]) -> go.Figure:
    """True speedup against the baseline run, with the apparent one as a marker."""
    modes = [r.mode for r in reports]
    true = [r.true_speedup or 0.0 for r in reports]
    fig = go.Figure([
        go.Bar(name=f"true speedup ({BASELINE} wall / wall)", x=modes, y=true,
               marker_color=[mode_colour(m) for m in modes],
               text=[f"×{v:.2f}" + (" ⚠ physics" if r.physics else "") for v, r in zip(true, reports, strict=True)],
               textposition="outside"),
        go.Scatter(name="apparent speedup (Σ task / wall)", x=modes, y=[r.speedup for r in reports],
                   mode="markers", marker={"symbol": "diamond", "size": 11, "color": "#333333"}),
    ])
    fig.add_hline(y=1.0, line_dash="dot", line_color="#999999")
    fig.update_yaxes(title_text=f"× faster than {BASELINE}", rangemode="tozero")
    return _layout(fig, f"True speedup against the {BASELINE} run", 340)


LAG_FLOOR_MS = 0.1          # a log axis has no zero; under this a heartbeat's lag is noise (see agent_core.heartbeat)
LOG_WHEN = 20.0             # one run's worst lag this many times another's: the shared lag axis is logarithmic


def lag_axis_is_log(reports: list[RunReport]) -> bool:
    """Whether runs' heartbeats need a logarithmic lag axis to be read on one axis: the worst lag of one is
    ``LOG_WHEN`` times another's (a frozen loop ~1,000 ms, a free one ~2 ms)."""
    worst = [max(r.loop_lag_max_ms, LAG_FLOOR_MS) for r in reports if r.loop_lag is not None]
    return len(worst) > 1 and max(worst) >= LOG_WHEN * min(worst)


def lag_overlay(reports: list[RunReport], labels: list[str], title: str, height: int = 340) -> go.Figure:
    """Several runs' heartbeats on one chart: one time axis (the longest run's) and one lag axis, logarithmic
    (and titled so) when their worst lags are orders of magnitude apart; each run's calls that froze its loop
    are shaded in its colour."""
    log = lag_axis_is_log(reports)
    fig = go.Figure()
    top = LAG_FLOOR_MS
    for r, label, color in zip(reports, labels, PALETTE, strict=False):
        if r.loop_lag is None:
            continue
        top = max(top, r.loop_lag_max_ms)
        fig.add_trace(go.Scatter(x=[1000 * t for t, _ in r.loop_lag],
                                 y=[max(LAG_FLOOR_MS, lag) if log else lag for _, lag in r.loop_lag],
                                 customdata=[lag for _, lag in r.loop_lag],
                                 mode="lines", name=f"{label} (max {r.loop_lag_max_ms:.1f} ms)",
                                 line={"color": color, "width": 1.5},
                                 hovertemplate=f"{label}: %{{customdata:.1f}} ms late at %{{x:.0f}} ms<extra></extra>"))
        for t in blocking_spans(r):
            fig.add_vrect(x0=1000 * t.start_s, x1=1000 * t.end_s, fillcolor=color, opacity=0.10, line_width=0)
    fig.update_xaxes(title_text="milliseconds since the run started", range=[0, time_end_ms(reports)])
    if log:
        fig.update_yaxes(type="log", title_text="lag (ms, log scale)", dtick=1,
                         range=[math.log10(LAG_FLOOR_MS), math.log10(top * 2)])
    else:
        fig.update_yaxes(title_text="lag (ms)", range=[0, top * 1.1])
    return _layout(fig, title, height)


def complete_lines(series: list, x_of) -> dict[str, list]:
    """mode -> its measured points, sorted by x, over the x values that *every* mode of ``series`` measured:
    lines that all cover the same points, with no hole in any of them."""
    by_mode: dict[str, dict] = {}
    for p in series:
        if p.wall_s is not None:
            by_mode.setdefault(p.mode, {})[x_of(p)] = p
    modes = list(dict.fromkeys(p.mode for p in series))
    if any(m not in by_mode for m in modes):          # a mode with no measured point at all: no common x
        return {}
    shared = set.intersection(*(set(ps) for ps in by_mode.values())) if by_mode else set()
    return {m: [by_mode[m][x] for x in sorted(shared)] for m in modes}


def _knee_markers(fig: go.Figure, knees: list[dict], lines: dict[str, list], y_of) -> None:
    """Each knee as a ring on its line, in the mode's colour, its cause in the hover (and in the sentences above
    the charts): no text on the plot, so nothing to overlap."""
    at = [(k, next((p for p in lines.get(k["mode"], []) if p.n == k["n"]), None)) for k in knees]
    at = [(k, p) for k, p in at if p is not None]
    if not at:
        return
    fig.add_trace(go.Scatter(
        x=[p.n for _, p in at], y=[y_of(p) for _, p in at], mode="markers", name="knee (where a line bends)",
        marker={"symbol": "circle-open", "size": 16, "line": {"width": 2.5},
                "color": [mode_colour(k["mode"]) for k, _ in at]},
        hovertext=[f"{k['mode']} bends at {k['n']} calls: {k['cause']}" for k, _ in at], hoverinfo="text"))


def _calls_axis(fig: go.Figure, lines: dict[str, list]) -> None:
    sizes = sorted({p.n for ps in lines.values() for p in ps})
    fig.update_xaxes(type="log", title_text="calls", tickvals=sizes, ticktext=[str(n) for n in sizes])


def scaling_wall(points: list, kind: str, knees: list[dict]) -> go.Figure:
    """Wall-clock against the number of calls, one line per mode over the sizes every mode measured, the ideal
    dashed; knees ringed."""
    series = [p for p in points if p.workload == kind and p.axis == "n"]
    lines = complete_lines(series, lambda p: p.n)
    fig = go.Figure()
    for mode, ps in lines.items():
        fig.add_trace(go.Scatter(x=[p.n for p in ps], y=[p.wall_s for p in ps], mode="lines+markers", name=mode,
                                 line={"color": mode_colour(mode)},
                                 hovertemplate=f"{mode}: %{{x}} calls in %{{y:.3f}} s<extra></extra>"))
    sizes = {p.n for ps in lines.values() for p in ps}
    ideal = sorted({(p.n, p.ideal_s) for p in series if p.n in sizes})
    fig.add_trace(go.Scatter(x=[n for n, _ in ideal], y=[s for _, s in ideal], mode="lines", name="ideal",
                             line={"color": "#333333", "dash": "dash"}))
    _knee_markers(fig, knees, lines, lambda p: p.wall_s)
    _calls_axis(fig, lines)
    fig.update_yaxes(type="log", title_text="wall-clock (s, log scale)", dtick="D2")
    return _layout(fig, f"{kind}: wall-clock against the number of calls", 460)


def scaling_overhead(points: list, kind: str, knees: list[dict]) -> go.Figure:
    """Overhead per call (how far past the ideal, divided by the calls) against the number of calls."""
    series = [p for p in points if p.workload == kind and p.axis == "n"]
    lines = complete_lines(series, lambda p: p.n)
    fig = go.Figure()
    floor_ms = 0.01                         # a log axis has no zero: below this the overhead is noise
    for mode, ps in lines.items():
        fig.add_trace(go.Scatter(x=[p.n for p in ps], y=[max(floor_ms, p.overhead_per_call_ms) for p in ps],
                                 mode="lines+markers", name=mode, line={"color": mode_colour(mode)},
                                 hovertemplate=f"{mode}: %{{y:.2f}} ms per call at %{{x}} calls<extra></extra>"))
    _knee_markers(fig, knees, lines, lambda p: max(floor_ms, p.overhead_per_call_ms))
    _calls_axis(fig, lines)
    fig.update_yaxes(type="log", title_text="overhead per call (ms, log scale)", dtick="D2")
    return _layout(fig, f"{kind}: overhead per call beyond the ideal", 460)


def scaling_workers(points: list, kind: str) -> go.Figure:
    """Wall-clock against the pool size (or asyncio's cap on calls in flight), at a fixed number of calls, for
    the modes whose workers change how they run this kind of call. The axis is the kind's
    (:func:`agent_core.scaling.workers_axis`): up to twice the usable cores for CPU work, up to 64 for I/O; a
    mode's line ends at its own most workers."""
    from agent_core.scaling import workers_axis
    series = [p for p in points if p.workload == kind and p.axis == "workers" and p.wall_s is not None]
    fig = go.Figure()
    for mode in dict.fromkeys(p.mode for p in series):
        ps = sorted((p for p in series if p.mode == mode), key=lambda p: p.workers)
        fig.add_trace(go.Scatter(x=[p.workers for p in ps], y=[p.wall_s for p in ps], mode="lines+markers", name=mode,
                                 line={"color": mode_colour(mode)},
                                 hovertemplate=f"{mode}: %{{x}} workers, %{{y:.3f}} s<extra></extra>"))
    n = series[0].n if series else 0
    axis = sorted({p.workers for p in series} | set(workers_axis(kind)))
    fig.update_xaxes(type="log", title_text="workers (pool size / cap on calls in flight)", tickvals=axis,
                     ticktext=[str(w) for w in axis],
                     range=[math.log10(axis[0]) - 0.08, math.log10(axis[-1]) + 0.08])
    fig.update_yaxes(type="log", title_text="wall-clock (s, log scale)", dtick="D2")
    return _layout(fig, f"{kind}: {n} calls, wall-clock against the workers", 400)


def scaling_transports(points: list) -> go.Figure:
    """io: the client's CPU per call against the number of calls, a line per (mode, async HTTP transport): the
    work each request costs on the loop's one thread, which is what bends a loop mode's wall."""
    from agent_core.workload import HTTP_CLIENTS
    series = [p for p in points if p.workload == "io" and p.axis == "n" and p.http and p.cpu_per_call_ms is not None]
    dashes = ("solid", "dot", "dash", "dashdot")
    fig = go.Figure()
    for mode, http in dict.fromkeys((p.mode, p.http) for p in series):
        ps = sorted((p for p in series if p.mode == mode and p.http == http), key=lambda p: p.n)
        dash = dashes[list(HTTP_CLIENTS).index(http) % len(dashes)] if http in HTTP_CLIENTS else "dash"
        fig.add_trace(go.Scatter(x=[p.n for p in ps], y=[p.cpu_per_call_ms for p in ps], mode="lines+markers",
                                 name=f"{mode} over {http}", line={"color": mode_colour(mode), "dash": dash},
                                 customdata=[p.wall_s for p in ps],
                                 hovertemplate=f"{mode} over {http}: %{{y:.2f}} ms of CPU per call at %{{x}} calls "
                                               "(wall %{customdata:.2f} s)<extra></extra>"))
    fig.update_xaxes(type="log", title_text="calls")
    fig.update_yaxes(rangemode="tozero", title_text="client CPU per call (ms)")
    return _layout(fig, "io: client CPU per call, by async HTTP transport", 380)


def classify_map(verdicts: list) -> go.Figure:
    """Each classified tool at (CPU share of its wall, loop lag as a share of its wall), coloured by the kind the
    measurement gives; the engine's thresholds split the plane. A contradicted declaration is a cross; a lag past
    the top of the axis is drawn at the top as a triangle (the hover has the real value)."""
    from agent_core.classifier import CPU_SHARE, FROZE_SHARE
    fig = go.Figure()
    for kind in dict.fromkeys(v.kind for v in verdicts):
        vs = [v for v in verdicts if v.kind == kind]
        fig.add_trace(go.Scatter(
            name=kind, x=[v.evidence["cpu_share"] for v in vs],
            y=[min(LAG_SHARE_TOP, lag_share(v.evidence)) for v in vs],
            mode="markers+text", text=[v.name for v in vs], textposition="top center", cliponaxis=False,
            customdata=[v.name for v in vs],
            marker={"color": KIND_COLOURS.get(kind, UNKNOWN), "size": 14, "line": {"width": 1, "color": "#333333"},
                    "symbol": ["x" if v.contradicts else "triangle-up" if lag_share(v.evidence) > LAG_SHARE_TOP
                               else "circle" for v in vs]},
            hovertext=[f"<b>{v.name}</b>: {kind} (declared {v.declared or 'nothing'})<br>"
                       f"CPU {v.evidence['cpu_share']:.0%} of {v.evidence['wall_ms']:g} ms · loop lag "
                       f"{v.evidence['loop_lag_ms']:g} ms ({lag_share(v.evidence):.0%} of its wall) · two in threads "
                       f"×{v.evidence.get('two_in_threads_x')}" for v in vs], hoverinfo="text"))
    fig.add_shape(type="rect", x0=0, x1=CPU_SHARE, y0=0, y1=FROZE_SHARE, line_width=0, layer="below",
                  fillcolor=KIND_COLOURS["io"], opacity=0.07)
    fig.add_shape(type="rect", x0=0, x1=CPU_SHARE, y0=FROZE_SHARE, y1=LAG_SHARE_TOP + 0.2, line_width=0,
                  layer="below", fillcolor=KIND_COLOURS["blocking"], opacity=0.07)
    fig.add_shape(type="rect", x0=CPU_SHARE, x1=1.05, y0=0, y1=LAG_SHARE_TOP + 0.2, line_width=0, layer="below",
                  fillcolor=KIND_COLOURS["cpu"], opacity=0.07)
    for x, y, text in ((0.01, FROZE_SHARE - 0.01, "waits, the loop beats: io"),
                       (0.01, LAG_SHARE_TOP + 0.19, "froze the loop: blocking"),
                       (CPU_SHARE + 0.01, LAG_SHARE_TOP + 0.19, "computes: cpu if it holds the GIL")):
        fig.add_annotation(x=x, y=y, text=text, showarrow=False, xanchor="left", yanchor="top",
                           font={"size": 11, "color": "#777777"})
    fig.update_xaxes(title_text="CPU share of its wall (alone)", range=[0, 1.05], tickformat=".0%")
    fig.update_yaxes(title_text="event-loop lag / its wall", range=[0, LAG_SHARE_TOP + 0.2], tickformat=".0%")
    return _layout(fig, "What each tool did: CPU share vs event-loop lag", 400)


def lag_share(evidence: dict) -> float:
    """How long the tool froze the event loop, as a share of its own wall alone."""
    wall = evidence.get("wall_ms") or 0.0
    return evidence["loop_lag_ms"] / wall if wall > 0 else 0.0


def classify_threads(verdicts: list) -> go.Figure:
    """Two copies at once in two threads, against one copy alone: about ×1 they overlapped, about ×2 they took
    turns (the GIL); the engine's threshold between them dashed."""
    from agent_core.classifier import SERIALISED
    names = [v.name for v in verdicts]
    values = [v.evidence.get("two_in_threads_x") or 0.0 for v in verdicts]
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=[KIND_COLOURS.get(v.kind, UNKNOWN) for v in verdicts],
                           text=[f"×{x:g}" for x in values], textposition="outside", showlegend=False,
                           hovertemplate="%{x}: two at once took ×%{y} one's wall<extra></extra>"))
    for y in (1.0, 2.0):
        fig.add_hline(y=y, line_dash="dot", line_color="#999999")
    fig.add_hline(y=SERIALISED, line_dash="dash", line_color="#666666")
    fig.update_yaxes(title_text="× one copy's wall", range=[0, max([2.4] + [x * 1.15 for x in values])])
    return _layout(fig, "Two at once in threads: ×1 overlapped, ×2 took turns", 400)


PAIR_COLOURS = ("#4C78A8", "#F58518")      # run A, run B: the same in every chart of a pair


def pair_timelines(a: RunReport, b: RunReport, names: tuple[str, str] = ("A", "B")) -> go.Figure:
    """Two runs on one shared time axis (milliseconds since each run's own start): each run's timeline in a row of
    its own and, when either had an event loop, both heartbeats beneath. The rows' x axes are matched: one range,
    and zooming one zooms all."""
    from plotly.subplots import make_subplots
    runs = list(zip((a, b), names, strict=True))
    lag = any(r.loop_lag is not None for r in (a, b))
    legend: set[str] = set()
    drawn = [_timeline_traces(r, legend) for r in (a, b)]
    weights = [max(2, len(order)) for _, order in drawn] + ([3] if lag else [])
    titles = [f"{name} · {r.mode} · {r.options.get('spec', '?')} · wall {_fmt_s(r.wall_s)}" for r, name in runs]
    fig = make_subplots(rows=len(weights), cols=1, shared_xaxes=True, vertical_spacing=0.09,
                        row_heights=[w / sum(weights) for w in weights],
                        subplot_titles=titles + (["Event-loop heartbeat (ms late)"] if lag else []))
    for row, ((r, _), (traces, order)) in enumerate(zip(runs, drawn, strict=True), start=1):
        for trace in traces:
            fig.add_trace(trace, row=row, col=1)
        fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(order)), row=row, col=1)
        for t in blocking_spans(r):
            fig.add_vrect(x0=1000 * t.start_s, x1=1000 * t.end_s, fillcolor=FAILED, opacity=0.12, line_width=0,
                          row=row, col=1)
    if lag:
        log = lag_axis_is_log([a, b])
        for (r, name), colour in zip(runs, PAIR_COLOURS, strict=True):
            if r.loop_lag is not None:
                fig.add_trace(go.Scatter(
                    x=[1000 * t for t, _ in r.loop_lag], y=[max(LAG_FLOOR_MS, v) if log else v for _, v in r.loop_lag],
                    customdata=[v for _, v in r.loop_lag], mode="lines", line={"color": colour, "width": 1.5},
                    name=f"{name}: loop lag (max {r.loop_lag_max_ms:.0f} ms)",
                    hovertemplate=f"{name}: %{{customdata:.1f}} ms late at %{{x:.0f}} ms<extra></extra>"), row=3, col=1)
        if log:
            fig.update_yaxes(type="log", title_text="ms, log", row=3, col=1)
        else:
            fig.update_yaxes(rangemode="tozero", row=3, col=1)
    end = 1000 * max(a.wall_s, b.wall_s) * 1.02
    fig.update_xaxes(range=[0, end])      # make_subplots matched every row's axis to the bottom one's
    fig.update_xaxes(title_text="milliseconds since each run started", row=len(weights), col=1)
    fig.update_layout(barmode="overlay")
    _layout(fig, f"{names[0]} and {names[1]} on one time axis", min(1400, 180 + 24 * sum(weights)),
            legend_side="right")
    fig.update_annotations(x=0, xanchor="left", font={"size": 13})     # the row titles, left like the title
    return fig


def pair_totals(a: RunReport, b: RunReport, names: tuple[str, str] = ("A", "B")) -> go.Figure:
    """Wall-clock against summed task time and CPU time, the two runs side by side."""
    what = ["wall-clock", "Σ task time", "Σ CPU time", "critical path"]
    fig = go.Figure([go.Bar(name=name, y=what, x=[r.wall_s, r.sum_task_s, r.sum_cpu_s, r.critical_path_s],
                            orientation="h", marker_color=colour,
                            text=[_fmt_s(v) for v in (r.wall_s, r.sum_task_s, r.sum_cpu_s, r.critical_path_s)],
                            textposition="auto", hovertemplate=f"{name} · %{{y}}: %{{x:.3f}} s<extra></extra>")
                     for r, name, colour in zip((a, b), names, PAIR_COLOURS, strict=True)])
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="seconds", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Wall-clock vs Σ task time", 340)


def pair_tools(a: RunReport, b: RunReport, names: tuple[str, str] = ("A", "B")) -> go.Figure:
    """Each tool's call durations in the two runs: every call a point, its box beside the other run's."""
    fig = go.Figure()
    for r, name, colour in zip((a, b), names, PAIR_COLOURS, strict=True):
        fig.add_trace(go.Box(name=name, x=[t.tool for t in r.tasks], y=[1000 * t.duration_s for t in r.tasks],
                             marker_color=colour, boxpoints="all", jitter=0.3, pointpos=0,
                             customdata=[t.id for t in r.tasks],
                             hovertemplate=f"{name} · %{{customdata}}: %{{y:.1f}} ms<extra></extra>"))
    fig.update_layout(boxmode="group")
    fig.update_yaxes(title_text="call duration (ms)", rangemode="tozero")
    return _layout(fig, "Per-tool call durations", 360)
