"""Sweeps measure real runs, stay within their budget, and find the knees the modes really have."""
from __future__ import annotations

import time

import pytest

from agent_core import BadInput, scaling
from agent_core.scaling import Point


def test_a_small_sweep_measures_every_point_against_its_ideal():
    seen = []
    points = scaling.sweep(["io", "cpu"], ["sequential", "asyncio", "process-pool"], [1, 4], workers=[1, 4],
                           workers_n=4, budget_s=60, latency_ms=50, work=5_000, on_point=seen.append)
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
