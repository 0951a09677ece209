"""Start `streamlit run app.py` on a free loopback port in its own session; stop it with its whole group."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import expect

# Playwright's default wait for an expectation is 5 s; a page's first script run on this shared 2-core machine
# took longer while other work ran (a CI run failed on a Run button that had not been drawn yet).
expect.set_options(timeout=30_000)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

# every legend item's box against every text Plotly draws that is not the legend's (the title, the axis titles,
# tick labels, annotations): in each chart on the page, as the browser laid it out
LEGEND_OVERLAPS = """() => {
    const box = e => e.getBoundingClientRect();
    const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const out = [];
    for (const chart of document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')) {
        const items = [...chart.querySelectorAll('.legend .traces')].map(box).filter(b => b.width > 0);
        const texts = [...chart.querySelectorAll('.infolayer g[class*=title] text, g[class$=tick] text, '
                                                + '.annotation-text-g text')]
            .filter(t => t.textContent.trim() && box(t).width > 0);
        const title = (chart.querySelector('.gtitle') || {}).textContent;
        for (const item of items)
            for (const t of texts)
                if (meet(item, box(t))) out.push(`${title}: the legend lies over "${t.textContent}"`);
    }
    return out;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(log_path: str | None = None, env: dict[str, str] | None = None,
                     started: list | None = None, poll_s: float = 0.1) -> Iterator[str]:
    """The app's URL while it serves; ``env`` adds to its environment; ``started`` receives its Popen;
    ``poll_s``: how often its health check is tried while it starts."""
    port = free_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})})
    if started is not None:
        started.append(proc)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not come up (exit {proc.poll()})")
            time.sleep(poll_s)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log_path:
            log.close()
