from __future__ import annotations

import pytest

from agent_core.catalog import CATALOG, KINDS, get_tool, resolve_params
from agent_core.errors import BadInput


def test_catalog_has_the_tools_the_design_names_with_their_kinds():
    kinds = {name: spec.kind for name, spec in CATALOG.items()}
    assert kinds == {"llm_call": "io", "web_search": "io", "vector_lookup": "io", "embed": "io",
                     "memory_write": "blocking",
                     "legacy_sdk": "blocking", "analysis": "cpu", "sandboxed_script": "isolated",
                     "fetch_page": "io", "chunk_text": "cpu", "rerank": "cpu"}
    assert set(kinds.values()) == set(KINDS)


def test_io_tools_have_sync_and_async_implementations():
    for spec in CATALOG.values():
        assert callable(spec.impl("sync"))
        if spec.kind == "io":
            assert callable(spec.impl("aio"))
    assert callable(CATALOG["memory_write"].impl("aio")), "memory_write has an aiosqlite twin"
    assert CATALOG["legacy_sdk"].aio is None, "a legacy SDK has no async API"


def test_every_default_lies_within_its_bounds():
    for name, spec in CATALOG.items():
        assert resolve_params(name) == spec.defaults()


def test_parameters_from_the_command_line_are_coerced_to_their_type():
    p = resolve_params("llm_call", {"tokens": "64", "jitter": "0.5"})
    assert p["tokens"] == 64 and isinstance(p["tokens"], int)
    assert p["jitter"] == 0.5


@pytest.mark.parametrize("tool, param, value, fragment", [
    ("web_search", "latency_ms", 10_001, "web_search.latency_ms=10001 is out of range: allowed 0..10000"),
    ("web_search", "latency_ms", -1, "out of range"),
    ("llm_call", "tokens", "3.5", "is not an integer"),
    ("llm_call", "tokens", True, "is not an integer"),
    ("analysis", "work", "lots", "is not an integer"),
    ("web_search", "jitter", float("nan"), "out of range"),
    ("sandboxed_script", "script", "rm -rf /", "is not allowed: one of word_count, primes, json_summary"),
    ("fetch_page", "words", 20_001, "fetch_page.words=20001 is out of range: allowed 1..20000 words"),
    ("chunk_text", "chunk_words", 8, "chunk_text.chunk_words=8 is out of range: allowed 16..1000 words"),
    ("rerank", "candidates", 0, "rerank.candidates=0 is out of range: allowed 1..5000"),
])
def test_out_of_range_or_malformed_values_are_refused_with_what_is_allowed(tool, param, value, fragment):
    with pytest.raises(BadInput) as err:
        resolve_params(tool, {param: value})
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_an_llm_call_longer_than_ten_seconds_is_refused_as_a_whole():
    with pytest.raises(BadInput, match="at most 10000 ms"):
        resolve_params("llm_call", {"ttft_ms": 5000, "tokens": 2000, "tokens_per_s": 100})


def test_a_chunk_overlap_over_half_a_chunk_and_a_rerank_over_two_million_words_are_refused():
    assert resolve_params("chunk_text", {"chunk_words": 40, "overlap": 20})["overlap"] == 20
    with pytest.raises(BadInput, match="overlap=21 is more than half of chunk_words=40: allowed 0..20"):
        resolve_params("chunk_text", {"chunk_words": 40, "overlap": 21})
    with pytest.raises(BadInput, match="rerank scores candidates x words_per = 2500000 words: allowed at most 2000000"):
        resolve_params("rerank", {"candidates": 2500, "words_per": 1000})


def test_unknown_tools_and_parameters_name_what_is_allowed():
    with pytest.raises(BadInput, match="unknown tool 'nope': allowed are llm_call"):
        get_tool("nope")
    with pytest.raises(BadInput, match="web_search has no parameter 'tokens': allowed are latency_ms, k, jitter"):
        resolve_params("web_search", {"tokens": 3})
