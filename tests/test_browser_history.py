"""The History page in a real browser (Debian's chromium, Playwright, `streamlit run`): two saved runs side by side
on one shared time axis. The server's store is a file of this test's own (AGENT_CORE_HISTORY), never the user's."""
from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import os

import pytest
from playwright.sync_api import expect

import agent_core
from agent_core.history import RunStore

from .perfetto_check import check_trace
from .streamlit_server import ROOT, streamlit_server

pytestmark = pytest.mark.browser
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
PARAMS = {"web_search": {"latency_ms": 120}, "legacy_sdk": {"latency_ms": 60}, "analysis": {"work": 30_000}}

# The pair figure's x axes as Plotly laid them out in the page: name, range, which axis it follows, and how many
# bars were drawn against it.
AXES = """() => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => g._fullLayout && g._fullLayout.title.text.includes('on one time axis'));
    if (!gd) return null;
    const bars = {};
    for (const t of gd._fullData) {
        if (t.type === 'bar') bars['xaxis' + t.xaxis.slice(1)] = (bars['xaxis' + t.xaxis.slice(1)] || 0) + t.x.length;
    }
    return Object.keys(gd._fullLayout).filter(k => /^xaxis\\d*$/.test(k)).sort().map(k => ({
        name: k, range: gd._fullLayout[k].range, matches: gd._fullLayout[k].matches || null,
        bars: bars[k] || 0}));
}"""


def download(page, label: str) -> str:
    with page.expect_download() as done:
        page.get_by_role("button", name=label).click()
    with open(done.value.path(), encoding="utf-8") as f:
        return f.read()


def test_two_saved_runs_side_by_side_on_one_time_axis(browser, tmp_path):
    path = str(tmp_path / "history.sqlite3")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:     # Playwright's loop runs in this thread
        a, b = (pool.submit(agent_core.run, "web_search:4,legacy_sdk:2,analysis:1", mode, params=PARAMS).result()
                for mode in ("asyncio", "hybrid"))
    store = RunStore(path)
    (a_id,), (b_id,) = store.save(a, label="before"), store.save(b, label="after")
    (_, a), (_, b) = store.get(a_id), store.get(b_id)        # as saved (times to the µs): what the page shows
    store.close()
    with streamlit_server(os.path.join(ARTIFACTS, "streamlit-history.log"), env={"AGENT_CORE_HISTORY": path}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/History?a={a_id}&b={b_id}")
        expect(page.get_by_role("heading", name=f"#{a_id} (before) and #{b_id} (after) side by side")).to_be_visible()
        page.wait_for_function(f"({AXES})() !== null")
        axes = page.evaluate(AXES)
        # one row per run and the heartbeats beneath; every row follows the bottom axis, so all show one range
        assert [x["name"] for x in axes] == ["xaxis", "xaxis2", "xaxis3"], axes
        bottom = axes[-1]
        assert [x["matches"] for x in axes[:-1]] == ["x3", "x3"] and bottom["matches"] is None, axes
        end = 1000 * max(a.wall_s, b.wall_s) * 1.02
        for x in axes:
            assert x["range"] == pytest.approx([0, end], abs=1e-6), axes
        assert [x["bars"] for x in axes] == [len(a.tasks), len(b.tasks), 0], "each run's calls in its own row"
        # zoom the top row with the mouse: the other rows follow it (one shared axis, not two equal ones)
        box = page.locator(".js-plotly-plot .nsewdrag[data-subplot='xy']").first.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + 0.25 * box["width"], y)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.5 * box["width"], y, steps=8)
        page.mouse.up()
        page.wait_for_function(f"({AXES})()[0].range[0] > 1")
        zoomed = page.evaluate(AXES)
        assert zoomed[0]["range"][1] < end and all(x["range"] == zoomed[0]["range"] for x in zoomed), zoomed
        # the exports, built when clicked: a trace Perfetto opens, and one CSV row per call
        trace = json.loads(download(page, "Download both runs (Perfetto trace)"))
        check_trace(trace)
        assert sum(e["ph"] == "X" for e in trace["traceEvents"]) == len(a.tasks) + len(b.tasks)
        rows = list(csv.DictReader(io.StringIO(download(page, "Download both runs (CSV of calls)"))))
        assert sorted((r["mode"], r["id"]) for r in rows) == sorted([(r.mode, t.id) for r in (a, b) for t in r.tasks])
        assert page.get_by_test_id("stException").count() == 0
        page.screenshot(path=os.path.join(ARTIFACTS, "history-pair.png"), full_page=True)
        page.close()
