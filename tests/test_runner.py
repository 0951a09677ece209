"""The contract every mode shares, and the behaviour that tells the modes apart."""
from __future__ import annotations

import asyncio
import itertools
import re
import threading

import pytest

import agent_core
from agent_core.errors import BadInput
from agent_core.machine import default_processes
from agent_core.modes import MODES, has_loop

from .conftest import call_children

FAST = {"web_search": {"latency_ms": 120}, "analysis": {"work": 20_000}, "memory_write": {"rows": 200},
        "sandboxed_script": {"size": 1000}, "llm_call": {"ttft_ms": 80, "tokens": 8, "tokens_per_s": 400},
        "vector_lookup": {"latency_ms": 60}, "legacy_sdk": {"latency_ms": 120}}
MIXED = "web_search:3,vector_lookup:1,llm_call:1,memory_write:2,legacy_sdk:1,analysis:2,sandboxed_script:1"


@pytest.fixture(scope="module")
def mixed_reports() -> dict[str, agent_core.RunReport]:
    return {mode: agent_core.run(MIXED, mode, params=FAST) for mode in MODES}


@pytest.mark.parametrize("mode", MODES)
def test_every_call_gets_exactly_one_ok_record_within_the_run(mixed_reports, mode):
    r = mixed_reports[mode]
    expected = [f"{t}#{k}" for t, n in agent_core.Workload.parse(MIXED).counts.items() for k in range(1, n + 1)]
    assert [t.id for t in r.tasks] == expected
    assert r.mode == mode
    for t in r.tasks:
        assert t.status == "ok", (t.id, t.error)
        assert 0 <= t.start_s <= t.end_s <= r.wall_s + 1e-9
        assert t.cpu_s >= 0
    assert r.wall_s > 0 and r.sum_task_s > 0


@pytest.mark.parametrize("mode", MODES)
def test_records_carry_the_details_of_the_real_work(mixed_reports, mode):
    by_tool = {t.tool: t.detail for t in mixed_reports[mode].tasks}
    assert by_tool["web_search"]["results"] == 5 and by_tool["web_search"]["bytes"] > 0
    assert by_tool["llm_call"]["tokens"] == 8 and by_tool["llm_call"]["ttft_ms"] >= 60
    assert by_tool["memory_write"]["rows"] == 200
    assert by_tool["analysis"]["words"] == 20_000
    assert by_tool["sandboxed_script"]["words"] == 1000


def lanes(report, kind=None):
    return [t.worker for t in report.tasks if kind is None or t.kind == kind]


def test_sequential_runs_in_the_calling_thread_one_call_at_a_time(mixed_reports):
    r = mixed_reports["sequential"]
    assert set(lanes(r)) == {threading.current_thread().name}, "even the isolated tool: nothing isolates it here"
    assert r.peak_concurrency == 1


def test_asyncio_runs_everything_on_the_event_loop(mixed_reports):
    assert set(lanes(mixed_reports["asyncio"])) == {"event-loop"}


def test_threads_runs_every_in_process_call_on_pool_threads(mixed_reports):
    r = mixed_reports["threads"]
    assert all(re.fullmatch(r"thread-\d+", t.worker) for t in r.tasks)
    assert len(set(lanes(r))) > 1


def test_process_pool_runs_calls_in_worker_processes(mixed_reports):
    r = mixed_reports["process-pool"]
    pids = {t.worker for t in r.tasks}
    assert all(re.fullmatch(r"pid \d+", w) for w in pids)
    assert len(pids) <= default_processes(), "one worker per usable core by default"


def test_subprocess_gives_every_call_a_process_of_its_own(mixed_reports):
    r = mixed_reports["subprocess"]
    assert all(re.fullmatch(r"pid \d+", w) for w in lanes(r))
    assert len(set(lanes(r))) == len(r.tasks)


def test_hybrid_sends_each_kind_to_its_primitive(mixed_reports):
    r = mixed_reports["hybrid"]
    assert set(lanes(r, "io")) == {"event-loop"}
    assert all(re.fullmatch(r"thread-\d+", w) for w in lanes(r, "blocking"))
    assert all(re.fullmatch(r"pid \d+", w) for w in lanes(r, "cpu") + lanes(r, "isolated"))


@pytest.mark.parametrize("mode", MODES)
def test_loop_lag_is_reported_only_where_the_loop_runs_in_this_process(mixed_reports, mode):
    r = mixed_reports[mode]
    assert (r.loop_lag_max_ms is not None) == has_loop(mode), "the mode's LOOP says whether it has a loop here"
    if has_loop(mode):
        assert r.loop_lag, "the heartbeat sampled the loop"


def test_no_call_child_outlives_the_runs(mixed_reports):
    assert call_children() == {}


# -- behaviour that tells the modes apart --------------------------------------------------------------------

def test_sequential_wall_is_about_the_sum_of_its_calls():
    r = agent_core.run("web_search:4", "sequential", params=FAST)
    assert r.wall_s >= 0.9 * r.sum_task_s
    assert r.speedup <= 1.0 + 1e-6


@pytest.mark.parametrize("mode", ["asyncio", "threads", "hybrid"])
def test_io_calls_overlap_in_the_modes_made_for_waiting(mode):
    r = agent_core.run("web_search:8", mode, params={"web_search": {"latency_ms": 200}})
    assert r.wall_s <= 0.5 * r.sum_task_s
    assert r.peak_concurrency >= 6


def test_gil_serialises_threads_while_the_process_pool_runs_cpu_work_in_parallel():
    seq, threads, pool = agent_core.compare("analysis:4", ["threads", "process-pool"])
    assert threads.true_speedup <= 1.25, "pure-Python CPU work gains nothing from threads"
    assert threads.speedup >= 2.0, "…though each thread's call looks longer, inflating the apparent speedup"
    assert threads.sum_cpu_s <= 0.5 * threads.sum_task_s, "CPU time tells the truth about the inflated calls"
    assert pool.wall_s <= 0.8 * threads.wall_s, "two cores beat one GIL"


def test_a_legacy_sdk_call_freezes_the_asyncio_loop_but_not_the_hybrid_one():
    latency = 300
    params = {"legacy_sdk": {"latency_ms": latency, "jitter": 0}, "web_search": {"latency_ms": 100}}
    naive = agent_core.run("legacy_sdk:2,web_search:2", "asyncio", params=params)
    hybrid = agent_core.run("legacy_sdk:2,web_search:2", "hybrid", params=params)
    assert naive.loop_lag_max_ms >= 0.8 * latency, "the loop stood still for the whole blocking call"
    assert hybrid.loop_lag_max_ms <= 0.2 * latency, "in a thread, the same call leaves the loop free"


@pytest.mark.parametrize("mode, workers", [("threads", 3), ("asyncio", 2), ("subprocess", 2), ("process-pool", 1)])
def test_workers_caps_how_many_calls_run_at_once(mode, workers):
    r = agent_core.run("web_search:6", mode, workers=workers, params={"web_search": {"latency_ms": 150}})
    assert r.peak_concurrency <= workers
    assert r.workers == workers


def test_the_hybrid_thread_pool_is_sized_by_the_engine_not_asyncio_defaults():
    r = agent_core.run("legacy_sdk:12", "hybrid", params={"legacy_sdk": {"latency_ms": 200}})
    assert r.workers == 12 and r.peak_concurrency == 12, "asyncio's default executor would cap this at 6"


def test_the_runner_stamps_every_record_with_the_injected_clock():
    ticks = itertools.count()
    clock = lambda: float(next(ticks))   # every reading advances the clock by one second
    r = agent_core.run("analysis:2", "sequential", params=FAST, clock=clock)
    (a, b) = r.tasks
    stamps = [a.start_s, a.end_s, b.start_s, b.end_s, r.wall_s]
    assert all(s == int(s) for s in stamps), "every stamp is a reading of the injected clock"
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    assert a.duration_s == b.duration_s == 1.0, "a call's start and end are consecutive readings around it"


def test_compare_runs_sequential_first_and_gives_every_mode_a_true_speedup():
    runs = agent_core.compare("web_search:3", ["hybrid", "threads"], params=FAST)
    assert [r.mode for r in runs] == ["sequential", "hybrid", "threads"]
    assert runs[0].true_speedup == 1.0
    assert all(r.baseline_wall_s == runs[0].wall_s for r in runs)


def test_bad_input_raises_before_anything_runs():
    with pytest.raises(BadInput, match="unknown mode 'fast'"):
        agent_core.run("web_search:1", "fast")
    with pytest.raises(BadInput, match="workers=99 is out of range for process-pool: allowed 1..16"):
        agent_core.run("web_search:1", "process-pool", workers=99)


def test_the_async_twin_measures_the_callers_own_loop():
    async def main():
        return await agent_core.arun("web_search:3", "asyncio", params=FAST)

    r = asyncio.run(main())
    assert r.ok and r.loop_lag is not None


def test_run_refuses_to_start_a_second_loop_inside_a_running_one():
    async def main():
        agent_core.run("web_search:1", "asyncio")

    with pytest.raises(RuntimeError, match="use `await agent_core.arun"):
        asyncio.run(main())


def test_on_record_sees_every_call_as_it_finishes():
    seen = []
    r = agent_core.run("web_search:3,analysis:1", "threads", params=FAST, on_record=seen.append)
    assert sorted(t.id for t in seen) == sorted(t.id for t in r.tasks)


@pytest.mark.parametrize("mode", ["hybrid", "threads"])
def test_a_run_that_cannot_start_tells_its_own_error_not_what_cleaning_up_after_it_tripped_on(mode, monkeypatch):
    from agent_core import backend
    from agent_core.errors import BackendError

    def down():
        raise BackendError("the tool backend did not start: port in use")

    monkeypatch.setattr(backend, "ensure_backend", down)
    with pytest.raises(BackendError, match="port in use"):       # not an AttributeError of a lane never prepared
        agent_core.run("legacy_sdk:1,analysis:1", mode, params={"analysis": {"work": 1000}})
    monkeypatch.undo()
    assert agent_core.run("legacy_sdk:1", mode, params={"legacy_sdk": {"latency_ms": 10}}).ok, "the next run is fine"
