"""Sweeps measure real runs, stay within their budget, and find the knees the modes really have."""
from __future__ import annotations

import time

import pytest

from agent_core import BadInput, scaling
from agent_core.modes import BASELINE, MODES, get_mode, uses_workers
from agent_core.records import RunReport, TaskRecord
from agent_core.scaling import Point
from agent_core.workload import Workload


def test_a_small_sweep_measures_every_point_against_its_ideal():
    seen = []
    # ~8 s here; a budget far above it, so that a loaded shared machine cannot end a series early (the sweep
    # predicts each column from the last one, set-up included: a new pool's start under load counts)
    points = scaling.sweep(["io", "cpu"], ["sequential", "asyncio", "process-pool"], [1, 4], workers=[1, 4],
                           workers_n=4, budget_s=180, latency_ms=50, work=5_000, on_point=seen.append)
    assert len(seen) == len(points) and seen[-1].done == seen[-1].total
    measured = [p for p in points if p.wall_s is not None]
    assert all(p.ok for p in measured) and not any(p.skipped for p in measured)
    io4 = {p.mode: p for p in points if p.workload == "io" and p.axis == "n" and p.n == 4}
    assert io4["asyncio"].stretch < 2.0, "four awaited calls take about one call's time"
    assert io4["sequential"].stretch > 3.0, "…and one after another about four"
    by_workers = {p.workers: p for p in points if p.workload == "io" and p.axis == "workers" and p.mode == "asyncio"}
    assert by_workers[1].wall_s > 2.5 * by_workers[4].wall_s, "an asyncio cap of 1 serialises the calls"


def test_the_sweep_skips_what_would_break_its_budget_and_says_so():
    started = time.monotonic()
    points = scaling.sweep(["io"], ["sequential"], [1, 10, 100, 1000], budget_s=2, latency_ms=100)
    assert time.monotonic() - started < 6
    skipped = [p for p in points if p.skipped]
    assert skipped and all("over the time budget" in p.skipped for p in skipped)
    assert [p.n for p in points if p.wall_s is not None][0] == 1


def test_a_knee_is_where_the_stretch_jumps_and_it_names_the_cause():
    pts = [Point("io", "threads", n, 32, wall, 0.1) for n, wall in ((10, 0.11), (30, 0.12), (100, 0.45), (300, 1.1))]
    (knee,) = scaling.knees(pts)
    assert knee["n"] == 100 and knee["cause"].startswith("pool saturation") and "32 workers" in knee["cause"]
    assert any("threads bent at 100 calls" in s for s in scaling.explain(pts))


def test_sweep_bounds_are_checked():
    with pytest.raises(BadInput, match="budget_s=1000 is out of range"):
        scaling.sweep(budget_s=1000)
    with pytest.raises(BadInput, match="unknown mode 'warp'"):
        scaling.sweep(modes=["warp"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["io", "cpu"])
def test_every_modes_knee_names_the_cause_its_module_gives(mode, kind):
    pts = [Point(kind, mode, n, 4, wall, 0.1) for n, wall in ((10, 0.11), (30, 0.5))]
    (knee,) = scaling.knees(pts)
    assert knee["cause"] == get_mode(mode).CAUSES[kind].format(workers=4)
    assert any(f"{mode} bent at 30 calls" in s for s in scaling.explain(pts))


def fake_run(refuse_over: int | None = None):
    """api.run without running: each call takes 10 ms, spread over the workers; more than ``refuse_over``
    workers is refused, as a Dask cluster smaller than asked refuses them."""
    asked = []

    def run(spec, mode, params=None, workers=None, **_):
        tool, n = spec.split(":")
        asked.append((mode, int(n), workers))
        if refuse_over is not None and workers is not None and workers > refuse_over:
            raise BadInput(f"workers={workers} is more than the cluster's {refuse_over} workers")
        tasks = [TaskRecord(f"{tool}#{i}", tool, "io", "w", 0, 0.01, 0.001, "ok") for i in range(int(n))]
        return RunReport(mode, 0.01 * int(n) / (workers or 1), tasks, workers=workers)
    return run, asked


def test_only_modes_whose_workers_matter_for_a_kind_are_swept_over_workers_for_it(monkeypatch):
    run, asked = fake_run()
    monkeypatch.setattr(scaling.api, "run", run)
    points = scaling.sweep(["io", "cpu"], list(MODES), [1], workers=[1, 2], workers_n=4, budget_s=60)
    for kind, tool in (("io", "web_search"), ("cpu", "analysis")):
        swept = {p.mode for p in points if p.axis == "workers" and p.workload == kind}
        assert swept == {m for m in MODES if scaling.workers_matter(m, kind, Workload.parse(f"{tool}:4"))}
        assert swept <= {m for m in MODES if uses_workers(m, Workload.parse(f"{tool}:4"))}
        assert BASELINE not in swept and "threads" in swept and "process-pool" in swept
    io = {p.mode for p in points if p.axis == "workers" and p.workload == "io"}
    cpu = {p.mode for p in points if p.axis == "workers" and p.workload == "cpu"}
    assert "asyncio" in io and "asyncio" not in cpu, "a cap on calls in flight cannot overlap CPU work on the loop"
    assert {m for m, _, w in asked if w is not None} == io | cpu


@pytest.mark.parametrize("kind", ["io", "cpu"])
def test_a_mode_takes_part_in_a_kinds_workers_sweep_when_its_plan_sizes_the_lane_that_kind_goes_to(kind):
    tool = {"io": "web_search", "cpu": "analysis"}[kind]
    workload = Workload.parse(f"{tool}:8")
    for mode in MODES:
        module = get_mode(mode)
        lane = module.ROUTES[kind]
        one, most = module.plan(workload, 1), module.plan(workload, module.MAX_WORKERS)
        sized = one.sizes.get(lane) != most.sizes.get(lane)
        capped = lane == "loop" and kind == "io" and one.limit != most.limit
        assert scaling.workers_matter(mode, kind, workload) == (module.MAX_WORKERS > 1 and (sized or capped)), mode


def test_the_workers_sweep_runs_the_kinds_own_axis_within_each_modes_most(monkeypatch):
    run, asked = fake_run()
    monkeypatch.setattr(scaling.api, "run", run)
    monkeypatch.setattr(scaling, "usable_cores", lambda: 2)
    points = scaling.sweep(["io", "cpu"], ["threads", "process-pool"], [1], workers=True, workers_n=8, budget_s=60)
    for kind in ("io", "cpu"):
        for mode in ("threads", "process-pool"):
            tried = sorted(p.workers for p in points if p.axis == "workers" and p.workload == kind and p.mode == mode)
            assert tried == [w for w in scaling.workers_axis(kind) if w <= get_mode(mode).MAX_WORKERS], (kind, mode)
    assert max(p.workers for p in points if p.axis == "workers" and p.workload == "cpu") == 4, "2 x 2 usable cores"
    assert max(p.workers for p in points if p.axis == "workers" and p.workload == "io") == 64


def slow_run(per_call_s: float):
    """api.run without running: every mode takes ``per_call_s`` per call, one after another; the time passes on a
    fake clock the sweep reads, so the budget is spent without waiting."""
    now = [0.0]

    def run(spec, mode, params=None, workers=None, **_):
        tool, n = spec.split(":")
        wall = per_call_s * int(n)
        now[0] += wall
        tasks = [TaskRecord(f"{tool}#{i}", tool, "io", "w", 0, per_call_s, 0.0, "ok") for i in range(int(n))]
        return RunReport(mode, wall, tasks, workers=workers)
    return run, lambda: now[0]


def test_a_sweep_cut_short_by_its_budget_leaves_every_line_complete_over_the_same_sizes(monkeypatch):
    run, clock = slow_run(0.05)
    monkeypatch.setattr(scaling.api, "run", run)
    monkeypatch.setattr(scaling.time, "monotonic", clock)
    modes = ["sequential", "threads", "hybrid"]
    points = scaling.sweep(["io"], modes, [1, 3, 10, 30, 100, 300, 1000], budget_s=12)
    measured = {m: sorted(p.n for p in points if p.mode == m and p.wall_s is not None) for m in modes}
    assert len({tuple(v) for v in measured.values()}) == 1, measured
    sizes = measured["threads"]
    assert sizes == [1, 3, 10, 30], "the budget chose how far the sizes go, and every mode went as far"
    assert clock() <= 12, "the sweep stayed within its budget"
    cut = [p for p in points if p.wall_s is None]
    assert {p.n for p in cut} == {100, 300, 1000} and {p.mode for p in cut} == set(modes)
    assert all("over the time budget" in p.skipped for p in cut)
    said = scaling.explain(points)
    assert any(s.startswith("io: the size sweep stopped at 30 calls, for every mode: 100 calls in every mode would")
               for s in said), said


def test_a_point_the_mode_refuses_is_skipped_and_the_smaller_ones_still_run(monkeypatch):
    run, _ = fake_run(refuse_over=2)
    monkeypatch.setattr(scaling.api, "run", run)
    points = scaling.sweep(["io"], ["threads"], [1], workers=[1, 2, 4, 8], workers_n=8, budget_s=60)
    by_workers = {p.workers: p for p in points if p.axis == "workers"}
    assert all(by_workers[w].skipped.startswith("not allowed: workers=") for w in (8, 4))
    assert by_workers[2].wall_s is not None and by_workers[1].wall_s is not None
    said = scaling.explain(points)
    assert "io: threads could not run with 4 workers or more here." in said
    assert not any("time budget" in s for s in said), "a refusal is not a budget skip"
