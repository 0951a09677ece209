"""Your own tools in the app: with AGENT_CORE_TOOLS_FROM set when the server starts, every picker offers them, the
Playground runs them, the Guide lists and classifies them; a bad file is one error line; without the variable no
page offers anything of the kind. Loaded tools are process-wide: the fixture leaves the catalog as it found it."""
from __future__ import annotations

import os
import sys

import pytest
from streamlit.testing.v1 import AppTest

from agent_core import usertools
from agent_core.catalog import CATALOG, KINDS
from ui import charts, own_tools, widgets

from .conftest import ROOT
from .test_pages import figures, open_page, small_workload

EXAMPLE = os.path.join(ROOT, "examples", "my_tools.py")
YOURS = ["fetch_ticket", "crm_lookup", "score_reply", "flaky_search"]
DECLARED = {"fetch_ticket": "io", "crm_lookup": "blocking", "score_reply": "cpu", "flaky_search": "io"}
PAGES = [path for path, _, _ in widgets.PAGES]            # the app's one list of pages


def _unregister(names: list[str]) -> None:
    if hasattr(usertools, "unregister"):
        usertools.unregister(names)
        return
    with usertools._lock:                       # the registries the engine keeps, before it had unregister()
        for n in names:
            for registry in (usertools._functions, usertools._declared, usertools._measured, CATALOG):
                registry.pop(n, None)
        for source, registered in list(usertools._loaded.items()):
            if set(registered) & set(names):
                del usertools._loaded[source]
        for module in [m for m in sys.modules if m.startswith("agent_core_tools_")]:
            sys.modules.pop(module, None)


@pytest.fixture
def tools_from(monkeypatch):
    """``tools_from(path)`` sets AGENT_CORE_TOOLS_FROM as a server's environment would; afterwards the tools it
    registered are gone and the app loads afresh, so no other test sees them."""
    before, had = dict(CATALOG), set(usertools.user_tools())
    own_tools.forget()
    yield lambda path: monkeypatch.setenv(own_tools.ENV, path)
    _unregister([n for n in usertools.user_tools() if n not in had])
    own_tools.forget()
    assert CATALOG == before, "the user's tools were left in the catalog"


@pytest.fixture
def no_variable(monkeypatch):
    monkeypatch.delenv(own_tools.ENV, raising=False)
    own_tools.forget()


def typed_inputs(at: AppTest) -> list:
    """Anything a visitor could type a path or code into. An uploader of JSON reports (History's import) takes
    data that the store parses and checks, never code: any other uploader counts."""
    uploads = [u for u in at.get("file_uploader") if list(u.proto.type) != [".json"]]
    return [*at.text_input, *at.text_area, *at.chat_input, *uploads]


def test_every_picker_offers_your_tools_and_the_guide_files_them_under_their_kinds(tools_from):
    tools_from(EXAMPLE)
    at = open_page("app.py")
    assert not at.error
    for tool in YOURS:
        assert at.number_input(key=f"play.count.{tool}").label == f"{tool} ({DECLARED[tool]}, yours)"
    assert at.number_input(key="play.param.score_reply.words").value == 150_000
    assert at.number_input(key="play.param.flaky_search.slow_share").value == 0.3
    assert any("fetch_ticket, crm_lookup, score_reply, flaky_search" in c.value for c in at.sidebar.caption)
    at.selectbox(key="play.preset").set_value("fan_out").run()        # a preset sets every tool's count
    assert not at.exception and [at.session_state[f"play.count.{t}"] for t in YOURS] == [0, 0, 0, 0]
    compare = open_page("pages/1_Compare.py")
    assert all(compare.number_input(key=f"compare.count.{t}") for t in YOURS)
    failures = open_page("pages/2_Failures.py")
    assert set(YOURS) <= set(failures.selectbox(key="fail.tool").options)
    guide = open_page("pages/5_Guide.py")
    bullets = " ".join(m.value for m in guide.markdown)
    assert all(f"`{t}` (yours, from examples/my_tools.py)" in bullets for t in YOURS)
    kinds = guide.dataframe[0].value.set_index("kind")["tools"]
    assert all(t in kinds[DECLARED[t]].split(", ") for t in YOURS)


def test_the_playground_runs_your_tools_under_hybrid(tools_from):
    tools_from(EXAMPLE)
    at = open_page("app.py")
    for key in [k for k in at.session_state if k.startswith("play.count.")]:
        at.session_state[key] = 0
    for tool, n in {"fetch_ticket": 2, "crm_lookup": 1, "score_reply": 1, "flaky_search": 2}.items():
        at.session_state[f"play.count.{tool}"] = n
    at.session_state["play.param.score_reply.words"] = 20_000
    at.session_state["play.param.fetch_ticket.latency_ms"] = 60
    at.session_state["play.param.crm_lookup.latency_ms"] = 60
    at.selectbox(key="play.mode").set_value("hybrid")
    at.button(key="play.run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    report = at.session_state["play.report"]
    assert report.mode == "hybrid" and len(report.tasks) == 6
    assert [(t.id, t.error) for t in report.tasks if t.status != "ok"] == []
    assert {t.tool: t.kind for t in report.tasks} == DECLARED
    assert {t.tool: t.worker.split(" ")[0] for t in report.tasks}["score_reply"] == "pid", "cpu: a pool process"
    assert at.metric[0].value == f"{report.wall_s:.3f} s"
    timeline = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Timeline"))
    colours = {tr["name"]: tr["marker"]["color"] for tr in timeline["data"]}
    assert set(colours) == set(YOURS) and len(set(colours.values())) == len(YOURS), "each tool its own colour"


def test_the_guide_lists_your_tools_and_classify_gives_each_a_measured_kind(tools_from):
    tools_from(EXAMPLE)
    at = open_page("pages/5_Guide.py", timeout=240)
    assert not at.error
    assert "Your tools" in [s.value for s in at.subheader]
    listed = at.dataframe[-1].value
    assert list(listed["tool"]) == YOURS
    assert dict(zip(listed["tool"], listed["declared kind"], strict=True)) == DECLARED
    assert set(listed["from"]) == {"examples/my_tools.py"}
    params = dict(zip(listed["tool"], listed["parameters (default, bounds)"], strict=True))
    assert params["score_reply"] == "words = 150000 (1000..1e+06)"
    assert params["flaky_search"].startswith("latency_ms = 150 (0..5000), slow_share = 0.3 (0..1)")
    at.number_input(key="guide.runs").set_value(1)
    at.button(key="guide.run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    verdicts = at.session_state["guide.verdicts"]
    assert [v.name for v in verdicts] == YOURS and all(v.kind in KINDS for v in verdicts)
    table = at.dataframe[-1].value
    assert list(table["tool"]) == YOURS
    assert list(table["measured"]) == [v.kind for v in verdicts]
    assert list(table["declared"]) == [DECLARED[t] for t in YOURS]
    assert list(table["agrees"]) == ["no ⚠" if v.contradicts else "yes" for v in verdicts]
    assert list(table["loop lag ms"]) == [v.evidence["loop_lag_ms"] for v in verdicts]
    declared = [w for w in at.warning if "is declared" in w.value]
    assert len(declared) == sum(v.contradicts for v in verdicts), "one warning per contradicted declaration"
    reasons = " ".join(m.value for m in at.markdown)
    assert all(v.reason in reasons for v in verdicts)
    drawn = {f["layout"]["title"]["text"]: f for f in figures(at)}
    points = {name: (x, y) for tr in drawn["What each tool did: CPU share vs event-loop lag"]["data"]
              for name, x, y in zip(tr["customdata"], tr["x"], tr["y"], strict=True)}
    assert points == {v.name: (v.evidence["cpu_share"], min(charts.LAG_SHARE_TOP, charts.lag_share(v.evidence)))
                      for v in verdicts}
    bars = next(f for t, f in drawn.items() if t.startswith("Two at once in threads"))["data"][0]
    assert bars["y"] == [v.evidence["two_in_threads_x"] for v in verdicts]
    assert at.button(key="guide.run").disabled is False, "Classify is enabled again once it is done"


@pytest.mark.parametrize("text, message", [
    ("raise RuntimeError('no config here')\n", "failed to import: RuntimeError: no config here"),
    ("def lookup(x):\n    return x\n", "parameter 'x' has no default"),
    (None, "is not a Python file (.py) that exists"),
])
def test_a_bad_file_is_one_error_line_and_the_built_in_tools_still_run(tools_from, tmp_path, text, message):
    path = tmp_path / "bad_tools.py"
    if text is not None:
        path.write_text(text)
    tools_from(str(path))
    before = dict(CATALOG)
    guide = open_page("pages/5_Guide.py")
    assert len(guide.error) == 1 and message in guide.error[0].value
    assert guide.error[0].value.startswith(f"Your tools ({own_tools.ENV}) were not loaded: ")
    assert "guide.run" not in [b.key for b in guide.button], "nothing to classify"
    at = open_page("app.py")
    assert len(at.error) == 1 and message in at.error[0].value
    assert CATALOG == before, "the app goes on with the built-in tools"
    small_workload(at, "play", web_search=2)
    at.selectbox(key="play.mode").set_value("threads")
    at.button(key="play.run").click().run()
    assert not at.exception and len(at.error) == 1, "still only the load's error"
    assert at.session_state["play.report"].ok


def test_without_the_variable_the_guide_says_how_and_no_page_offers_code(no_variable):
    guide = open_page("pages/5_Guide.py")
    how = guide.info[-1].value
    assert "AGENT_CORE_TOOLS_FROM=examples/my_tools.py streamlit run app.py" in how
    assert "python -m agent_core classify --tools-from examples/my_tools.py" in how
    assert "python -m agent_core run --tools-from examples/my_tools.py --mode hybrid" in how
    assert "Measure your own agent's tools" in how
    assert "guide.run" not in [b.key for b in guide.button] and "Your tools" not in [s.value for s in guide.subheader]
    assert "guide.runs" not in guide.session_state
    for page in PAGES:
        assert typed_inputs(open_page(page)) == [], f"{page} lets a visitor type something"
    play = open_page("app.py")
    assert not play.error and not any(k.startswith("play.param.") for k in play.session_state)
    assert not any("yours" in n.label for n in play.number_input)
    assert usertools.user_tools() == []


def test_with_the_variable_still_nothing_lets_a_visitor_type_a_path_or_code(tools_from):
    tools_from(EXAMPLE)
    for page in PAGES:
        assert typed_inputs(open_page(page)) == [], page
