"""The page-job budget for pipelines: their calls wait for each other, so a run can never beat the longest chain of
its calls' costs; the estimate says so in every mode (sequential: Σ), a barrier only adds to it, and real runs
finish within it."""
from __future__ import annotations

import pytest

import agent_core
from agent_core import budget
from agent_core.modes import BASELINE, MODES
from agent_core.pipelines import PIPELINES, pipeline


def chain_of_costs(w) -> float:
    """The longest dependency chain of the budget's own per-call costs, computed here from the graph."""
    calls = w.calls()
    cost = [max([budget._call_cost(c.tool, c.params).total]
                + [budget._call_cost(t, w.params[t]).total for t in c.offer]) for c in calls]
    longest = [0.0] * len(calls)
    for i, c in enumerate(calls):
        longest[i] = cost[i] + max((longest[d] for d in c.deps), default=0.0)
    return max(longest)


@pytest.mark.parametrize("name", PIPELINES)
def test_no_mode_is_estimated_below_the_longest_chain_and_sequential_is_the_sum(name):
    w = pipeline(name)
    chain = chain_of_costs(w)
    for mode in MODES:
        assert budget.mode_wall(w, mode) >= chain - 1e-9, mode
        assert budget.mode_wall(w, mode, barrier=True) >= budget.mode_wall(w, mode) - 1e-9, mode
    total = sum(c.total for c in budget._costs(w))
    assert budget.mode_wall(w, BASELINE) == pytest.approx(total)


def test_a_longer_chain_lengthens_the_estimate_where_more_calls_at_once_would_not():
    # k parallel branches: more of them barely moves the hybrid bound; a slower LLM on the chain moves it in full
    w3, w6 = pipeline("research_agent", {"k": 3}), pipeline("research_agent", {"k": 6})
    slow = pipeline("research_agent", {"k": 3}, {"llm_call": {"ttft_ms": 3000}})
    hybrid = budget.mode_wall(w6, "hybrid") - budget.mode_wall(w3, "hybrid")
    assert hybrid < 0.5 * (budget.mode_wall(w6, BASELINE) - budget.mode_wall(w3, BASELINE))
    assert budget.mode_wall(slow, "hybrid") - budget.mode_wall(w3, "hybrid") >= 2 * (3.0 - 0.5) - 1e-9


def test_the_pipeline_pages_default_jobs_fit_the_budget_and_barrier_counts_per_variant():
    for name in PIPELINES:
        w = pipeline(name)
        side_by_side = budget.estimate_runs(w, [{"mode": m, "barrier": b} for m in MODES for b in (False, True)])
        assert side_by_side.runs == 2 * len(MODES) and side_by_side.checked() <= budget.JOB_LIMIT_S, name
    w = pipeline("research_agent")
    assert budget.estimate_runs(w, [{"mode": "asyncio", "barrier": True}]).seconds == \
        budget.estimate_runs(w, [{"mode": "asyncio"}], barrier=True).seconds == budget.run_seconds(w, "asyncio",
                                                                                                 barrier=True)


@pytest.mark.parametrize("barrier", [False, True])
def test_real_pipeline_runs_finish_within_their_estimates(barrier):
    w = pipeline("research_agent", {"k": 3})
    for report in agent_core.run_many(w, [{"mode": m, "barrier": barrier} for m in MODES]):
        # the wall against the part of the estimate the graph decides (set-up, such as the Dask cluster's start on a
        # loaded machine, is the flat workloads' concern: tests/test_queue.py)
        bound = budget.MARGIN * budget.mode_wall(w, report.mode, barrier=barrier)
        assert report.wall_s <= bound, (report.mode, report.wall_s, bound)
