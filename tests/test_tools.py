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
    ("fetch_page", {"latency_ms": 20, "words": 700}),
])
def test_io_tools_sync_and_async_twins_get_the_same_answer(tool, params, ctx_args):
    sync, aio = both(tool, params, ctx_args)
    assert sync.status == aio.status == "ok", (sync.error, aio.error)
    drop = {"ttft_ms", "ttft_s", "bytes"}     # timing, and byte counts that include the server's measured wait
    same = lambda detail: {k: v for k, v in detail.items() if k not in drop}
    assert same(sync.detail) == same(aio.detail)


def test_llm_call_reads_the_whole_stream_and_times_the_first_token(ctx_args):
    sync, _ = both("llm_call", {"ttft_ms": 120, "tokens": 20, "tokens_per_s": 400, "jitter": 0}, ctx_args)
    assert sync.detail["tokens"] == 20
    assert 110 <= sync.detail["ttft_ms"] <= 1000


def test_fetch_page_gets_a_page_of_the_size_asked_chosen_by_the_seed_or_named_by_the_engine(ctx_args):
    impl, params = CATALOG["fetch_page"].impl("sync"), resolve_params("fetch_page", {"latency_ms": 0, "words": 900})
    fetch = lambda call_id, **extra: run_tool(impl, {**params, **extra}, ToolContext(call_id, **ctx_args))
    a, again, other = fetch("fetch_page#1"), fetch("fetch_page#1"), fetch("fetch_page#2")
    assert a.status == "ok" and a.detail["words"] == 900 and a.detail["bytes"] > 900 * 3
    assert a.detail == again.detail and other.detail["page"] != a.detail["page"]
    assert fetch("fetch_page#1", page=1234).detail["page"] == 1234
    refused = fetch("fetch_page#1", page=2000)
    assert refused.status == "error" and "fetch_page.page=2000 is not allowed: a page id 0..1999" in refused.error


def _chunk(params: dict, seed: int = 1, timeout_s: float = 10, **extra):
    p = {**resolve_params("chunk_text", params), **extra}
    return run_tool(CATALOG["chunk_text"].impl("sync"), p, ToolContext("chunk_text#1", seed, timeout_s))


def test_chunk_text_drops_a_repeated_paragraph_and_a_near_copy_but_keeps_distinct_ones():
    sentences = lambda start: " ".join(" ".join(f"w{start + 10 * s + i}" for i in range(10)) + "."
                                       for s in range(6))
    original, distinct = sentences(0), sentences(1000)
    near = original.replace("w33", "changed")              # one word of 60 changed: 3 of 58 shingles differ
    text = "\n\n".join([original, distinct, original, near])
    out = _chunk({"chunk_words": 1000, "overlap": 0}, text=text)
    assert out.status == "ok", out.error
    assert (out.detail["chunks"], out.detail["duplicates"]) == (2, 2)
    assert (out.detail["words"], out.detail["sentences"]) == (240, 24)


def test_chunk_text_packs_sentences_into_overlapping_chunks_of_at_most_chunk_words():
    from agent_core.tools.retrieval import _pack, _sentences
    paragraph = " ".join(" ".join(f"s{s}w{i}" for i in range(12)) + "." for s in range(10))   # 10 x 12 words
    chunks = _pack(_sentences(paragraph), 40, 8)
    # three whole sentences fit the first chunk; each later one repeats the last 8 words and takes two more
    assert [len(c) for c in chunks] == [36, 32, 32, 32, 20]
    assert all(later[:8] == earlier[-8:] for earlier, later in zip(chunks, chunks[1:], strict=False))
    assert chunks[0][0] == "s0w0" and chunks[-1][-1] == "s9w11."
    long = _pack(_sentences(" ".join(f"w{i}" for i in range(100)) + "."), 40, 8)     # a sentence over a chunk
    assert [len(c) for c in long] == [32, 40, 40, 12] and long[-1][-1] == "w99."


def test_chunk_text_is_deterministic_for_a_seed_finds_the_pages_repeats_and_spends_cpu():
    a, b, c = _chunk({}), _chunk({}), _chunk({}, seed=2)
    assert a.status == "ok" and a.detail == b.detail != c.detail
    assert a.detail["words"] == 4000 and a.detail["chunks"] > 20 and a.detail["duplicates"] > 0
    assert a.cpu_s > 0.01


def test_chunk_text_chunks_the_page_fetch_page_fetched(ctx_args):
    params = resolve_params("fetch_page", {"latency_ms": 0, "words": 800})
    fetched = run_tool(CATALOG["fetch_page"].impl("sync"), params, ToolContext("fetch_page#1", **ctx_args)).detail
    text = httpx.get(f"{ctx_args['base_url']}/v1/pages/{fetched['page']}", params={"words": 800}).json()["text"]
    assert _chunk({"words": 800}, page=fetched["page"]).detail == _chunk({"words": 800}, text=text).detail


def test_chunk_text_refuses_what_it_cannot_take_and_stops_at_its_deadline():
    assert "chunk_text.page=-1 is not allowed" in _chunk({}, page=-1).error
    assert "chunk_text.text must be a string" in _chunk({}, text=b"bytes").error
    late = _chunk({"words": 200_000}, timeout_s=0.05)
    assert late.status == "timeout" and "timeout" in late.error


def test_bm25_ranks_more_matches_first_and_a_short_passage_above_a_long_one_with_the_same_match():
    from agent_core.tools.retrieval import bm25
    passages = [["gil", "threads", "pool"], ["gil", "x", "y"], ["gil"] + ["filler"] * 30, ["nothing", "here"]]
    scores = bm25(["gil", "threads", "gil"], passages)
    assert scores[0] > scores[1] > scores[2] > scores[3] == 0.0


def test_rerank_is_deterministic_for_a_seed_and_orders_its_candidates():
    run = lambda seed, **p: run_tool(CATALOG["rerank"].impl("sync"), resolve_params("rerank", p),
                                     ToolContext("rerank#1", seed, 10))
    a, b, c = run(1), run(1), run(2)
    assert a.status == "ok" and a.detail == b.detail != c.detail
    assert a.detail["n"] == 400 and a.detail["top_score"] > 0 and len(set(a.detail["top"])) == 5
    assert a.cpu_s > 0.01
    late = run_tool(CATALOG["rerank"].impl("sync"), {"candidates": 2000, "words_per": 1000},
                    ToolContext("rerank#1", 1, 0.05))
    assert late.status == "timeout" and "rerank ran past its 0.05 s timeout" in late.error


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
