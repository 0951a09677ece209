from __future__ import annotations

import pytest

from agent_core.errors import BadInput
from agent_core.workload import MAX_CALLS, Options, Workload, parse_param_assignments


def test_a_spec_expands_into_numbered_calls_in_order():
    w = Workload.parse("llm_call:2, analysis:1,web_search")
    assert [(c.id, c.kind, c.index) for c in w.calls()] == [
        ("llm_call#1", "io", 0), ("llm_call#2", "io", 1), ("analysis#1", "cpu", 2), ("web_search#1", "io", 3)]
    assert w.spec == "llm_call:2,analysis:1,web_search:1"
    assert w.n_calls == 4


def test_parameters_reach_every_call_of_their_tool():
    w = Workload.parse("web_search:2", parse_param_assignments(["web_search.latency_ms=120", "web_search.k=3"]))
    assert all(c.params["latency_ms"] == 120 and c.params["k"] == 3 for c in w.calls())


@pytest.mark.parametrize("spec, fragment", [
    ("", "the workload is empty"),
    ("web_search:0", "web_search:0 is not allowed: web_search's count must be 1..1000"),
    ("web_search:1001", "1..1000"),
    ("analysis:201", "analysis's count must be 1..200"),
    ("sandboxed_script:101", "1..100"),
    ("web_search:-3", "whole number 1..1000"),
    ("web_search:2,web_search:1", "web_search appears twice"),
    ("web search:2", "is not tool:count"),
    ("nope:1", "unknown tool 'nope'"),
    ("llm_call:500,web_search:400,analysis:101", f"allowed at most {MAX_CALLS} in one run"),
])
def test_bad_specs_are_refused_with_one_line_naming_the_value(spec, fragment):
    with pytest.raises(BadInput) as err:
        Workload.parse(spec)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_param_assignments_must_name_a_real_parameter():
    with pytest.raises(BadInput, match="is not TOOL.NAME=VALUE"):
        parse_param_assignments(["latency=3"])
    with pytest.raises(BadInput, match="has no parameter"):
        parse_param_assignments(["web_search.nope=3"])


@pytest.mark.parametrize("options, fragment", [
    (Options(timeout_s=0), "timeout_s=0 is out of range: allowed 0.1..60 s"),
    (Options(timeout_s=61), "out of range"),
    (Options(seed=-1), "seed=-1 is out of range"),
    (Options(workers=0), "workers=0 is out of range for threads: allowed 1..64"),
    (Options(workers=65), "allowed 1..64"),
])
def test_run_options_are_bounded_in_the_engine(options, fragment):
    with pytest.raises(BadInput) as err:
        options.checked("threads", 64)
    assert fragment in str(err.value)
