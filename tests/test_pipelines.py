"""Pipelines: agent turns as graphs. Every mode starts a call once the calls it needs are done; a barrier waits for
the whole previous stage; the critical path is the longest dependency chain of measured durations."""
from __future__ import annotations

import json

import pytest

import agent_core
from agent_core.errors import BadInput
from agent_core.modes import MODES
from agent_core.pipelines import PIPELINES, TOOL_SETS, pipeline

from .test_cli import cli

FAST = {"llm_call": {"ttft_ms": 60, "tokens": 8, "tokens_per_s": 800}, "web_search": {"latency_ms": 60},
        "vector_lookup": {"latency_ms": 40}, "legacy_sdk": {"latency_ms": 60}, "memory_write": {"rows": 200}}


def longest_chain(tasks: list[dict]) -> float:
    """The longest dependency chain of measured durations, computed here from the records alone."""
    by_id = {t["id"]: t for t in tasks}
    memo: dict[str, float] = {}

    def chain(i: str) -> float:
        if i not in memo:
            t = by_id[i]
            memo[i] = (t["end_s"] - t["start_s"]) + max((chain(d) for d in t["deps"]), default=0.0)
        return memo[i]

    return max(chain(i) for i in by_id)


def deps_honoured(report) -> list[str]:
    ends = {t.id: t.end_s for t in report.tasks}
    return [f"{t.id} started at {t.start_s:.4f} before {d} ended at {ends[d]:.4f}"
            for t in report.tasks if t.status == "ok" for d in t.deps if ends[d] > t.start_s + 1e-6]


def small(name: str, **params):
    tools = {tool: FAST[tool] for tool in FAST if any(c.tool == tool or tool in c.offer
                                                      for c in pipeline(name, params).calls())}
    return pipeline(name, params, tools)


@pytest.mark.parametrize("name", PIPELINES)
def test_every_pipeline_is_a_graph_of_known_tools_in_dependency_order(name):
    calls = pipeline(name).calls()
    assert len({c.id for c in calls}) == len(calls)
    for c in calls:
        assert all(d < c.index for d in c.deps), f"{c.id} depends on a later call"
        assert c.tool in agent_core.CATALOG
    assert any(c.deps for c in calls), "a pipeline has dependencies"
    stages = list(dict.fromkeys(c.stage for c in calls))
    assert len(stages) >= 3


def test_pipeline_parameters_are_bounded_in_the_engine():
    for name, spec in PIPELINES.items():
        for p in spec.params:
            if p.choices:
                with pytest.raises(BadInput, match=f"{name}.{p.name}="):
                    pipeline(name, {p.name: "nope"})
            else:
                with pytest.raises(BadInput, match="out of range"):
                    pipeline(name, {p.name: p.hi + 1})
    with pytest.raises(BadInput, match="unknown pipeline 'nope'"):
        pipeline("nope")
    with pytest.raises(BadInput, match="has no parameter 'x'"):
        pipeline("research_agent", {"x": 1})
    with pytest.raises(BadInput, match="makes no analysis call"):
        pipeline("research_agent", tool_params={"analysis": {"work": 2000}})
    with pytest.raises(BadInput, match="out of range"):
        pipeline("research_agent", tool_params={"web_search": {"latency_ms": 10**9}})


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_starts_a_call_only_after_the_calls_it_needs(mode):
    report = agent_core.run(small("research_agent", k=2), mode)
    assert report.statuses == {"ok": len(report.tasks)}, [t.error for t in report.tasks if t.status != "ok"]
    assert not deps_honoured(report)
    assert report.critical_path_s == pytest.approx(longest_chain(report.to_dict()["tasks"]), abs=1e-5)
    assert report.critical_path[0] == "plan" and report.critical_path[-1] == "memory"
    # nothing finishes sooner than its longest chain; the ends of the chain really follow each other
    assert report.wall_s >= report.critical_path_s - 1e-3


def test_independent_branches_overlap_and_sequential_does_not():
    hybrid = agent_core.run(small("research_agent", k=4), "hybrid")
    searches = [t for t in hybrid.tasks if t.stage == "search"]
    assert len(searches) == 4
    first_end = min(t.end_s for t in searches)
    assert sum(t.start_s < first_end for t in searches) == 4, "the four searches ran at once"
    sequential = agent_core.run(small("research_agent", k=4), "sequential")
    ordered = sorted(sequential.tasks, key=lambda t: t.start_s)
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in zip(ordered, ordered[1:], strict=False))


def test_a_barrier_waits_for_the_whole_previous_stage():
    report = agent_core.run(small("research_agent", k=3), "hybrid", barrier=True)
    assert report.ok
    stages = list(dict.fromkeys(t.stage for t in report.tasks))
    for before, after in zip(stages, stages[1:], strict=False):
        last_end = max(t.end_s for t in report.tasks if t.stage == before)
        first_start = min(t.start_s for t in report.tasks if t.stage == after)
        assert first_start >= last_end - 1e-6, f"{after} started before {before} was done"
    assert report.options["pipeline"]["barrier"] is True


def test_a_failed_call_holds_back_only_what_needs_it():
    report = agent_core.run(small("research_agent", k=3), "hybrid", faults={"web_search": ("raise", 1)})
    by_id = {t.id: t for t in report.tasks}
    assert by_id["search#1"].status == "error"
    for held in ("fetch#1", "chunk#1", "lookup#1", "synthesis", "memory"):
        assert by_id[held].status == "cancelled" and by_id[held].error.startswith("not run:"), held
    for ran in ("search#2", "fetch#2", "chunk#2", "lookup#3"):
        assert by_id[ran].status == "ok", ran
    assert "search#1" in by_id["fetch#1"].error


@pytest.mark.parametrize("mode", ["asyncio", "process-pool"])
def test_the_agent_loop_runs_the_tools_the_model_asked_for(mode):
    report = agent_core.run(small("agent_loop", turns=2, calls_per_turn=2, tools="mixed"), mode)
    assert report.ok, [(t.id, t.error) for t in report.tasks if t.status != "ok"]
    by_id = {t.id: t for t in report.tasks}
    for turn in (1, 2):
        asked = by_id[f"turn{turn}.llm"].detail["tool_calls"]
        assert len(asked) == 2
        for k, call in enumerate(asked, 1):
            ran = by_id[f"turn{turn}.tool#{k}"]
            assert ran.tool == call["name"] and ran.tool in TOOL_SETS["mixed"]
            assert ran.kind == agent_core.CATALOG[ran.tool].kind
    assert not deps_honoured(report)
    assert "tool_calls" not in by_id["answer"].detail


def test_compare_pipeline_json_every_mode_every_call_ok_and_the_critical_path_from_the_records():
    p, _ = cli("compare", "--pipeline", "research_agent", "--param", "k=3", "--param", "llm_call.ttft_ms=80",
               "--param", "web_search.latency_ms=80", "--param", "legacy_sdk.latency_ms=80", "--json", timeout=300)
    assert p.returncode == 0, p.stderr
    runs = json.loads(p.stdout)["runs"]
    assert [r["mode"] for r in runs] == list(MODES)
    for r in runs:
        assert all(t["status"] == "ok" for t in r["tasks"]), r["mode"]
        assert r["critical_path_s"] == pytest.approx(longest_chain(r["tasks"]), abs=1e-6 * len(r["tasks"])), r["mode"]
        ids = {t["id"] for t in r["tasks"]}
        assert set(r["critical_path"]) <= ids and r["options"]["pipeline"]["name"] == "research_agent"
        assert all("deps" in t for t in r["tasks"])


def test_pipeline_bad_input_is_one_line_and_exit_2():
    for args, needle in ((["--pipeline", "nope"], "unknown pipeline 'nope'"),
                         (["--pipeline", "agent_loop", "--param", "turns=99"], "agent_loop.turns=99 is out of range"),
                         (["--pipeline", "agent_loop", "--param", "zz=1"], "agent_loop has no parameter 'zz'"),
                         (["--tools", "web_search", "--barrier"], "--barrier needs --pipeline"),
                         (["--tools", "web_search", "--param", "k=3"], "is not TOOL.NAME=VALUE")):
        p, _ = cli("run", "--mode", "hybrid", *args)
        assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_pipelines_lists_each_with_its_graph():
    p, _ = cli("pipelines", "--json")
    listed = json.loads(p.stdout)["pipelines"]
    assert [x["name"] for x in listed] == list(PIPELINES)
    for x in listed:
        assert x["calls"] and any(c["deps"] for c in x["calls"])
