"""The code the Playground shows for each mode is real: each snippet runs against the embedded backend."""
from __future__ import annotations

import importlib

import pytest

from agent_core import ensure_backend
from ui.widgets import SNIPPETS


@pytest.fixture(scope="module")
def url() -> str:
    return ensure_backend().url


@pytest.mark.parametrize("mode", list(SNIPPETS))
def test_each_modes_snippet_runs(mode, url):
    result = importlib.import_module(f"snippets.{SNIPPETS[mode]}").main(url)
    assert result.get("calls", 1) > 0 and result.get("ok", 1) > 0


def test_the_asyncio_snippet_takes_about_the_slowest_call_and_sequential_the_sum(url):
    seq = importlib.import_module("snippets.sequential").main(url, n=4)
    aio = importlib.import_module("snippets.asyncio_loop").main(url, n=4)
    assert aio["wall_s"] < 0.5 * seq["wall_s"]


def test_the_hybrid_snippet_uses_every_primitive(url):
    result = importlib.import_module("snippets.hybrid").main(url)
    assert result["results"] == 5 and result["script"] == 42 and result["top"] > 0
