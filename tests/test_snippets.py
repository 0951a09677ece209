"""The code the Playground shows for each mode is real: each mode's snippet runs against the embedded backend
and says how many calls it made and how many succeeded."""
from __future__ import annotations

import importlib
import os

import pytest

from agent_core import ensure_backend
from agent_core.modes import MODES, get_mode

from .conftest import ROOT


@pytest.fixture(scope="module")
def url() -> str:
    return ensure_backend().url


@pytest.mark.parametrize("mode", MODES)
def test_each_modes_snippet_runs_and_every_call_it_makes_succeeds(mode, url):
    name = get_mode(mode).SNIPPET
    assert os.path.isfile(os.path.join(ROOT, "snippets", f"{name}.py")), f"{mode} names a snippet that is not there"
    result = importlib.import_module(f"snippets.{name}").main(url)
    assert result["calls"] > 0, result
    assert result["ok"] == result["calls"], result
    assert result["wall_s"] > 0


def test_the_asyncio_snippet_takes_about_the_slowest_call_and_sequential_the_sum(url):
    seq = importlib.import_module("snippets.sequential").main(url, n=4)
    aio = importlib.import_module("snippets.asyncio_loop").main(url, n=4)
    assert aio["wall_s"] < 0.5 * seq["wall_s"]


def test_the_hybrid_snippet_uses_every_primitive(url):
    result = importlib.import_module("snippets.hybrid").main(url)
    assert result["results"] == 5 and result["script"] == 42 and result["top"] > 0


def test_a_snippet_counts_a_failed_call_as_not_ok():
    """Against a server that answers nothing ok, the snippets' own count says so (the check above can fail)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for name in ("sequential", "asyncio_loop"):
            result = importlib.import_module(f"snippets.{name}").main(base, n=2)
            assert result["calls"] == 2 and result["ok"] == 0, (name, result)
    finally:
        server.shutdown()
        server.server_close()
