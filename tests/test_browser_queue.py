"""The measurement queue in a real browser: what visitors do while a run is going never strands the machine.

Debian's chromium driven by Playwright against `streamlit run`, never skipped. Each test uses small workloads
(seconds per run). Run A keeps the machine busy while other tabs queue behind it, change widgets, or close:
the research fan-out in a process pool (~9 s, little CPU), so that what the other tabs do surely happens
while it runs, even on a loaded machine.
"""
from __future__ import annotations

import json
import os
import re
import time

import pytest
from playwright.sync_api import Page, expect

from .streamlit_server import ROOT, streamlit_server

pytestmark = pytest.mark.browser
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
BUSY = "/?preset=fan_out&mode=process-pool"      # ~9 s: keeps the machine busy while others queue
LONG = "/?preset=agent_turn&mode=sequential"     # ~4-5 s: a run long enough to change a widget during it
SHORT = "/?preset=rag_turn&mode=asyncio"         # ~1 s
RESULT_S = 60_000                                # ms: far below the 600 s the old code made a visitor wait
SEEN_S = 20_000                                  # ms: for what should show at once (the machine is shared)


@pytest.fixture(scope="module")
def server():
    with streamlit_server(os.path.join(ARTIFACTS, "streamlit-queue.log")) as url:
        yield url


def record(name: str, figures: dict) -> None:
    path = os.path.join(ARTIFACTS, "queue-recovery.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    data[name] = figures
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def visit(browser, server: str, *paths: str) -> list[Page]:
    """Open a tab per path, all loading at once, and wait until each page is ready."""
    pages = []
    for path in paths:
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.set_default_timeout(30_000)
        page.goto(server + path)
        pages.append(page)
    for page in pages:
        expect(run_button(page)).to_be_enabled(timeout=30_000)           # a fresh server's first page is slower
        expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=SEEN_S)    # it has loaded
    return pages


def run_button(page: Page):
    return page.get_by_role("button", name=re.compile(r"^Run"))


def measuring(page: Page) -> None:
    """Wait until this page's own run is measuring: its progress bar has counted a finished call."""
    expect(page.get_by_text(re.compile(r"^[1-9]\d*/\d+ calls"))).to_be_visible(timeout=SEEN_S)


def waiting(page: Page) -> None:
    expect(page.get_by_text(re.compile(r"^Waiting for the machine: you are number \d+ in the queue"))).to_be_visible(
        timeout=SEEN_S)


def result(page: Page) -> dict:
    """Wait for this page's result, and read it from its download."""
    expect(page.get_by_text(re.compile("^Measured at"))).to_be_visible(timeout=RESULT_S)
    assert page.get_by_test_id("stException").count() == 0
    with page.expect_download() as download:
        page.get_by_role("button", name="Download this run (JSON)").click()
    with open(download.value.path(), encoding="utf-8") as f:
        return json.load(f)


def measured(page: Page, expected: int | None = None) -> int:
    """Jobs the app has measured since it started, as the page's sidebar says (once it says ``expected``)."""
    caption = page.get_by_text(re.compile(r"measured since the app started"))
    if expected is not None:
        expect(caption).to_contain_text(f" {expected} measured since the app started", timeout=SEEN_S)
    return int(re.search(r"(\d+) measured since the app started", caption.inner_text()).group(1))


def end(run: dict) -> float:
    return run["started_at"] + run["wall_s"]


def test_a_waiting_visitor_who_changes_a_widget_keeps_one_place_and_strands_nobody(browser, server):
    a, b, c = visit(browser, server, BUSY, SHORT, SHORT)
    before = measured(a)
    run_button(a).click()
    measuring(a)
    run_button(b).click()
    waiting(b)
    b.get_by_text("Also measure the sequential baseline").click()      # a rerun of B's page while it waits
    waiting(b)                                                          # the rerun found B's job again
    expect(run_button(b)).to_be_disabled(timeout=SEEN_S)
    run_button(c).click()                                               # a new visitor, behind B
    first, second, third = result(a), result(b), result(c)
    assert first["mode"] == "process-pool" and second["mode"] == "asyncio" and len(second["tasks"]) == 9, \
        "B got the one run it asked for (no baseline: the tick came after the click)"
    assert end(first) <= second["started_at"] and end(second) <= third["started_at"], "never two at once"
    assert third["started_at"] - end(first) < 10, "C measured right after A and B: nothing held the machine"
    expect(run_button(c)).to_be_enabled(timeout=SEEN_S)
    assert measured(c, before + 3) == before + 3, "A, B once, C"
    record("waiting visitor changed a widget", {"b_started_after_a_ended_s": second["started_at"] - end(first),
                                                 "c_started_after_b_ended_s": third["started_at"] - end(second)})
    for page in (a, b, c):
        page.close()


def test_a_waiting_visitor_who_closes_the_tab_gives_the_place_up(browser, server):
    a, b, c = visit(browser, server, BUSY, SHORT, SHORT)
    before = measured(a)
    run_button(a).click()
    measuring(a)
    run_button(b).click()
    waiting(b)
    b.close()                                                           # B leaves while it waits
    run_button(c).click()
    expect(c.get_by_text(re.compile("^Waiting for the machine: you are number 1 in the queue"))).to_be_visible(
        timeout=SEEN_S)
    first, third = result(a), result(c)
    assert end(first) <= third["started_at"] and third["started_at"] - end(first) < 5, "C went next, promptly"
    expect(run_button(c)).to_be_enabled(timeout=SEEN_S)
    assert measured(c, before + 2) == before + 2, "A and C were measured; B's abandoned job never ran"
    record("waiting visitor closed the tab", {"c_started_after_a_ended_s": third["started_at"] - end(first)})
    a.close()
    c.close()


def test_a_widget_change_during_ones_own_run_measures_once_and_shows_that_run(browser, server):
    [page] = visit(browser, server, LONG)
    before = measured(page)
    clicked = time.time()
    run_button(page).click()
    measuring(page)
    expect(run_button(page)).to_be_disabled()
    ticked = time.time()
    page.get_by_text("Also measure the sequential baseline").click()    # a rerun of the page during its run
    measuring(page)                                                     # the rerun shows the same run going on
    run = result(page)
    assert run["mode"] == "sequential" and clicked <= run["started_at"] < ticked, "the run the click started"
    expect(run_button(page)).to_be_enabled(timeout=SEEN_S)
    assert measured(page, before + 1) == before + 1
    page.wait_for_timeout(1000)                                         # time for a second run to start, if any
    [other] = visit(browser, server, SHORT)                             # a fresh look at the queue
    assert measured(other) == before + 1, "exactly one run"
    assert result(page)["started_at"] == run["started_at"]
    record("widget change during own run", {"runs": measured(other) - before, "wall_s": run["wall_s"]})
    other.close()
    page.close()
