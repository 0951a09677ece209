"""docs/ARCHITECTURE.md's three recipes, kept true.

A throwaway mode, tool and lane are added at runtime the way the recipes say (a module with the facts and
one registry entry each), and everything that reads the registries works over them with nothing else
changed: ``agent_core.run`` and ``compare``, the scaling sweep and its knees, the explanations, the failure
boundary for every fault kind, the CLI's help, and the Playground, Compare and Guide pages.

Registered at runtime, the throwaway mode exists in this process only: a run that would be hosted in a
sacrificial child (a crash or memory fault in a call the mode keeps in this process) would not find it
there, so the mode sends its CPU calls and scripts to the process pool, as a mode written to a file would be
free not to.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import types

import pytest

import agent_core
from agent_core import budget, cli, lanes, modes, scaling
from agent_core.calls import call_blocking
from agent_core.catalog import CATALOG, Param, ToolSpec
from agent_core.explain import explain_compare, explain_run
from agent_core.faults import FAULT_KINDS
from agent_core.lanes import Lane
from agent_core.machine import default_processes
from agent_core.modes import BASELINE, Plan
from agent_core.workload import MAX_RUN_S, Workload
from ui import charts

from .conftest import ROOT
from .test_failures import check_boundary, faulty, faulty_run
from .test_pages import figures, open_page, small_workload

NAME = "recipe"
FAST = {"web_search": {"latency_ms": 60}, "legacy_sdk": {"latency_ms": 60}, "analysis": {"work": 20_000},
        "sandboxed_script": {"size": 1000}}
MIXED = "web_search:3,legacy_sdk:2,analysis:2,sandboxed_script:1"


# -- the recipe "add a mode": a module with the facts, one registry entry ----------------------------------------

def _recipe_mode() -> types.ModuleType:
    mode = types.ModuleType("agent_core.modes._recipe")
    mode.__doc__ = """recipe: io and blocking calls on a thread pool, cpu calls and scripts in the process pool.
    No loop here: the calling thread submits every call and waits (so no lane that needs a loop)."""
    mode.SUMMARY = "threads for waiting, the process pool for CPU work and scripts"
    mode.COLOUR = "#EECA3B"
    mode.SNIPPET = "threads"
    mode.ROUTES = {"io": "thread", "blocking": "thread", "cpu": "pool", "isolated": "pool"}
    mode.LOOP = False
    mode.MAX_WORKERS = 8
    mode.CAUSES = {"io": "pool saturation: more calls than its {workers} threads", "cpu": "every core busy"}

    def plan(workload, workers):
        n = workers or 4
        return Plan(workers=n, sizes={"thread": n, "pool": default_processes()})

    def notes(report):
        threads = {t.worker for t in report.tasks if t.kind in ("io", "blocking")}
        return [f"Its {len(threads)} threads ran the waiting calls; CPU work went to the pool."] if threads else []

    def reason(report):
        waiting = sum(t.kind in ("io", "blocking") for t in report.tasks)
        if report.workers and waiting > report.workers:
            return f"its {report.workers} threads made {waiting} waiting calls queue"
        return None

    mode.plan, mode.notes, mode.reason = plan, notes, reason
    return mode


def register_mode(monkeypatch, name: str, module: types.ModuleType) -> str:
    """What adding ``"name": "module"`` to ``modes._MODULES`` does, for a module that exists only here."""
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(modes._MODULES, name, module.__name__.rpartition(".")[2])
    monkeypatch.setattr(modes, "MODES", tuple(modes._MODULES))
    return name


@pytest.fixture
def recipe(monkeypatch) -> str:
    module = _recipe_mode()
    assert modes.missing_facts(module) == [], "the recipe's list of facts is the registry's"
    return register_mode(monkeypatch, NAME, module)


def test_a_mode_added_by_the_recipe_runs_where_its_routes_say(recipe):
    r = agent_core.run(MIXED, recipe, params=FAST)
    assert r.mode == recipe and r.ok and r.workers == 4
    where = {kind: {t.worker.split("-")[0].split(" ")[0] for t in r.tasks if t.kind == kind}
             for kind in ("io", "blocking", "cpu")}
    assert where["io"] == where["blocking"] == {"thread"} and where["cpu"] == {"pid"}, where
    assert not modes.in_process_kinds(recipe) & {"cpu", "isolated"}, "a crash or memory fault is never hosted"
    assert r.loop_lag_max_ms is None, "LOOP is False: no loop in this process, no heartbeat"
    assert f"Its {len({t.worker for t in r.tasks if t.kind in ('io', 'blocking')})} threads ran" in \
        " ".join(explain_run(r))


def test_compare_and_its_explanation_take_the_new_mode(recipe):
    reports = agent_core.compare("legacy_sdk:8", [recipe], params=FAST, workers=2)
    assert [r.mode for r in reports] == [BASELINE, recipe]
    assert reports[1].true_speedup == pytest.approx(reports[0].wall_s / reports[1].wall_s)
    lines = explain_compare(reports)
    assert any(line.startswith(f"{recipe} ") for line in lines)
    if reports[0].wall_s < reports[1].wall_s:       # the mode lost: in its own words
        assert f"{recipe} ({reports[1].wall_s:.2f} s): its 2 threads made 8 waiting calls queue." in lines
    assert charts.speedup_bars(reports).data[0].marker.color[1] == "#EECA3B"


def test_the_scaling_sweep_measures_the_new_mode_and_names_its_own_cause(recipe):
    points = scaling.sweep(["io", "cpu"], [BASELINE, recipe], [1, 4], workers=[1, 2], workers_n=4, budget_s=60,
                           latency_ms=50, work=5_000)
    ours = [p for p in points if p.mode == recipe]
    # its workers size its threads, not its pool: swept for io calls only (scaling.workers_matter)
    assert {(p.workload, p.axis) for p in ours} == {("io", "n"), ("cpu", "n"), ("io", "workers")}
    assert all(p.wall_s is not None and p.ok for p in ours)
    assert any(f"{recipe} ×" in s or f"{recipe} finished" in s for s in scaling.explain(points))
    bent = [scaling.Point("io", recipe, n, 4, wall, 0.1) for n, wall in ((10, 0.11), (30, 0.5))]
    (knee,) = scaling.knees(bent)
    assert knee["cause"] == "pool saturation: more calls than its 4 threads"
    line = next(tr for tr in charts.scaling_wall(points, "io", []).data if tr.name == recipe)
    assert line.line.color == "#EECA3B"


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_the_new_mode_meets_the_failure_contract_for_every_fault(recipe, fault):
    r = faulty_run(recipe, fault)
    check_boundary(r, recipe, fault)
    assert faulty(r).status == {"raise": "error", "hang": "timeout", "crash": "crashed", "memory": "error",
                                "spin": "timeout"}[fault]


def test_the_cli_offers_the_new_mode(recipe, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    listed = [line.split(None, 1) for line in capsys.readouterr().out.splitlines()]
    assert [recipe, modes.get_mode(recipe).SUMMARY] in listed
    assert cli.main(["run", "--mode", recipe, "--tools", "web_search:2", "--param", "web_search.latency_ms=50",
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == recipe


def test_the_playground_runs_the_new_mode_and_shows_its_snippet(recipe):
    at = open_page("app.py")
    assert recipe in at.selectbox(key="play.mode").options
    small_workload(at, "play", web_search=2, analysis=1)
    at.selectbox(key="play.mode").set_value(recipe)
    at.button(key="play.run").click().run()
    assert not at.exception and not at.error
    assert at.session_state["play.report"].mode == recipe
    assert modes.get_mode(recipe).SUMMARY in [c.value for c in at.caption]
    with open(os.path.join(ROOT, "snippets", f"{modes.get_mode(recipe).SNIPPET}.py"), encoding="utf-8") as f:
        assert at.code[0].value.strip() == f.read().strip()


def test_compare_and_the_guide_pages_show_the_new_mode(recipe):
    at = open_page("pages/1_Compare.py", timeout=240)
    small_workload(at, "compare", web_search=2)
    at.button(key="compare.run").click().run()
    assert not at.exception and not at.error
    reports = at.session_state["compare.reports"]
    assert reports[-1].mode == recipe and len(reports) == len(modes.MODES)
    assert sum(f["layout"]["title"]["text"].startswith(f"{recipe} · ") for f in figures(at)) == 1
    speed = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("True speedup"))
    assert speed["data"][0]["marker"]["color"][-1] == "#EECA3B"
    guide = open_page("pages/5_Guide.py")
    assert recipe in list(guide.dataframe[-1].value["mode"])


# -- the recipe "add a tool": a ToolSpec in the catalog, its function ---------------------------------------------

def shout(params: dict, ctx) -> dict:
    """A blocking tool that does next to nothing: the words it returns go in its record's detail."""
    return {"said": " ".join(["hey"] * params["times"]), "thread": threading.current_thread().name}


def test_a_tool_added_by_the_recipe_runs_in_every_lane_its_kind_is_routed_to(recipe, monkeypatch):
    spec = ToolSpec("shout", "blocking", "say hey, a few times", (Param("times", 2, 1, 5, help="how many"),),
                    __name__, "shout")
    monkeypatch.setitem(CATALOG, "shout", spec)
    for mode in (BASELINE, recipe):             # the caller's thread, then the recipe mode's threads
        r = agent_core.run("shout:3,web_search:1", mode, params={"shout": {"times": 3}, **FAST})
        shouts = [t for t in r.tasks if t.tool == "shout"]
        assert r.ok and [t.detail["said"] for t in shouts] == ["hey hey hey"] * 3
    assert budget.run_seconds(Workload.parse("shout:1"), recipe) >= MAX_RUN_S, \
        "until the budget knows its cost, pages estimate it at the run's bound and refuse it"


# -- the recipe "add a lane": a Lane class, one entry in LANES ----------------------------------------------------

class InlineLane(Lane):
    """inline: the call runs in the calling thread, labelled as this lane's. TIMEOUT: nothing interrupts it; a
    call that comes back late is recorded as a ``timeout``. CANCEL: a call not started never starts."""

    name = "inline"
    where = "in the calling thread"
    calls = 0

    def run(self, job):
        InlineLane.calls += 1
        job.begin("inline lane")
        return call_blocking(job.call.tool, job.call.params, job.ctx)


def test_a_lane_added_by_the_recipe_runs_the_calls_a_mode_routes_to_it(monkeypatch):
    monkeypatch.setitem(lanes.LANES, "inline", f"{__name__}:InlineLane")
    mode = _recipe_mode()
    mode.ROUTES = {**mode.ROUTES, "blocking": "inline"}
    assert modes.missing_facts(mode) == []
    name = register_mode(monkeypatch, "recipe-inline", mode)
    InlineLane.calls = 0
    r = agent_core.run("legacy_sdk:2,web_search:2", name, params=FAST)
    assert r.ok and InlineLane.calls == 2
    assert {t.worker for t in r.tasks if t.kind == "blocking"} == {"inline lane"}
    assert "blocking" in modes.in_process_kinds(name), "in_process defaults to True: a crash would be hosted"
    assert budget.mode_wall(Workload.parse("legacy_sdk:1"), name) >= MAX_RUN_S, \
        "until the budget knows the lane, pages estimate its calls at the run's bound and refuse them"


def test_a_pipeline_added_by_the_recipe_runs_in_every_mode_and_the_cli_lists_it(monkeypatch, capsys):
    from agent_core import pipelines
    from agent_core.catalog import Param
    from agent_core.pipelines import PIPELINES, PipelineSpec, Step

    def fan(p):
        leaves = [Step(f"search#{i}", "web_search", "search", ("ask",), {"latency_ms": 30}) for i in range(p["n"])]
        return [Step("ask", "llm_call", "ask", (), {"ttft_ms": 20, "tokens": 4}), *leaves,
                Step("sum", "analysis", "sum", tuple(s.id for s in leaves), {"work": 2000})]

    monkeypatch.setitem(PIPELINES, "fan", PipelineSpec("fan", "ask, n searches, a sum", (Param("n", 2, 1, 4),), fan))
    for mode in modes.MODES:
        report = agent_core.run(pipelines.pipeline("fan", n=3), mode)
        assert report.ok and report.critical_path[0] == "ask" and report.critical_path[-1] == "sum", mode
    assert cli.main(["pipelines"]) == 0
    assert "fan  [4 calls by default]" in capsys.readouterr().out     # n=2: ask, two searches, the sum


def test_the_architecture_page_names_what_each_recipe_needs():
    with open(os.path.join(ROOT, "docs", "ARCHITECTURE.md"), encoding="utf-8") as f:
        text = f.read()
    mode, tool, lane, pipeline = (text.split(f"### Add a {what}")[1].split("\n### ")[0]
                                  for what in ("mode", "tool", "lane", "pipeline"))
    assert "`PIPELINES`" in pipeline and "`PipelineSpec(" in pipeline and "`Step(" in pipeline
    assert all(f"`{fact}`" in mode or f"`{fact}(" in mode for fact in modes.REQUIRED), "every fact a mode needs"
    assert "`_MODULES`" in mode and "`notes(report)" in mode and "`reason(report)" in mode
    assert "`CATALOG`" in tool and "`ToolSpec`" in tool and all(f"`{kind}`" in tool for kind in modes.ALL_KINDS)
    assert "`LANES`" in lane and all(f"`{verb}(job)" in lane for verb in ("run", "submit"))
