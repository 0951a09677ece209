"""`streamlit run` killed mid-run (SIGKILL, SIGTERM) leaves nothing behind: every process the engine started for
it (backend, fork server, pool workers, resource tracker, call children) is gone 5 s later. Real browser, real app."""
from __future__ import annotations

import os
import re
import signal
import time
import uuid

import pytest
from playwright.sync_api import expect, sync_playwright

from .conftest import process_table, processes_tagged
from .streamlit_server import CHROMIUM, CHROMIUM_ARGS, ROOT, streamlit_server

pytestmark = pytest.mark.browser
ARTIFACTS = os.path.join(ROOT, "test-artifacts")


def _kinds(tag: str, server_pid: int) -> str:
    table = process_table()
    return " ".join(table.get(p, (0, ""))[1] for p in processes_tagged(tag) if p != server_pid)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_app_killed_mid_run_leaves_no_process(how):
    os.makedirs(ARTIFACTS, exist_ok=True)
    tag = uuid.uuid4().hex
    procs: list = []
    with sync_playwright() as pw, streamlit_server(os.path.join(ARTIFACTS, f"streamlit-kill-{how.name}.log"),
                                                   env={"AGENT_TEST_TAG": tag}, started=procs) as url:
        server = procs[0]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.set_default_timeout(60_000)
            page.goto(url + "/?preset=fan_out&mode=sequential")       # ~15 s of calls, one after another
            run = page.get_by_role("button", name=re.compile(r"^Run")).first
            expect(run).to_be_enabled()
            run.click()
            # under way: its progress has counted a finished call (of 48 calls of ~300 ms, one after another)
            expect(page.get_by_text(re.compile(r"^[1-9]\d*/48 calls"))).to_be_visible(timeout=30_000)
            deadline = time.monotonic() + 60
            while not all(k in _kinds(tag, server.pid) for k in ("forkserver", "resource_tracker",
                                                                  "agent_core._server")):
                assert time.monotonic() < deadline, f"the engine never warmed up: {_kinds(tag, server.pid)}"
                time.sleep(0.1)
            assert len(processes_tagged(tag)) >= 5
            server.send_signal(how)          # the server alone, as a container runtime or an operator would
            server.wait(30)
            deadline = time.monotonic() + 5
            while processes_tagged(tag) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = _kinds(tag, server.pid)
            assert not processes_tagged(tag), f"still running 5 s after the app died: {left[:600]}"
        finally:
            browser.close()
