"""The Pipelines page in a real browser (Debian's chromium, Playwright, `streamlit run`): opened first by its deep link
on a fresh server, Run draws the graph (an SVG) and the timeline (Plotly), with no exception on the page. The
screenshot goes to docs/screenshots/pipelines.png (the README's) and test-artifacts/."""
from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import expect

from .streamlit_server import ROOT, streamlit_server

pytestmark = pytest.mark.browser
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
SCREENSHOT = os.path.join(ROOT, "docs", "screenshots", "pipelines.png")

# the timeline as Plotly drew it: its title (Streamlit's theme wraps it in <b>), its bars and its link traces
TIMELINE = """() => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => g._fullLayout && g._fullLayout.title.text.includes('Timeline'));
    if (!gd) return null;
    const bars = gd._fullData.filter(t => t.type === 'bar').reduce((n, t) => n + t.x.length, 0);
    const links = gd._fullData.filter(t => t.type === 'scatter').length;
    return {title: gd._fullLayout.title.text.replace(/<[^>]+>/g, ''), bars: bars, links: links};
}"""


def test_the_pipeline_page_by_deep_link_on_a_fresh_server_draws_graph_and_timeline(browser):
    os.makedirs(ARTIFACTS, exist_ok=True)
    with streamlit_server(os.path.join(ARTIFACTS, "streamlit-pipelines.log")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 2300})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/Pipelines?pipeline=research_agent&mode=hybrid&k=4")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Pipelines")
        graph = page.get_by_test_id("stGraphVizChart")
        expect(graph.locator("svg g.node").first).to_be_visible()     # the graph before any run: 4 searches
        assert graph.locator("svg g.node").count() == 1 + 4 * 4 + 2
        page.get_by_role("button", name=re.compile("^Run the pipeline")).click()
        expect(page.get_by_text(re.compile(r"^Measured: research_agent\(k=4,fetch=sdk\)"))).to_be_visible(
            timeout=180_000)
        page.wait_for_function(f"({TIMELINE})() !== null && ({TIMELINE})().bars > 0")
        timeline = page.evaluate(TIMELINE)
        assert timeline["title"] == "Timeline" and timeline["bars"] == 19 and timeline["links"] == 2
        svg = page.get_by_test_id("stGraphVizChart").locator("svg")
        expect(svg).to_be_visible()
        assert svg.locator("g.node").count() == 19 and svg.locator("g.edge").count() == 4 * 4 + 4 + 1
        # the critical path: nodes outlined thick and dark (penwidth 3, #111111), 7 of them in research_agent
        thick = svg.locator("g.node path[stroke='#111111'], g.node polygon[stroke='#111111']").count()
        assert thick == 7, thick
        page.wait_for_timeout(1500)         # let late renders land before looking for exceptions
        assert page.get_by_test_id("stException").count() == 0
        with page.expect_download() as done:
            page.get_by_role("button", name="Download this run (JSON)").click()
        with open(done.value.path(), encoding="utf-8") as f:
            report = json.load(f)
        assert report["mode"] == "hybrid" and report["options"]["pipeline"]["params"]["k"] == 4
        page.screenshot(path=os.path.join(ARTIFACTS, "pipelines.png"), full_page=True)
        expect(page.get_by_role("button", name=re.compile("^Run the pipeline"))).to_be_enabled()   # the rerun is over
        page.get_by_role("heading", level=1).scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOT)
        page.close()
