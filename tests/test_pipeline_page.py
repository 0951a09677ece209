"""The Pipelines page under AppTest, and its pictures from real runs: every pipeline opens with its graph, a run draws
the graph with its critical path and the timelines of what was measured, bad addresses are error lines."""
from __future__ import annotations

import json
import re

import pytest

import agent_core
from agent_core import pipeline_study
from agent_core.modes import MODES
from agent_core.pipelines import PIPELINES, pipeline
from ui import pipeline_charts, widgets

from .test_pages import figures, open_page

PAGE = "pages/8_Pipelines.py"
FAST = {"llm_call": {"ttft_ms": 60, "tokens": 8, "tokens_per_s": 800}, "web_search": {"latency_ms": 60},
        "vector_lookup": {"latency_ms": 40}, "legacy_sdk": {"latency_ms": 60}, "memory_write": {"rows": 200}}
NODE = re.compile(r'^\s+"([^"]+)" \[(.*)\];$', re.M)
EDGE = re.compile(r'^\s+"([^"]+)" -> "([^"]+)"( \[.*\])?;$', re.M)


def dot_of(at) -> str:
    charts = at.get("graphviz_chart")
    assert len(charts) == 1, "one graph on the page"
    return charts[0].proto.spec


def test_the_page_is_in_the_apps_one_list():
    assert PAGE in [path for path, _, _ in widgets.PAGES]


@pytest.mark.parametrize("name", PIPELINES)
def test_every_pipeline_opens_by_its_address_with_its_graph_and_a_widget_per_parameter(name):
    at = open_page(PAGE, pipeline=name)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="pipe.pipeline").value == name
    spec = PIPELINES[name]
    for p in spec.params:
        assert at.session_state[f"pipe.{name}.{p.name}"] == p.default
        widget = at.selectbox(key=f"pipe.{name}.{p.name}") if p.choices else at.slider(key=f"pipe.{name}.{p.name}")
        if p.choices:
            assert list(widget.options) == list(p.choices)
        else:
            assert (widget.min, widget.max) == (p.lo, p.hi), "the slider's bounds are the engine's"
    nodes = dict(NODE.findall(dot_of(at)))
    assert set(nodes) == {c.id for c in pipeline(name).calls()}
    assert list(at.selectbox(key="pipe.mode").options) == [*MODES, "every mode"]


def test_a_good_address_preselects_pipeline_parameters_mode_and_schedule():
    at = open_page(PAGE, pipeline="agent_loop", mode="asyncio", turns=2, tools="io", schedule="both")
    assert not at.error
    state = at.session_state
    assert (state["pipe.pipeline"], state["pipe.agent_loop.turns"], state["pipe.agent_loop.tools"], state["pipe.mode"],
            state["pipe.schedule"]) == ("agent_loop", 2, "io", "asyncio", "both")
    nodes = dict(NODE.findall(dot_of(at)))
    assert set(nodes) == {c.id for c in pipeline("agent_loop", {"turns": 2, "tools": "io"}).calls()}
    assert open_page(PAGE, mode="every").session_state["pipe.mode"] == "every mode"


def test_bad_address_values_are_error_lines_and_the_page_still_works():
    at = open_page(PAGE, pipeline="nope")
    assert [e.value for e in at.error] == [f"The address asks for the pipeline 'nope': allowed are "
                                           f"{', '.join(PIPELINES)}."]
    assert at.session_state["pipe.pipeline"] == next(iter(PIPELINES)) and at.get("graphviz_chart")
    at = open_page(PAGE, pipeline="research_agent", k=99, fetch="ftp", mode="warp", schedule="never", color="red")
    errors = [e.value for e in at.error]
    assert len(errors) == 5, errors
    assert any("k=99" in e and "out of range: allowed 1..10" in e for e in errors)
    assert any("fetch='ftp'" in e and "one of sdk, io" in e for e in errors)
    assert any("has no parameter 'color'" in e for e in errors)
    assert any("mode 'warp'" in e for e in errors) and any("schedule 'never'" in e for e in errors)
    assert at.session_state["pipe.research_agent.k"] == PIPELINES["research_agent"].param("k").default
    assert not at.exception


def test_a_job_over_the_budget_is_refused_in_one_line_before_anything_runs():
    spec = PIPELINES["agent_loop"]
    at = open_page(PAGE, pipeline="agent_loop", mode="every", schedule="both",
                   **{p.name: p.hi for p in spec.params if not p.choices})
    at.button(key="pipe.run").click().run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("this job is estimated at up to ") and "run one schedule, not both" in error
    assert at.session_state.get("pipe.reports") is None


def test_run_draws_the_graph_with_its_critical_path_and_the_timelines_of_what_was_measured():
    at = open_page(PAGE, timeout=300, pipeline="research_agent", k=2, mode="hybrid", schedule="both")
    at.button(key="pipe.run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ready, barrier = at.session_state["pipe.reports"]
    assert (ready.mode, ready.pipeline["barrier"], barrier.mode, barrier.pipeline["barrier"]) == \
        ("hybrid", False, "hybrid", True)
    dot = dot_of(at)                    # the first run's: its critical path drawn thick
    thick = {n for n, attrs in NODE.findall(dot) if "penwidth=3" in attrs}
    assert thick == set(ready.critical_path)
    by_title = {f["layout"]["title"]["text"]: f for f in figures(at)}
    timeline = by_title["Timelines on one time axis"]
    bars = [tr for tr in timeline["data"] if tr["type"] == "bar"]
    drawn = sorted((y, base) for tr in bars for y, base in zip(tr["y"], tr["base"], strict=True))
    measured = sorted((t.id, 1000 * t.start_s) for r in (ready, barrier) for t in r.tasks)
    assert [d[0] for d in drawn] == [m[0] for m in measured]
    assert all(abs(d[1] - m[1]) < 1e-6 for d, m in zip(drawn, measured, strict=True))
    axes = {k: v for k, v in timeline["layout"].items() if k.startswith("xaxis")}
    assert len(axes) == 2 and axes["xaxis"].get("matches") == "x2", "the runs share one time axis"
    walls = by_title["Wall-clock per mode: as ready against a barrier (its cost above each pair)"]
    assert [tr["y"] for tr in walls["data"]] == [[ready.wall_s], [barrier.wall_s]]
    stages = next(f for t, f in by_title.items() if t.startswith("Per stage"))
    assert stages["data"][0]["y"] == [s["wall_s"] for s in pipeline_study.stages(ready)]
    tokens = at.dataframe[0].value
    assert list(tokens["call"]) == [f["call"] for r in (ready, barrier) for f in pipeline_study.first_tokens(r)]
    text = " ".join(m.value for m in at.markdown)
    assert "The critical path" in text and "waiting for each whole stage (a barrier)" in text
    assert re.search(r"hybrid with a barrier (finished first in|\(\d)", text), "the ranking names each run's schedule"
    assert at.button(key="pipe.run").disabled is False, "Run is enabled again once the run is done"


def test_the_dot_has_every_call_as_a_node_every_dep_as_an_edge_and_the_critical_path_highlighted():
    report = agent_core.run(pipeline("research_agent", {"k": 2}, FAST), "threads")
    assert report.ok
    dot = pipeline_charts.graph_dot(pipeline_charts.report_nodes(report), report.critical_path)
    nodes = dict(NODE.findall(dot))
    assert set(nodes) == {t.id for t in report.tasks}
    edges = {(a, b): attrs for a, b, attrs in EDGE.findall(dot)}
    assert set(edges) == {(d, t.id) for t in report.tasks for d in t.deps}
    path = report.critical_path
    assert len(path) == 7 and path[0] == "plan" and path[-1] == "memory"
    for node, attrs in nodes.items():
        assert ("penwidth=3" in attrs) == (node in path), node
        assert f"{report.tasks[[t.id for t in report.tasks].index(node)].duration_s:.2f} s" in attrs
    assert {e for e, attrs in edges.items() if "penwidth=3" in attrs} == set(zip(path, path[1:], strict=False))
    # grouped by stage, in the pipeline's order
    clusters = re.findall(r'subgraph cluster_\d+ \{\n\s+label="([^"]+)"', dot)
    assert clusters == list(dict.fromkeys(t.stage for t in report.tasks))


def test_the_timeline_links_each_dependency_end_to_start():
    report = agent_core.run(pipeline("rag_answer", {"lookups": 2}, {"llm_call": FAST["llm_call"],
                                                                   "vector_lookup": FAST["vector_lookup"]}), "asyncio")
    fig = json.loads(pipeline_charts.timelines([report]).to_json())
    by_id = {t.id: t for t in report.tasks}
    links = set()
    for tr in fig["data"]:
        if tr["type"] == "scatter":
            xs, ys = tr["x"], tr["y"]
            for i in range(0, len(xs), 3):
                d, c = ys[i], ys[i + 1]
                assert xs[i] == pytest.approx(1000 * by_id[d].end_s) and xs[i + 1] == pytest.approx(
                    1000 * by_id[c].start_s)
                links.add((d, c, tr["name"]))
    expected = {(d, t.id) for t in report.tasks for d in t.deps}
    assert {(d, c) for d, c, _ in links} == expected
    path = report.critical_path
    assert {(d, c) for d, c, name in links if name == "critical path"} == set(zip(path, path[1:], strict=False))
