"""The run option ``http``: which transport carries the io calls a run awaits on its event loop. Real requests
to the embedded backend; the client a call used is read from the call itself, by a tool that reports it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import agent_core
from agent_core import scaling
from agent_core.errors import BadInput
from agent_core.modes import MODES, uses_http
from agent_core.records import RunReport, TaskRecord
from agent_core.scaling import Point
from agent_core.workload import DEFAULT_HTTP, HTTP_CLIENTS, Options

from .conftest import ROOT

# what each transport of the registry must put under the run's httpx.AsyncClient: a transport added to
# HTTP_CLIENTS and not named here fails test_every_transport_of_the_registry_is_exercised
TRANSPORT_CLASS = {"httpx": "httpx.AsyncHTTPTransport", "aiohttp": "httpx_aiohttp.transport.AiohttpTransport"}
LOOP_MODES = [m for m in MODES if uses_http(m)]
FAST = {"web_search": {"latency_ms": 20}, "vector_lookup": {"latency_ms": 20},
        "llm_call": {"ttft_ms": 20, "tokens": 12}}


@pytest.fixture(autouse=True)
def _no_user_tool_left(forget_user_tools):
    """Every test here leaves the catalog as it found it."""


# a user's tool, in its own file so that every process a mode runs it in (a Dask worker too) finds it again
WHICH_CLIENT = """
import httpx


async def which_client(ctx=None):
    \"\"\"Asks the backend for its health through the client the run handed this call, and says which it was.\"\"\"
    r = await ctx.http.get(f"{ctx.base_url}/health")
    r.raise_for_status()
    transport = type(ctx.http._transport)
    return {"transport": f"{transport.__module__.replace('._transports.default', '')}.{transport.__qualname__}",
            "is_httpx_client": isinstance(ctx.http, httpx.AsyncClient), "status": r.status_code}
"""


def test_every_transport_of_the_registry_is_exercised():
    assert set(TRANSPORT_CLASS) == set(HTTP_CLIENTS), "name the transport class each registry entry must build"
    assert DEFAULT_HTTP in HTTP_CLIENTS and all(HTTP_CLIENTS.values())
    assert LOOP_MODES, "some mode awaits its io calls through the run's async clients"


@pytest.mark.parametrize("mode", LOOP_MODES)
@pytest.mark.parametrize("http", list(HTTP_CLIENTS))
def test_the_runs_async_calls_go_through_the_chosen_transport(http, mode, tmp_path):
    (tmp_path / "which.py").write_text(WHICH_CLIENT)
    assert agent_core.load_tools(str(tmp_path / "which.py")) == ["which_client"]
    report = agent_core.run("which_client:3", mode, http=http)
    assert report.ok, [t.error for t in report.tasks]
    assert [t.detail["transport"] for t in report.tasks] == [TRANSPORT_CLASS[http]] * 3
    assert all(t.detail["is_httpx_client"] and t.detail["status"] == 200 for t in report.tasks)
    assert report.options["http"] == http, "the report records the transport"
    assert agent_core.RunReport.from_dict(json.loads(json.dumps(report.to_dict()))).options["http"] == http


def _answers(report) -> list[tuple]:
    """What the backend answered each call (not when, nor where the call ran: timings, a Dask worker's pid)."""
    return [(t.id, t.status, {k: v for k, v in t.detail.items() if k != "pid" and not k.endswith(("_ms", "_s"))})
            for t in report.tasks]


@pytest.mark.parametrize("mode", LOOP_MODES)
def test_every_transport_gets_the_same_answers_from_the_backend(mode):
    spec = "web_search:6,vector_lookup:6,llm_call:4"
    reports = {http: agent_core.run(spec, mode, params=FAST, seed=11, http=http) for http in HTTP_CLIENTS}
    answers = {http: _answers(r) for http, r in reports.items()}
    first = answers[DEFAULT_HTTP]
    assert all(status == "ok" for _, status, _ in first)
    assert all(d["bytes"] > 0 for _, _, d in first) and any(d.get("tokens") for _, _, d in first)
    for http, got in answers.items():
        assert got == first, f"{http} got other answers than {DEFAULT_HTTP}"
        assert reports[http].options["http"] == http


@pytest.mark.parametrize("bad", ["curl", "", "HTTPX", 3, None, ["httpx"]])
def test_a_transport_outside_the_registry_is_refused_before_anything_runs(bad):
    allowed = ", ".join(HTTP_CLIENTS)
    with pytest.raises(BadInput, match=rf"^http=.* is not allowed: one of {allowed}$"):
        agent_core.run("web_search:1", "hybrid", http=bad)
    with pytest.raises(BadInput, match=rf"is not allowed: one of {allowed}$"):
        agent_core.run_many("web_search:1", [{"mode": "asyncio"}, {"mode": "hybrid", "http": bad}])
    with pytest.raises(BadInput, match="is not allowed"):
        Options(http=bad).checked("asyncio", 64)


@pytest.mark.parametrize("command", [["run", "--mode", "hybrid", "--tools", "web_search:1"],
                                     ["compare", "--modes", "asyncio", "--tools", "web_search:1"], ["bench"]])
def test_the_command_line_refuses_a_bad_transport_in_one_line(command):
    p = subprocess.run([sys.executable, "-m", "agent_core", *command, "--http", "curl"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "'curl'" in lines[0] and all(f"'{h}'" in lines[0] for h in HTTP_CLIENTS), p.stderr


def test_the_command_line_records_the_transport_in_the_report():
    other = next(h for h in HTTP_CLIENTS if h != DEFAULT_HTTP)
    for given, expected in ((["--http", other], other), ([], DEFAULT_HTTP)):
        p = subprocess.run([sys.executable, "-m", "agent_core", "run", "--mode", "asyncio", "--tools", "web_search:2",
                            "--param", "web_search.latency_ms=20", "--json", *given], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        report = json.loads(p.stdout)
        assert report["options"]["http"] == expected and all(t["status"] == "ok" for t in report["tasks"])


# -- the scaling sweep: a series per transport where the option applies -------------------------------------------
def test_the_io_sweep_measures_a_series_per_transport_only_where_the_transport_applies(monkeypatch):
    asked = []

    def run(spec, mode, params=None, workers=None, http=DEFAULT_HTTP, **_):
        tool, n = spec.split(":")
        asked.append((tool, mode, int(n), workers, http))
        tasks = [TaskRecord(f"{tool}#{i}", tool, "io", "w", 0, 0.01, 0.001, "ok") for i in range(int(n))]
        return RunReport(mode, 0.01, tasks, workers=workers)

    monkeypatch.setattr(scaling.api, "run", run)
    points = scaling.sweep(["io", "cpu"], list(MODES), [1, 2], workers=[1, 2], workers_n=2, budget_s=60,
                           transports=list(HTTP_CLIENTS))
    sized_io = [p for p in points if p.workload == "io" and p.axis == "n"]
    for mode in MODES:
        got = sorted({p.http for p in sized_io if p.mode == mode}, key=str)
        assert got == (sorted(HTTP_CLIENTS) if uses_http(mode) else [None]), mode
    others = [p for p in points if p not in sized_io]
    assert all(p.http == (DEFAULT_HTTP if uses_http(p.mode) else None) for p in others)
    assert {(m, n, h) for _, m, n, w, h in asked if w is None and m in LOOP_MODES and _ == "web_search"} == {
        (m, n, h) for m in LOOP_MODES for n in (1, 2) for h in HTTP_CLIENTS}, "each point ran over its transport"
    with pytest.raises(BadInput, match=rf"transport 'curl' is not allowed: one of {', '.join(HTTP_CLIENTS)}"):
        scaling.sweep(["io"], ["asyncio"], [1], transports=["curl"])


def _series(mode: str, http: str, walls: dict[int, float], cpu_ms: float) -> list[Point]:
    return [Point("io", mode, n, None, wall, 0.1, cpu_ms * n / 1000, http=http) for n, wall in walls.items()]


def test_the_sweep_says_where_the_knee_moved_with_the_transport_from_its_numbers():
    slow, fast = list(HTTP_CLIENTS)[:2]
    pts = (_series("hybrid", slow, {10: 0.11, 100: 0.13, 300: 0.5, 1000: 1.9}, 1.6)
           + _series("hybrid", fast, {10: 0.11, 100: 0.12, 300: 0.14, 1000: 0.6}, 0.5))
    (note,) = scaling.transport_notes(pts)
    assert note.startswith(f"io, hybrid: over {slow} it bent at 300 calls (×5.0), over {fast} it bent at 1000 "
                           "calls (×6.0): the knee moved with the transport.")
    assert f"At 1000 calls the client's CPU per call was {slow} 1.60 ms (wall 1.90 s), {fast} 0.50 ms" in note
    assert note in scaling.explain(pts)
    assert {k["series"] for k in scaling.knees(pts)} == {f"hybrid over {slow}", f"hybrid over {fast}"}
    same = _series("asyncio", slow, {10: 0.11, 100: 0.5}, 1.0) + _series("asyncio", fast, {10: 0.11, 100: 0.4}, 0.4)
    assert "its knee did not move" in scaling.transport_notes(same)[0]
    unbent = _series("asyncio", slow, {10: 0.11, 100: 0.5}, 1.0) + _series("asyncio", fast, {10: 0.11, 100: 0.12}, 0.4)
    assert f"over {fast} it did not bend up to 100 calls" in scaling.transport_notes(unbent)[0]
    assert scaling.transport_notes(_series("asyncio", slow, {10: 0.11, 100: 0.5}, 1.0)) == [], "one transport: no note"


def test_the_scaling_page_draws_a_client_cpu_line_per_transport_and_charts_the_chosen_one():
    from .test_pages import figures, open_page
    at = open_page("pages/4_Scaling.py", timeout=300)
    at.session_state["scale.budget"] = 10
    at.session_state["scale.top"] = 10
    at.session_state["scale.workers"] = False
    at.session_state["scale.kinds"] = ["io"]
    at.session_state["scale.modes"] = LOOP_MODES
    at.button(key="scale.run").click().run()
    assert not at.exception and not at.error
    points = at.session_state["scale.points"]
    cpu = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("io: client CPU per call"))
    assert sorted(tr["name"] for tr in cpu["data"]) == sorted(f"{m} over {h}" for m in LOOP_MODES for h in HTTP_CLIENTS)
    for tr in cpu["data"]:
        mode, http = tr["name"].split(" over ")
        mine = sorted((p.n, p.cpu_per_call_ms) for p in points if (p.mode, p.http) == (mode, http) and p.wall_s)
        assert list(zip(tr["x"], tr["y"], strict=True)) == mine
    for http in HTTP_CLIENTS:
        at.radio(key="scale.http_shown").set_value(http).run()
        title = "io: wall-clock against the number of calls"
        wall = next(f for f in figures(at) if f["layout"]["title"]["text"] == title)
        line = next(tr for tr in wall["data"] if tr["name"] == "hybrid")
        assert line["y"] == [p.wall_s for p in sorted(points, key=lambda p: p.n)
                             if (p.mode, p.http) == ("hybrid", http) and p.wall_s], http


def test_a_dask_worker_without_a_transport_says_so_in_the_calls_error():
    import asyncio

    from agent_core.lanes._dask_worker import AgentPlugin
    plugin = AgentPlugin()
    plugin.calls, plugin.next, plugin.http = {}, 0, {}
    plugin.missing = {"aiohttp": "ModuleNotFoundError: No module named 'httpx_aiohttp'"}
    reply = asyncio.run(plugin.io("t1", "web_search", {}, {}, http="aiohttp"))
    assert reply["status"] == "error" and reply["error"] == (
        "this Dask worker has no aiohttp HTTP transport (ModuleNotFoundError: No module named 'httpx_aiohttp')")


@pytest.mark.parametrize("page, prefix, button, result", [("app.py", "play", "play.run", "play.report"),
                                                          ("pages/1_Compare.py", "compare", "compare.run",
                                                           "compare.reports")])
def test_a_pages_run_options_offer_every_transport_and_the_run_uses_the_chosen_one(page, prefix, button, result):
    from .test_pages import open_page, small_workload
    at = open_page(page, timeout=300)
    choice = at.selectbox(key=f"{prefix}.http")
    assert choice.options == list(HTTP_CLIENTS) and choice.value == DEFAULT_HTTP
    other = next(h for h in HTTP_CLIENTS if h != DEFAULT_HTTP)
    small_workload(at, prefix, web_search=3)
    if prefix == "play":
        at.selectbox(key="play.mode").set_value("hybrid")
    choice.set_value(other)
    at.button(key=button).click().run()
    assert not at.exception and not at.error
    reports = at.session_state[result]
    for report in reports if isinstance(reports, list) else [reports]:
        assert report.options["http"] == other and report.ok
    if prefix == "play":
        assert any(f"async HTTP over {other}" in c.value for c in at.caption), "the report view says which"


def test_a_diff_of_two_runs_over_different_transports_says_which_ran_over_which():
    from agent_core.history.diff import diff
    a, b = (agent_core.run("web_search:3", "asyncio", params=FAST, http=h) for h in list(HTTP_CLIENTS)[:2])
    said = diff(a, b, "A", "B")
    assert f"A's async HTTP clients ran over {a.options['http']}, B's over {b.options['http']}." in said
    assert not any("async HTTP" in s for s in diff(a, a, "A", "B")), "the same transport: nothing to say"


def test_every_page_with_run_options_offers_every_transport_with_the_default_chosen():
    from ui.widgets import PAGES

    from .test_pages import open_page
    offered = []
    for path, _, _ in PAGES:
        at = open_page(path, timeout=120)
        if not any(e.label == "Run options" for e in at.expander):
            continue
        (box,) = [s for s in at.selectbox if (s.key or "").endswith(".http")]
        assert box.options == list(HTTP_CLIENTS) and box.value == DEFAULT_HTTP, path
        offered.append(path)
    assert {"app.py", "pages/1_Compare.py"} <= set(offered), offered
