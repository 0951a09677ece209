"""P10, a first visit: from `streamlit run` to an enabled Run button on the Playground, then the first Run's chart.

Measured in Debian's chromium driven by Playwright. The browser is started first (it is the visitor's, not
the app's); then the clock starts, `streamlit run app.py` starts in a fresh process (tests/streamlit_server.py),
the page is opened as soon as the server answers its health check, and the figures are:

- ``cold_start_s``: from starting `streamlit run` to the Playground's Run button drawn and enabled;
- ``first_click_beyond_wall_s``: the first Run's click to its chart on screen, less the run's own wall
  (what the page, Streamlit and the browser add to the measurement itself).

Used by tests/test_browser_first_visit.py (which writes test-artifacts/first-visit.json) and by
``python -m agent_core bench`` (P10a, P10b), which runs ``python -m tests.first_visit --json`` in a child.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time

from .streamlit_server import CHROMIUM, CHROMIUM_ARGS, ROOT, streamlit_server

ARTIFACTS = os.path.join(ROOT, "test-artifacts")
RESULT = os.path.join(ARTIFACTS, "first-visit.json")
# the first run's results are on screen: the "Measured at" caption and the timeline chart
CHART_SHOWN = """() => {
    const measured = [...document.querySelectorAll('[data-testid=stCaptionContainer]')]
        .some(c => c.innerText.startsWith('Measured at'));
    const timeline = [...document.querySelectorAll('[data-testid=stPlotlyChart] .gtitle')]
        .some(t => t.textContent.startsWith('Timeline'));
    return measured && timeline;
}"""
RUN_ENABLED = """() => [...document.querySelectorAll('button')]
    .some(b => /^Run/.test(b.innerText.trim()) && !b.disabled)"""


def one_visit(browser, log_path: str | None = None) -> dict:
    """One fresh server, one new page: the cold start and the first click, with the steps between."""
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.set_default_timeout(60_000)
    steps: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        with streamlit_server(log_path, poll_s=0.02) as url:
            steps["health_s"] = time.perf_counter() - t0
            page.goto(url + "/", wait_until="commit")
            steps["html_s"] = time.perf_counter() - t0
            page.wait_for_function(RUN_ENABLED, polling="raf", timeout=60_000)
            cold = time.perf_counter() - t0
            clicked = time.perf_counter()
            page.get_by_role("button", name=re.compile(r"^Run")).first.click()
            page.wait_for_function(CHART_SHOWN, polling="raf", timeout=60_000)
            to_chart = time.perf_counter() - clicked
            wall = float(page.get_by_test_id("stMetricValue").first.inner_text().split()[0])
            errors = page.get_by_test_id("stException").count()
    finally:
        page.close()
    return {"cold_start_s": round(cold, 4), "first_click_to_chart_s": round(to_chart, 4), "first_wall_s": wall,
            "first_click_beyond_wall_s": round(to_chart - wall, 4), "exceptions": errors,
            **{k: round(v, 4) for k, v in steps.items()}}


def measure(reps: int = 3, log_dir: str | None = None) -> dict:
    """``reps`` fresh visits (a new server each); the figures are their medians."""
    from playwright.sync_api import sync_playwright
    visits = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(reps):
                log = os.path.join(log_dir, f"streamlit-first-visit-{i + 1}.log") if log_dir else None
                visits.append(one_visit(browser, log))
        finally:
            browser.close()
    return {"cold_start_s": statistics.median(v["cold_start_s"] for v in visits),
            "first_click_beyond_wall_s": statistics.median(v["first_click_beyond_wall_s"] for v in visits),
            "reps": reps, "visits": visits, "load_before": round(os.getloadavg()[0], 2)}


def unavailable() -> str | None:
    """Why this machine cannot measure P10, or None."""
    if not os.path.exists(CHROMIUM):
        return f"no browser: {CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "no Playwright: pip install -r requirements-dev.txt"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if (why := unavailable()) is not None:
        print(json.dumps({"unavailable": why}) if args.json else why)
        sys.exit(0 if args.json else 1)
    result = measure(args.reps)
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
