"""Each tool does real work, and the twins of a tool do the same work."""
from __future__ import annotations

import asyncio
import os
import sqlite3

import httpx
import pytest

from agent_core._execute import run_tool, run_tool_async
from agent_core.backend import ensure_backend
from agent_core.catalog import CATALOG, resolve_params
from agent_core.childproc import run_in_child
from agent_core.tools import ToolContext, http_tools
from agent_core.tools.memory import prepare_db

from .conftest import call_children


@pytest.fixture(scope="module")
def ctx_args() -> dict:
    url = ensure_backend().url
    return {"seed": 7, "timeout_s": 10, "base_url": url, "llm_base_url": f"{url}/v1"}


def both(tool: str, params: dict, ctx_args: dict):
    """The sync and async implementations' outcomes for the same call."""
    p = resolve_params(tool, params)
    spec = CATALOG[tool]
    sync = run_tool(spec.impl("sync"), p, ToolContext(f"{tool}#1", **ctx_args))

    async def main():
        async with httpx.AsyncClient() as client:
            return await run_tool_async(spec.impl("aio"), p, ToolContext(f"{tool}#1", http=client, **ctx_args))

    return sync, asyncio.run(main())


@pytest.mark.parametrize("tool, params", [
    ("web_search", {"latency_ms": 20, "k": 4}),
    ("vector_lookup", {"latency_ms": 20, "k": 9}),
    ("embed", {"latency_ms": 20, "texts": 3}),
    ("llm_call", {"ttft_ms": 30, "tokens": 10, "tokens_per_s": 1000}),
])
def test_io_tools_sync_and_async_twins_get_the_same_answer(tool, params, ctx_args):
    sync, aio = both(tool, params, ctx_args)
    assert sync.status == aio.status == "ok", (sync.error, aio.error)
    drop = {"ttft_ms", "bytes"}     # timing, and byte counts that include the server's measured wait
    same = lambda detail: {k: v for k, v in detail.items() if k not in drop}
    assert same(sync.detail) == same(aio.detail)


def test_llm_call_reads_the_whole_stream_and_times_the_first_token(ctx_args):
    sync, _ = both("llm_call", {"ttft_ms": 120, "tokens": 20, "tokens_per_s": 400, "jitter": 0}, ctx_args)
    assert sync.detail["tokens"] == 20
    assert 110 <= sync.detail["ttft_ms"] <= 1000


def test_memory_write_commits_its_rows_to_a_real_sqlite_file(tmp_path, ctx_args):
    db = str(tmp_path / "memory.db")
    prepare_db(db)
    ctx = ToolContext("memory_write#1", 1, 10, db_path=db)
    out = run_tool(CATALOG["memory_write"].impl("sync"), resolve_params("memory_write", {"rows": 321}), ctx)
    assert out.status == "ok" and out.detail["rows"] == 321
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from messages where session = 'memory_write#1'").fetchone()[0] == 321


def test_memory_write_has_an_aiosqlite_twin_that_writes_the_same_rows(tmp_path):
    db = str(tmp_path / "memory.db")
    prepare_db(db)
    ctx = ToolContext("memory_write#2", 1, 10, db_path=db)
    out = asyncio.run(run_tool_async(CATALOG["memory_write"].impl("aio"), resolve_params("memory_write", {"rows": 50}),
                                     ctx))
    assert out.status == "ok" and out.detail["driver"] == "aiosqlite"
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from messages").fetchone()[0] == 50


def test_legacy_sdk_is_a_real_synchronous_http_call(ctx_args):
    out = run_tool(CATALOG["legacy_sdk"].impl("sync"), resolve_params("legacy_sdk", {"latency_ms": 10}),
                   ToolContext("legacy_sdk#1", **ctx_args))
    assert out.status == "ok" and out.detail["records"] == 20


def test_analysis_is_deterministic_for_a_seed_and_spends_its_time_on_the_cpu():
    run = lambda seed: run_tool(CATALOG["analysis"].impl("sync"), {"work": 50_000}, ToolContext("analysis#1", seed, 10))
    a, b, c = run(1), run(1), run(2)
    assert a.detail == b.detail != c.detail
    assert a.detail["words"] == 50_000 and len(a.detail["keywords"]) == 5
    assert a.cpu_s > 0.01


def test_analysis_stops_itself_at_its_deadline():
    out = run_tool(CATALOG["analysis"].impl("sync"), {"work": 1_000_000}, ToolContext("analysis#1", 0, 0.1))
    assert out.status == "timeout" and "timeout" in out.error


@pytest.mark.parametrize("script, key, value", [("word_count", "words", 5000), ("primes", "primes", 5133),
                                                 ("json_summary", "records", 5000)])
def test_each_allow_listed_script_runs_in_its_own_child(script, key, value, no_call_children_left):
    out = run_in_child("sandboxed_script", resolve_params("sandboxed_script", {"script": script, "size": 5000}),
                       ToolContext("sandboxed_script#1", 0, 10))
    assert out.status == "ok", out.error
    assert out.detail[key] == value
    assert out.worker.startswith("pid ") and int(out.worker[4:]) != os.getpid()
    assert out.cpu_s > 0, "the child's CPU time comes from wait4"


def test_a_sandbox_child_that_overruns_its_timeout_is_killed_with_its_group(no_call_children_left):
    params = resolve_params("sandboxed_script", {"script": "json_summary", "size": 200_000})
    out = run_in_child("sandboxed_script", params, ToolContext("sandboxed_script#1", 0, 0.15))
    assert out.status == "timeout" and "process group killed" in out.error
    assert out.elapsed_s < 1.0
    assert call_children() == {}


def test_the_memory_limit_is_set_by_the_child_itself(no_call_children_left):
    params = resolve_params("sandboxed_script", {"script": "json_summary", "size": 200_000, "mem_mb": 64})
    out = run_in_child("sandboxed_script", params, ToolContext("sandboxed_script#1", 0, 10))
    assert out.status == "error" and "MemoryError" in out.error


def test_children_do_not_inherit_credentials(monkeypatch):
    from agent_core._spawn import child_env
    monkeypatch.setenv("AGENT_LLM_API_KEY", "sk-secret")
    monkeypatch.setenv("HARMLESS", "1")
    env = child_env()
    assert "AGENT_LLM_API_KEY" not in env and env["HARMLESS"] == "1"


def test_llm_call_can_target_a_real_openai_compatible_server_from_the_environment(monkeypatch):
    from agent_core.tools import llm_target
    monkeypatch.setenv("AGENT_LLM_BASE_URL", "http://localhost:11434/v1/")
    monkeypatch.setenv("AGENT_LLM_MODEL", "llama3.2")
    monkeypatch.setenv("AGENT_LLM_API_KEY", "k")
    assert llm_target("http://127.0.0.1:1") == ("http://localhost:11434/v1", "llama3.2", "k")
    monkeypatch.delenv("AGENT_LLM_BASE_URL")
    assert llm_target("http://127.0.0.1:1")[0] == "http://127.0.0.1:1/v1"


def test_async_clients_spread_calls_over_clients_of_at_most_100_connections():
    async def main():
        clients = http_tools.AsyncClients(250)
        try:
            return len(clients.clients), {id(clients.for_call(i)) for i in range(250)}
        finally:
            await clients.aclose()

    n, used = asyncio.run(main())
    assert n == 3 and len(used) == 3
