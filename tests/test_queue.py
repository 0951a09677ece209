"""The measurement queue (ui/measure.py) and the page-job budget (agent_core/budget.py).

The queue is driven with real threads and events; a session "ends" through the liveness predicate the queue
is given (in the app: Streamlit's ``Runtime.is_active_session``; the browser tests close real tabs).
"""
from __future__ import annotations

import os
import threading

import pytest
from streamlit.testing.v1 import AppTest

import agent_core
from agent_core import budget
from agent_core.catalog import CATALOG
from agent_core.modes import MODES
from agent_core.presets import PRESETS
from agent_core.scaling import Progress
from agent_core.workload import MAX_RUN_S, Workload
from ui import measure
from ui.measure import JobStopped, MeasureQueue, QueueFull

from .conftest import ROOT

# -- the budget --------------------------------------------------------------------------------------------------

BASE = {tool: 2 for tool in CATALOG}     # every built-in tool: one added to the catalog is covered at once


def seconds(counts=None, params=None, mode="sequential", faults=None, timeout_s=30.0) -> float:
    return budget.run_seconds(Workload.of(counts or BASE, params, faults), mode, timeout_s=timeout_s)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tool", list(BASE))
def test_one_more_call_of_any_tool_lengthens_the_estimate_in_every_mode(tool, mode):
    assert seconds({**BASE, tool: 3}, mode=mode) > seconds(BASE, mode=mode)


@pytest.mark.parametrize("tool, name, low, high", [
    ("llm_call", "ttft_ms", 100, 2000), ("llm_call", "tokens", 10, 400), ("llm_call", "tokens_per_s", 1000.0, 50.0),
    ("web_search", "latency_ms", 100, 2000), ("vector_lookup", "latency_ms", 100, 2000),
    ("legacy_sdk", "latency_ms", 100, 2000), ("memory_write", "rows", 100, 100_000),
    ("analysis", "work", 10_000, 1_000_000), ("sandboxed_script", "size", 1000, 200_000),
    ("fetch_page", "latency_ms", 100, 2000), ("fetch_page", "words", 100, 20_000),
    ("chunk_text", "words", 1000, 100_000), ("chunk_text", "overlap", 0, 40),
    ("rerank", "candidates", 10, 4000), ("rerank", "words_per", 20, 400)])
def test_each_parameter_that_sets_a_calls_length_lengthens_the_estimate(tool, name, low, high):
    assert seconds(params={tool: {name: high}}) > seconds(params={tool: {name: low}})


def test_hangs_and_spins_count_at_their_bound():
    plain = {"web_search": 2, "legacy_sdk": 1}
    hang = {"legacy_sdk": ("hang", 30.0)}
    # sequential cannot interrupt the call: the whole hang; threads abandon it at its timeout
    assert seconds(plain, mode="sequential", faults=hang, timeout_s=5) - seconds(plain, mode="sequential") >= 30 - 1e-9
    added = seconds(plain, mode="threads", faults=hang, timeout_s=5) - seconds(plain, mode="threads")
    assert 5 <= added < 6
    spin = {"legacy_sdk": ("spin", 30.0)}       # an abandoned spinning thread keeps the GIL busy: all of it
    assert seconds(plain, mode="threads", faults=spin, timeout_s=5) - seconds(plain, mode="threads") >= 30 - 1e-9


def test_a_job_adds_up_its_runs_and_the_pages_choices_count():
    w = Workload.of(PRESETS["agent_turn"].counts)
    every = budget.estimate_compare(w, MODES)
    assert every.runs == len(MODES) and every.seconds == pytest.approx(sum(budget.run_seconds(w, m) for m in MODES))
    two = budget.estimate_runs(w, [{"mode": "threads"}, {"mode": "hybrid"}])
    assert two.runs == 2 and two.seconds < every.seconds
    assert budget.estimate_compare(w, ["sequential"]).runs == 1, "the baseline is not run twice"
    assert budget.estimate_sweep(120).seconds > budget.estimate_sweep(45).seconds >= 45


def test_a_run_is_held_to_the_engines_bound_on_a_run():
    huge = Workload.of({"web_search": 1000}, {"web_search": {"latency_ms": 10_000}})
    bound = MAX_RUN_S + budget.MARGIN * (10 + budget.NET_CALL_S + budget.AWAIT_CPU_S) + budget.RUN_SETUP_S
    assert MAX_RUN_S < budget.run_seconds(huge, "sequential") <= bound


def test_every_mode_of_a_maximal_workload_is_refused_with_the_estimate_and_what_to_lower():
    w = Workload.of({"web_search": 1000}, {"web_search": {"latency_ms": 2000}})
    with pytest.raises(agent_core.BadInput) as refused:
        budget.estimate_compare(w, MODES).checked()
    message = str(refused.value)
    assert "\n" not in message and "estimated at up to" in message and "300 s" in message
    assert "lower web_search's calls (1000) or its latency" in message


def test_what_the_pages_offer_by_default_fits_the_budget():
    for preset in PRESETS.values():
        w = Workload.of(preset.counts, preset.params)
        assert budget.estimate_compare(w, MODES).checked() <= budget.JOB_LIMIT_S, preset.key
    failures = Workload.of({**PRESETS["agent_turn"].counts, "sandboxed_script": 1}, None,
                           {"sandboxed_script": ("hang", 30.0)})
    assert budget.estimate_runs(failures, [{"mode": m} for m in MODES], timeout_s=10.0).checked()
    assert budget.estimate_sweep(120).checked()


def test_real_runs_finish_within_their_estimates():
    w = Workload.of({"llm_call": 2, "web_search": 3, "memory_write": 2, "analysis": 2, "sandboxed_script": 1},
                    {"web_search": {"latency_ms": 100}, "llm_call": {"ttft_ms": 100, "tokens": 16},
                     "analysis": {"work": 100_000}, "memory_write": {"rows": 20_000}})
    for report in agent_core.compare(w, MODES):
        took = report.wall_s + report.setup_s
        assert took <= budget.run_seconds(w, report.mode), (report.mode, took)


# -- the queue ---------------------------------------------------------------------------------------------------

class Sessions:
    """Which sessions are connected: the queue asks, the test ends them."""

    def __init__(self) -> None:
        self.gone: set[str] = set()

    def alive(self, session_id: str) -> bool:
        return session_id not in self.gone


def blocker(started: threading.Event, release: threading.Event, ran: list | None = None):
    def fn(emit):
        if ran is not None:
            ran.append(1)
        started.set()
        assert release.wait(30)
        return "done"
    return fn


def test_one_job_measures_at_a_time_in_the_order_asked():
    q = MeasureQueue()
    active, peak, order, lock = 0, 0, [], threading.Lock()

    def job(name):
        def fn(emit):
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
                order.append(name)
            report = agent_core.run("analysis:1", "sequential", params={"analysis": {"work": 20_000}})
            with lock:
                active -= 1
            return name if report.ok else None
        return fn

    jobs = [q.submit((f"s{i}", "play"), f"s{i}", "x", 1, 1.0, job(i)) for i in range(5)]
    for j in jobs:
        assert j.finished.wait(10)
    assert peak == 1 and order == [0, 1, 2, 3, 4] and [j.result for j in jobs] == order
    assert not q.busy() and q.status() == (0, 0, 5)


def test_asking_again_for_the_same_session_and_page_never_starts_a_second_job():
    q, started, release, ran = MeasureQueue(), threading.Event(), threading.Event(), []
    first = q.submit(("s", "play"), "s", "x", 1, 1.0, blocker(started, release, ran))
    assert started.wait(10)
    again = q.submit(("s", "play"), "s", "x", 1, 1.0, blocker(started, release, ran))
    assert again is first and q.active(("s", "play")) is first
    release.set()
    assert first.finished.wait(10) and ran == [1] and q.status() == (0, 0, 1)


def test_a_failing_job_still_hands_the_machine_on():
    q = MeasureQueue()

    def boom(emit):
        raise RuntimeError("engine bug")

    bad = q.submit(("a", "play"), "a", "x", 1, 1.0, boom)
    good = q.submit(("b", "play"), "b", "x", 1, 1.0, lambda emit: "ok")
    assert good.finished.wait(10) and good.result == "ok"
    assert bad.state == "failed" and str(bad.error) == "engine bug"


def test_a_waiting_job_whose_session_ended_is_dropped_and_never_runs():
    sessions = Sessions()
    q = MeasureQueue(alive=sessions.alive, grace_s=0.3)
    started, release, ran = threading.Event(), threading.Event(), []
    a = q.submit(("a", "play"), "a", "x", 1, 1.0, blocker(started, release))
    assert started.wait(10)
    b = q.submit(("b", "play"), "b", "x", 1, 1.0, blocker(threading.Event(), release, ran))
    sessions.gone.add("b")                      # B's tab closes while it waits
    assert b.finished.wait(5) and b.state == "dropped" and "closed" in b.why_dropped
    c = q.submit(("c", "play"), "c", "x", 1, 1.0, lambda emit: "c")
    assert q.view(c).place == 1, "the dropped job no longer stands ahead"
    release.set()
    assert c.finished.wait(10) and c.result == "c" and a.result == "done" and ran == []


def test_a_waiter_sees_its_place_and_when_it_should_start():
    q, started, release = MeasureQueue(), threading.Event(), threading.Event()
    q.submit(("a", "p"), "a", "x", 1, 40.0, blocker(started, release))
    assert started.wait(10)
    q.submit(("b", "p"), "b", "x", 1, 25.0, blocker(threading.Event(), release))
    c = q.submit(("c", "p"), "c", "x", 1, 10.0, blocker(threading.Event(), release))
    view = q.view(c)
    assert view.state == "waiting" and view.place == 2
    assert 60 < view.ahead_s <= 65, "what is left of A's estimate, then B's"
    release.set()


def test_nobody_joins_a_queue_longer_than_the_wait_a_visitor_may_be_asked_for():
    q, started, release = MeasureQueue(max_wait_s=150), threading.Event(), threading.Event()
    q.submit(("a", "p"), "a", "x", 1, 100.0, blocker(started, release))
    assert started.wait(10)
    q.submit(("b", "p"), "b", "x", 1, 100.0, blocker(threading.Event(), release))
    with pytest.raises(QueueFull, match=r"estimated at 200 s, over the 150 s .* try again in about 50 s"):
        q.submit(("c", "p"), "c", "x", 1, 10.0, lambda emit: None)
    release.set()


def test_leaving_the_queue_gives_the_place_up():
    q, started, release, ran = MeasureQueue(), threading.Event(), threading.Event(), []
    q.submit(("a", "p"), "a", "x", 1, 1.0, blocker(started, release))
    assert started.wait(10)
    b = q.submit(("b", "p"), "b", "x", 1, 1.0, blocker(threading.Event(), release, ran))
    q.cancel(("b", "p"))
    assert b.finished.wait(5) and b.state == "dropped" and b.why_dropped == "you left the queue"
    release.set()
    assert ran == []


def stepped(steps: int, go: threading.Semaphore, done: list, began: threading.Event | None = None):
    """A job of ``steps`` runs; each waits for ``go``, then reports a point between runs (``began``: it runs)."""
    def fn(emit):
        if began is not None:
            began.set()
        for i in range(steps):
            assert go.acquire(timeout=30)
            done.append(i)
            emit(Progress(i + 1, steps, f"run {i + 1}"))
        return "all"
    return fn


def test_a_job_whose_session_ended_stops_between_its_runs():
    sessions = Sessions()
    q, go, done = MeasureQueue(alive=sessions.alive, grace_s=0.0), threading.Semaphore(0), []
    began = threading.Event()
    job = q.submit(("a", "p"), "a", "x", 1, 100.0, stepped(3, go, done, began))
    assert began.wait(10)
    sessions.gone.add("a")                      # the tab closes during the first run
    go.release(3)
    assert job.finished.wait(10) and job.state == "failed" and isinstance(job.error, JobStopped)
    assert done == [0], "the run under way finished; no other one started"
    assert not q.busy()


def test_a_job_past_its_estimate_stops_between_runs_only_if_someone_waits():
    q, go, done = MeasureQueue(), threading.Semaphore(3), []
    alone = q.submit(("a", "p"), "a", "x", 1, 0.0, stepped(3, go, done))     # nobody waits: it may overrun
    assert alone.finished.wait(10) and alone.result == "all"
    go, done = threading.Semaphore(0), []
    late = q.submit(("a", "p"), "a", "x", 1, 0.0, stepped(3, go, done))
    behind = q.submit(("b", "p"), "b", "x", 1, 1.0, lambda emit: "b")
    go.release(3)
    assert late.finished.wait(10) and isinstance(late.error, JobStopped) and done == [0]
    assert str(late.error) == ("stopped part way: it took longer than its estimate of 0 s while other visitors "
                               "were waiting; try a smaller workload")
    assert behind.finished.wait(10) and behind.result == "b"


# -- the pages -----------------------------------------------------------------------------------------------------

def test_a_page_job_over_the_budget_is_refused_before_it_starts_in_one_line():
    at = AppTest.from_file(os.path.join(ROOT, "app.py"), default_timeout=60).run()
    at.switch_page("pages/1_Compare.py").run()
    for key in [k for k in at.session_state if k.startswith("compare.count.")]:
        at.session_state[key] = 0
    at.session_state["compare.count.web_search"] = 1000
    at.session_state["compare.latency"] = 2000
    measured = measure.QUEUE.status()[2]
    at.button(key="compare.run").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert at.error[0].value.startswith("this job is estimated at up to ")
    assert at.error[0].value.endswith("s, over the 300 s a page job may take: lower web_search's calls (1000) or "
                                      "its latency")
    assert measure.QUEUE.status()[2] == measured, "nothing was measured"
    assert at.button(key="compare.run").disabled is False
