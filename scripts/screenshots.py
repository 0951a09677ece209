"""Regenerate the README's screenshots: python scripts/screenshots.py (needs Debian's chromium)."""
from __future__ import annotations

import os
import sys

from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tests.streamlit_server import CHROMIUM, CHROMIUM_ARGS, LEGEND_OVERLAPS, streamlit_server  # noqa: E402

OUT = os.path.join(ROOT, "docs", "screenshots")
# page path, button that measures, text that says the results are in, file name, height
SHOTS = [("/", "Run", "What happened", "playground.png", 2300),
         ("/Compare", "Run every mode", "Timelines", "compare.png", 2500),
         ("/Failures?preset=isolated_scripts", "Run the fault under every chosen mode", "What each mode did",
          "failures.png", 1500),
         ("/Event_loop", "Run in asyncio and in hybrid", "hybrid · timeline", "event-loop.png", 1800),
         ("/Scaling", "Run the sweep", "What the sweep found", "scaling.png", 2600),
         ("/Pipelines?pipeline=research_agent&mode=hybrid&k=4", "Run the pipeline", "What happened", "pipelines.png",
          2300)]


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    with streamlit_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for path, button, done, name, height in SHOTS:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.set_default_timeout(120_000)      # a shared machine: the first script run can be slow
            page.goto(url + path)
            page.get_by_role("button", name=button, exact=True).click()
            page.get_by_text(done, exact=True).first.wait_for(timeout=180_000)
            page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)   # the rerun is over
            page.wait_for_timeout(6000)        # the last rerun redraws every chart; plotly draws them late
            overlaps = page.evaluate(LEGEND_OVERLAPS)
            if overlaps:
                raise SystemExit(f"{name}: " + "; ".join(overlaps))
            page.screenshot(path=os.path.join(OUT, name))
            page.close()
            print("wrote", name)
        browser.close()


if __name__ == "__main__":
    main()
