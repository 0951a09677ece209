"""A pipeline's pictures: its graph as DOT (for ``st.graphviz_chart``), its runs' timelines with dependency links, its
stages' wall against Σ task time, and barrier against as-ready. Pure functions (no Streamlit): records in, a DOT
string or a ``go.Figure`` out.

Colours are the kinds' (``ui.charts.KIND_COLOURS``) in the graph and the timeline alike; the critical path (the
longest dependency chain of measured durations, :attr:`RunReport.critical_path`) is drawn thick and dark in both.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from agent_core import pipeline_study
from agent_core.records import RunReport
from agent_core.workload import Workload
from ui.charts import KIND_COLOURS, UNKNOWN, _layout

CRITICAL = "#111111"        # the critical path's outline and links
LINK = "#B8B8B8"            # every other dependency link
SCHEDULES = {False: "as ready", True: "barrier"}
SCHEDULE_COLOURS = {False: "#4C78A8", True: "#F58518"}
ROW_PX = 16                 # a call's row in a timeline
MAX_LABEL = 28              # a node's first line is cut to this many characters


@dataclass(frozen=True)
class Node:
    """One call of the graph: as laid out (from a workload) or as run (from a report: its tool as resolved)."""

    id: str
    tool: str
    kind: str
    stage: str
    deps: tuple[str, ...]
    seconds: float | None = None
    status: str = "ok"


def workload_nodes(workload: Workload) -> list[Node]:
    return [Node(c.id, c.tool, c.kind, c.stage, tuple(workload.dep_ids(c))) for c in workload.calls()]


def report_nodes(r: RunReport) -> list[Node]:
    return [Node(t.id, t.tool, t.kind, t.stage, tuple(t.deps), t.duration_s, t.status) for t in r.tasks]


def run_label(r: RunReport) -> str:
    """A run as the page names it: its mode, and its schedule when it waited stage by stage."""
    return r.mode + (" · barrier" if r.pipeline and r.pipeline.get("barrier") else "")


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lines(*parts: str) -> str:
    """A DOT label of several lines (DOT's own ``\\n`` between them)."""
    return '"' + "\\n".join(p.replace("\\", "\\\\").replace('"', '\\"') for p in parts) + '"'


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def graph_dot(nodes: Iterable[Node], critical: Iterable[str] = ()) -> str:
    """The graph in DOT: one box per call (its id and tool, and its measured seconds once run), filled with its
    kind's colour, boxed with the other calls of its stage (stages left to right in order); one edge per
    dependency. The ``critical`` calls and the edges between consecutive ones are drawn thick and dark."""
    nodes = list(nodes)
    path = list(critical)
    on_path = set(path)
    path_edges = set(zip(path, path[1:], strict=False))
    ids = {n.id for n in nodes}
    out = ["digraph pipeline {",
           '  graph [rankdir=LR, nodesep=0.12, ranksep=0.35, fontname="Helvetica", fontsize=11, bgcolor="white"];',
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, fontcolor="white", '
           'margin="0.08,0.03", height=0.3, penwidth=0];',
           f'  edge [color="{LINK}", arrowsize=0.5, penwidth=1];']
    stages = list(dict.fromkeys(n.stage for n in nodes))
    for i, stage in enumerate(stages):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f'    label={_q(stage or "calls")}; labeljust="l"; style="rounded,dashed"; color="#C8C8C8"; '
                   'fontcolor="#555555";')
        for n in (n for n in nodes if n.stage == stage):
            label = _lines(_cut(n.id), n.tool, *([f"{n.seconds:.2f} s"] if n.seconds is not None else []))
            attrs = [f"label={label}", f'fillcolor="{KIND_COLOURS.get(n.kind, UNKNOWN)}"',
                     f"tooltip={_q(f'{n.id}: {n.tool} ({n.kind}), stage {n.stage}')}"]
            if n.status != "ok":
                attrs.append('style="rounded,filled,dashed"')
                attrs.append(f'color="{UNKNOWN}", penwidth=2')
            if n.id in on_path:
                attrs.append(f'color="{CRITICAL}", penwidth=3')
            out.append(f"    {_q(n.id)} [" + ", ".join(attrs) + "];")
        out.append("  }")
    for n in nodes:
        for d in n.deps:
            if d not in ids:
                continue
            attrs = f' [color="{CRITICAL}", penwidth=3, arrowsize=0.7]' if (d, n.id) in path_edges else ""
            out.append(f"  {_q(d)} -> {_q(n.id)}{attrs};")
    out.append("}")
    return "\n".join(out)


def _axes(fig: go.Figure, title: str, height: int, legend_side: str = "top") -> go.Figure:
    """The frame every chart of the app shares (:func:`ui.charts._layout`: the legend in a band of its own, never
    over the plot or its axis titles), with this module's smaller legend text."""
    _layout(fig, title, height, legend_side)
    fig.update_layout(bargap=0.3, legend={"font": {"size": 11}})
    return fig


def timelines(reports: list[RunReport]) -> go.Figure:
    """Each run's calls on its own clock, one row per call (in the graph's order), one run under the other on
    one shared time axis (ms). A grey line joins each dependency's end to the call's start; the critical path's
    bars are outlined and its links drawn dark."""
    reports = list(reports)
    heights = [max(4, len(r.tasks)) for r in reports]
    titles = [f"{run_label(r)} · wall {r.wall_s:.2f} s · critical path {r.critical_path_s:.2f} s" for r in reports]
    fig = make_subplots(rows=len(reports), cols=1, shared_xaxes=True, row_heights=heights,
                        vertical_spacing=min(0.08, 60 / max(1, sum(heights) * ROW_PX)), subplot_titles=titles)
    shown: set[str] = set()
    for row, r in enumerate(reports, start=1):
        on_path = set(r.critical_path)
        path_links = set(zip(r.critical_path, r.critical_path[1:], strict=False))
        by_id = {t.id: t for t in r.tasks}
        for kind in dict.fromkeys(t.kind for t in r.tasks):
            tasks = [t for t in r.tasks if t.kind == kind]
            fig.add_trace(go.Bar(
                orientation="h", y=[t.id for t in tasks], base=[1000 * t.start_s for t in tasks],
                x=[max(1000 * t.duration_s, 0.5) for t in tasks], name=kind, legendgroup=kind,
                showlegend=kind not in shown, marker_color=KIND_COLOURS.get(kind, UNKNOWN),
                marker_line_color=[CRITICAL if t.id in on_path else "rgba(0,0,0,0)" for t in tasks],
                marker_line_width=[2.5 if t.id in on_path else 0 for t in tasks],
                customdata=[[t.tool, t.worker, t.stage, 1000 * t.duration_s, t.status] for t in tasks],
                hovertemplate="<b>%{y}</b> %{customdata[0]} on %{customdata[1]}<br>stage %{customdata[2]} · "
                              "start %{base:.1f} ms · took %{customdata[3]:.1f} ms · %{customdata[4]}<extra></extra>"),
                row=row, col=1)
            shown.add(kind)
        for critical in (False, True):
            xs: list = []
            ys: list = []
            for t in r.tasks:
                for d in t.deps:
                    if d in by_id and ((d, t.id) in path_links) == critical:
                        xs += [1000 * by_id[d].end_s, 1000 * t.start_s, None]
                        ys += [d, t.id, None]
            if xs:
                name = "critical path" if critical else "dependency"
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup=name,
                                         showlegend=name not in shown, hoverinfo="skip",
                                         line={"color": CRITICAL if critical else LINK,
                                               "width": 2.5 if critical else 1}), row=row, col=1)
                shown.add(name)
        fig.update_yaxes(categoryorder="array", categoryarray=[t.id for t in r.tasks], autorange="reversed",
                         tickfont={"size": 9}, dtick=1, row=row, col=1)     # every call's name, none skipped
    end = 1000 * max((r.wall_s for r in reports), default=0.0) * 1.02
    fig.update_xaxes(range=[0, end])
    fig.update_xaxes(title_text="ms since the run started", row=len(reports), col=1)
    for a in fig.layout.annotations:            # the subplot titles: left-aligned, small
        a.update(x=0, xanchor="left", font={"size": 12})
    title = "Timelines on one time axis" if len(reports) > 1 else "Timeline"     # each run's own line under it
    return _axes(fig, title, 90 + sum(ROW_PX * h + 40 for h in heights), legend_side="right")  # row titles on top


def stage_bars(r: RunReport) -> go.Figure:
    """Per stage: its wall (first start to last end) beside its calls' Σ task time; critical stages marked."""
    rows = pipeline_study.stages(r)
    names = [s["stage"] + (" ★" if s["critical"] else "") for s in rows]
    fig = go.Figure([
        go.Bar(x=names, y=[s["wall_s"] for s in rows], name="stage wall", marker_color="#4C78A8",
               text=[f"{s['wall_s']:.2f}" for s in rows], textposition="outside",
               customdata=[s["calls"] for s in rows], hovertemplate="%{x}: wall %{y:.3f} s, %{customdata} calls"
                                                                    "<extra></extra>"),
        go.Bar(x=names, y=[s["sum_task_s"] for s in rows], name="Σ task time", marker_color="#9ECAE9",
               text=[f"{s['sum_task_s']:.2f}" for s in rows], textposition="outside",
               hovertemplate="%{x}: Σ task time %{y:.3f} s<extra></extra>")])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="seconds", rangemode="tozero")
    return _axes(fig, f"Per stage: wall against Σ task time · {run_label(r)} (★ on the critical path)", 340)


def schedule_bars(reports: list[RunReport]) -> go.Figure:
    """Each run's wall, grouped by mode, one bar per schedule (as ready, barrier); where both ran, what the
    barrier cost written above the pair."""
    modes = list(dict.fromkeys(r.mode for r in reports))
    walls = {(r.mode, bool(r.pipeline and r.pipeline.get("barrier"))): r.wall_s for r in reports}
    fig = go.Figure()
    for barrier in (False, True):
        present = [m for m in modes if (m, barrier) in walls]
        if present:
            fig.add_trace(go.Bar(x=present, y=[walls[m, barrier] for m in present], name=SCHEDULES[barrier],
                                 marker_color=SCHEDULE_COLOURS[barrier], text=[f"{walls[m, barrier]:.2f} s"
                                                                               for m in present],
                                 textposition="inside", hovertemplate="%{x}: %{y:.3f} s<extra></extra>"))
    top = max(walls.values(), default=0.0)
    for m in modes:
        if (m, False) in walls and (m, True) in walls:
            cost = walls[m, True] - walls[m, False]
            fig.add_annotation(x=m, y=max(walls[m, True], walls[m, False]), yanchor="bottom", showarrow=False,
                               text=f"{cost:+.2f} s", font={"size": 11, "color": "#333333"})
    fig.update_layout(barmode="group")
    fig.update_xaxes(tickfont={"color": "#333333"})
    fig.update_yaxes(title_text="wall-clock, s", rangemode="tozero", range=[0, top * 1.15 if top else 1])
    both = len(fig.data) == 2
    return _axes(fig, "Wall-clock per mode: as ready against a barrier (its cost above each pair)" if both
                 else "Wall-clock per mode", 340)
