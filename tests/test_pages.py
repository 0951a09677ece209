"""Every page under AppTest: it runs without exception, and what it draws is what was measured."""
from __future__ import annotations

import json
import os
import threading

import pytest
from streamlit.testing.v1 import AppTest

import agent_core
from agent_core.explain import failure_summary
from agent_core.modes import BASELINE, MODES, get_mode, in_process_kinds
from ui import measure as measuring
from ui import widgets

from .conftest import ROOT

APP = os.path.join(ROOT, "app.py")
PAGES = [path for path, _, _ in widgets.PAGES]            # the app's one list of pages


def open_page(page: str, timeout: float = 120, **query) -> AppTest:
    """A fresh session on ``page`` (reached from the app, with ``query`` in its address), opened without an
    exception."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = str(value)
    at.run()
    if page != "app.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def small_workload(at: AppTest, prefix: str, **counts: int) -> None:
    for key in [k for k in at.session_state if k.startswith(f"{prefix}.count.")]:
        at.session_state[key] = 0
    for tool, n in counts.items():
        at.session_state[f"{prefix}.count.{tool}"] = n
    at.session_state[f"{prefix}.latency"] = 100
    at.session_state[f"{prefix}.work"] = 20_000


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(page):
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value


def test_playground_run_shows_metrics_and_a_timeline_whose_bars_are_the_records():
    at = open_page("app.py")
    small_workload(at, "play", web_search=3, memory_write=1, analysis=1)
    at.selectbox(key="play.mode").set_value("hybrid")
    at.button(key="play.run").click().run()
    assert not at.exception and not at.error
    report = at.session_state["play.report"]
    assert [m.label for m in at.metric] == ["Wall-clock", "Σ task time", "Σ CPU time", "Critical path", "Speedup",
                                           "Max loop lag"]
    assert at.metric[0].value == f"{report.wall_s:.3f} s"
    timeline = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Timeline"))
    drawn = sorted((cid, base, width) for tr in timeline["data"]
                   for cid, base, width in zip(tr["customdata"], tr["base"], tr["x"], strict=True))
    expected = sorted((t.id, 1000 * t.start_s, max(1000 * t.duration_s, 0.5)) for t in report.tasks)
    assert [d[0] for d in drawn] == [e[0] for e in expected]
    assert all(abs(d[1] - e[1]) < 1e-6 and abs(d[2] - e[2]) < 1e-6 for d, e in zip(drawn, expected, strict=True))
    assert at.button(key="play.run").disabled is False, "Run is enabled again once the run is done"


def test_a_workload_over_the_engine_bound_is_an_error_on_the_page_not_a_traceback():
    at = open_page("app.py")
    small_workload(at, "play", web_search=400, llm_call=400, vector_lookup=400)
    at.button(key="play.run").click().run()
    assert not at.exception
    assert "allowed at most 1000 in one run" in at.error[0].value


def test_an_empty_workload_says_what_to_do():
    at = open_page("app.py")
    small_workload(at, "play")
    at.button(key="play.run").click().run()
    assert not at.exception and "the workload is empty" in at.error[0].value


def test_a_preset_in_the_url_preselects_workload_and_mode():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["preset"] = "sdk_trap"
    at.run()
    assert at.session_state["play.count.legacy_sdk"] == 3 and at.session_state["play.mode"] == "asyncio"


def test_the_code_shown_for_each_mode_is_the_snippet_its_module_names():
    at = open_page("app.py")
    assert list(at.selectbox(key="play.mode").options) == list(MODES)
    for mode in MODES:
        at.selectbox(key="play.mode").set_value(mode).run()
        assert not at.exception
        with open(os.path.join(ROOT, "snippets", f"{get_mode(mode).SNIPPET}.py"), encoding="utf-8") as f:
            assert at.code[0].value.strip() == f.read().strip(), mode


def test_compare_runs_every_mode_and_ranks_them():
    at = open_page("pages/1_Compare.py", timeout=240)
    small_workload(at, "compare", web_search=3, analysis=1)
    at.button(key="compare.run").click().run()
    assert not at.exception and not at.error
    reports = at.session_state["compare.reports"]
    assert [r.mode for r in reports] == [BASELINE] + [m for m in MODES if m != BASELINE]
    assert all(r.true_speedup is not None for r in reports)
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert titles[:2] == ["Wall-clock vs summed task time, per mode", f"True speedup against the {BASELINE} run"]
    assert sum(t.endswith(" s") for t in titles) == len(MODES), "one small timeline per mode"
    bars = figures(at)[0]["data"][0]
    assert bars["x"] == [r.mode for r in reports] and bars["y"] == [r.wall_s for r in reports]
    ranges = [f["layout"]["xaxis"]["range"] for f in figures(at) if f["layout"]["title"]["text"].endswith(" s")]
    assert len(ranges) == len(MODES) and all(r == ranges[0] for r in ranges), "the timelines share one time axis"
    assert ranges[0][1] >= 1000 * max(r.wall_s for r in reports)


def test_the_guide_is_generated_from_the_catalog_and_links_every_preset():
    at = open_page("pages/5_Guide.py")
    from agent_core.catalog import KINDS
    from agent_core.presets import PRESETS
    assert [s.value.split(":")[0] for s in at.subheader][:len(KINDS)] == list(KINDS)
    links = {p.proto.query_string for p in at.get("page_link") if "preset=" in p.proto.query_string}
    assert links == {f"preset={p.key}&mode={p.mode}" for p in PRESETS.values()}
    assert at.subheader[-1].value == f"The {len(MODES)} modes"
    table = at.dataframe[-1].value
    assert list(table["mode"]) == list(MODES)
    assert list(table["what it does"]) == [get_mode(m).SUMMARY for m in MODES]
    for kind in KINDS:
        assert list(table[f"lane for {kind}"]) == [get_mode(m).ROUTES[kind] for m in MODES]


def test_one_measurement_at_a_time_per_app_process():
    active, peak, lock = 0, 0, threading.Lock()

    def job(emit):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        report = agent_core.run("web_search:2", "threads", params={"web_search": {"latency_ms": 100}}, on_record=emit)
        with lock:
            active -= 1
        return "done" if report.ok else "failed"

    results = []
    threads = [threading.Thread(target=lambda: results.append(measuring.measure("x", 1, job))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["done"] * 3 and peak == 1
    assert not measuring.busy()


def test_the_failures_page_runs_a_crash_under_every_mode_and_the_app_survives():
    at = open_page("pages/2_Failures.py", timeout=300)
    small_workload(at, "fail", web_search=3)
    at.button(key="fail.run").click().run()
    assert not at.exception and not at.error
    reports = at.session_state["fail.reports"]
    assert [r.mode for r in reports] == list(MODES)
    matrix = at.dataframe[0].value
    assert list(matrix["mode"]) == list(MODES)
    for row, r in zip(matrix.to_dict("records"), reports, strict=True):
        s = failure_summary(r)
        assert (row["faulty call"], row["other calls kept"], row["other calls lost"], row["still running after"]) == \
            (s["faulty_status"], s["others_kept"], s["others_lost"], s["left_running"])
        # a segfault where the mode runs the script in the caller's process kills the run's (sacrificial) process
        if "isolated" in in_process_kinds(r.mode):
            assert row["the run's process"].startswith("died (killed by SIGSEGV)"), (r.mode, row)
        else:
            assert row["the run's process"] == "survived", (r.mode, row)
    assert all(r.tasks[-1].status == "crashed" for r in reports), "the sandboxed script carried the crash"


def test_the_event_loop_page_shows_the_loop_freeze_in_asyncio_and_not_in_hybrid():
    at = open_page("pages/3_Event_loop.py", timeout=300)
    at.button(key="loop.run").click().run()
    assert not at.exception and not at.error
    naive, hybrid = at.session_state["loop.reports"]
    assert (naive.mode, hybrid.mode) == ("asyncio", "hybrid")
    assert naive.loop_lag_max_ms > 5 * hybrid.loop_lag_max_ms
    (lag,) = [f for f in figures(at) if f["layout"]["title"]["text"].startswith("Heartbeat")]
    assert [tr["name"].split(" ")[0] for tr in lag["data"]] == ["asyncio", "hybrid"], "one chart, one lag axis"
    assert {tr.get("yaxis", "y") for tr in lag["data"]} == {"y"}
    if naive.loop_lag_max_ms >= 20 * hybrid.loop_lag_max_ms:
        assert lag["layout"]["yaxis"]["type"] == "log" and "log" in lag["layout"]["yaxis"]["title"]["text"]
    shaded = [s for s in lag["layout"]["shapes"] if s["type"] == "rect"]
    assert len(shaded) == 3, "each legacy_sdk call that froze the loop is shaded"
    timelines = [f for f in figures(at) if f["layout"]["title"]["text"].endswith("· timeline")]
    assert len(timelines) == 2 and timelines[0]["layout"]["xaxis"]["range"] == timelines[1]["layout"]["xaxis"]["range"]
    at.button(key="loop.sqlite").click().run()
    table = at.dataframe[0].value
    lag_of = dict(zip(table["how"], table["max loop lag ms"], strict=True))
    assert lag_of["sqlite3 on the loop"] > 2 * max(lag_of["aiosqlite"], lag_of["sqlite3 in a thread"])


def test_the_scaling_page_sweeps_and_draws_wall_and_overhead_for_each_workload():
    at = open_page("pages/4_Scaling.py", timeout=300)
    at.session_state["scale.budget"] = 10
    at.session_state["scale.top"] = 30
    at.session_state["scale.workers"] = False
    at.button(key="scale.run").click().run()
    assert not at.exception and not at.error
    points = at.session_state["scale.points"]
    assert {p.workload for p in points} == {"io", "cpu"} and max(p.n for p in points) == 30
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    for kind in ("io", "cpu"):
        assert f"{kind}: wall-clock against the number of calls" in titles
        assert f"{kind}: overhead per call beyond the ideal" in titles
    wall = next(f for f in figures(at) if f["layout"]["title"]["text"] == "io: wall-clock against the number of calls")
    asyncio_line = next(tr for tr in wall["data"] if tr["name"] == "asyncio")
    shown = at.session_state["scale.http_shown"]       # the io charts draw one async HTTP transport's series
    measured = sorted((p.n, p.wall_s) for p in points if p.workload == "io" and p.mode == "asyncio" and p.wall_s
                      and p.http in (None, shown))
    assert list(zip(asyncio_line["x"], asyncio_line["y"], strict=True)) == measured
    lines = [tr for tr in wall["data"] if tr["name"] in MODES]
    assert [tr["name"] for tr in lines] == list(MODES)
    assert all(tr["x"] == asyncio_line["x"] and None not in tr["y"] for tr in lines), "every line complete"


def test_every_page_shows_the_machine_line_with_its_gil():
    from agent_core import machine
    at = open_page("pages/5_Guide.py")
    assert any(machine.describe() in c.value for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]


def test_the_guide_says_what_a_free_threaded_build_changes_and_that_it_was_not_measured_here(monkeypatch):
    from agent_core import machine
    at = open_page("pages/5_Guide.py")
    text = "\n".join(m.value for m in at.markdown)
    assert "Threads run CPU work in parallel" in text and "Single-threaded code gets slower" in text
    if machine.gil().enabled:
        (warning,) = [w.value for w in at.warning if "Not measured on this machine" in w.value]
        assert machine.gil().line in warning
    monkeypatch.setattr(machine, "gil", lambda: machine.Gil(False, True, "sys._is_gil_enabled() is False: a test"))
    at = open_page("pages/5_Guide.py")
    assert not [w for w in at.warning if "Not measured on this machine" in w.value]
    assert any("This server runs without the GIL" in i.value and "not measured here" in i.value for i in at.info)
