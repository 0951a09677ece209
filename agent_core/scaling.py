"""Scaling sweeps: where each mode bends as the number of calls (or of workers) grows.

Two workloads: ``io`` (web searches of a fixed latency: the ideal wall is one call's time, however many
there are) and ``cpu`` (pure-Python analysis calls: the ideal wall is their CPU time spread over every
core). For each mode and size, the sweep measures a real run and its *overhead per call*: how far the
wall is from that ideal, divided by the number of calls. A sweep is bounded in total time: a point
whose predicted wall would break the budget is skipped, and says so; so is a point the mode refuses (more
workers than a Dask cluster has).

Everything about a mode comes from its module: which modes take part in the workers sweep (those whose
plan changes with ``workers``: :func:`agent_core.modes.uses_workers`), and the cause a knee names (its
``CAUSES``).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from . import api
from . import modes as registry
from .catalog import CATALOG
from .errors import BadInput
from .machine import usable_cores
from .modes import BASELINE, get_mode, uses_workers
from .workload import Workload

SIZES = (1, 3, 10, 30, 100, 300, 1000)
WORKERS = (1, 2, 4, 8, 16, 32)
POINT_CAP_S = 5.0           # no single point may be predicted to take longer than this
MAX_BUDGET_S = 300.0
KNEE = 1.6                  # wall/ideal growing this much between neighbouring points marks a knee
REFUSED = "not allowed"     # how a point the mode refused says so


@dataclass
class Point:
    workload: str           # "io" or "cpu"
    mode: str
    n: int
    workers: int | None     # what the mode used (its default when not swept)
    wall_s: float | None    # None: skipped
    ideal_s: float
    sum_cpu_s: float | None = None
    ok: bool = True
    skipped: str | None = None
    axis: str = "n"         # what the series varies: "n" (calls) or "workers"

    @property
    def overhead_per_call_ms(self) -> float | None:
        """How much later than the ideal the run finished, per call."""
        if self.wall_s is None:
            return None
        return max(0.0, self.wall_s - self.ideal_s) / self.n * 1000

    @property
    def stretch(self) -> float | None:
        """Wall over ideal: 1 is the physical limit."""
        return None if self.wall_s is None else self.wall_s / self.ideal_s

    def to_dict(self) -> dict:
        return {**asdict(self), "overhead_per_call_ms": self.overhead_per_call_ms, "stretch": self.stretch}


@dataclass
class Progress:
    """Handed to ``on_point`` as the sweep goes: ``fraction`` of the budget's points done, and what just ran."""

    done: int
    total: int
    text: str


def _workload(kind: str, latency_ms: int, work: int) -> tuple[str, dict]:
    if kind == "io":
        return "web_search", {"web_search": {"latency_ms": latency_ms, "jitter": 0}}
    if kind == "cpu":
        return "analysis", {"analysis": {"work": work}}
    raise BadInput(f"workload {kind!r} is not allowed: io or cpu")


def _calibrate(kind: str, tool: str, params: dict) -> float:
    """The ideal's unit, measured now: one io call's wall alone, or one cpu call's CPU time."""
    one = [api.run(f"{tool}:1", BASELINE, params=params) for _ in range(3)]
    if kind == "io":
        return min(r.wall_s for r in one)
    return min(r.sum_cpu_s for r in one)


def _ideal(kind: str, unit: float, n: int) -> float:
    return unit if kind == "io" else unit * n / usable_cores()


def sweep(kinds: Iterable[str] = ("io", "cpu"), modes: Iterable[str] | None = None, sizes: Iterable[int] = SIZES,
          workers: Iterable[int] | None = None, workers_n: int = 32, budget_s: float = 50.0,
          latency_ms: int = 100, work: int = 20_000,
          on_point: Callable[[Progress], None] | None = None) -> list[Point]:
    """Measure every (workload, mode, size) point, and with ``workers`` also (workload, mode, workers) at
    ``workers_n`` calls, within ``budget_s`` seconds in all (at most 300 s). Each series (a workload's
    size sweep, its workers sweep, per mode) gets an equal share of the budget, so a slow mode cannot
    starve a fast one; a point predicted to take longer than its share allows, or than ``POINT_CAP_S``,
    is skipped and says why."""
    kinds, sizes = list(kinds), sorted(set(sizes))
    modes = list(registry.MODES if modes is None else modes)
    if not 1.0 <= budget_s <= MAX_BUDGET_S:
        raise BadInput(f"budget_s={budget_s} is out of range: allowed 1..{MAX_BUDGET_S:g} s")
    for mode in modes:
        get_mode(mode)
    started = time.monotonic()
    points: list[Point] = []
    plan = []
    for kind in kinds:
        tool, _ = _workload(kind, latency_ms, work)
        cap = CATALOG[tool].max_calls
        plan += [(kind, mode, n, None) for n in sizes if n <= cap for mode in modes]
        if workers:                          # most workers first: each point then predicts the next
            n = min(workers_n, cap)
            swept = Workload.parse(f"{tool}:{n}")
            plan += [(kind, mode, n, w) for mode in modes if uses_workers(mode, swept)
                     for w in sorted(set(workers), reverse=True) if w <= get_mode(mode).MAX_WORKERS]
    units = {kind: _calibrate(kind, *_workload(kind, latency_ms, work)) for kind in kinds}
    series_keys = {(kind, mode, "n" if w is None else "workers") for kind, mode, _, w in plan}
    share_s = (budget_s - (time.monotonic() - started)) / max(1, len(series_keys))
    spent: dict[tuple[str, str, str], float] = {}
    last: dict[tuple, Point] = {}           # the previous point of the same series, to predict the next
    for i, (kind, mode, n, w) in enumerate(plan):
        tool, params = _workload(kind, latency_ms, work)
        ideal = _ideal(kind, units[kind], n)
        axis = "n" if w is None else "workers"
        prev = last.get((kind, mode, axis))
        if prev is None or prev.wall_s is None:
            predicted = ideal
        elif axis == "n":
            predicted = prev.wall_s * n / prev.n          # linear: an upper bound for the concurrent modes
        else:                                          # only workers that can be busy at once count
            busy = n if kind == "io" else usable_cores()
            predicted = prev.wall_s * min(prev.workers or 1, busy) / min(w, busy)
        left = min(share_s - spent.get((kind, mode, axis), 0.0), budget_s - (time.monotonic() - started))
        if prev is not None and prev.wall_s is None:
            point = Point(kind, mode, n, w, None, ideal, skipped=prev.skipped, axis=axis)
        elif predicted > min(left, POINT_CAP_S):
            point = Point(kind, mode, n, w, None, ideal, axis=axis,
                          skipped=f"would take about {predicted:.1f} s: over the time budget")
        else:
            t = time.monotonic()
            point = _measure(kind, mode, n, w, tool, params, ideal)
            spent[(kind, mode, axis)] = spent.get((kind, mode, axis), 0.0) + time.monotonic() - t
        points.append(point)
        if not (point.skipped or "").startswith(REFUSED):
            last[(kind, mode, axis)] = point    # a refused point neither predicts the next nor skips it
        if on_point is not None:
            what = f"{kind} · {mode} · {n} calls" + (f" · {w} workers" if w else "")
            on_point(Progress(i + 1, len(plan), what + (" (skipped)" if point.skipped else
                                                       f": {point.wall_s:.2f} s")))
    return points


def _measure(kind: str, mode: str, n: int, w: int | None, tool: str, params: dict, ideal: float) -> Point:
    axis = "n" if w is None else "workers"
    try:
        report = api.run(f"{tool}:{n}", mode, params=params, workers=w)
    except BadInput as exc:             # the mode refuses the point: more workers than a Dask cluster has
        return Point(kind, mode, n, w, None, ideal, axis=axis, skipped=f"{REFUSED}: {exc}")
    return Point(kind, mode, n, report.workers, report.wall_s, ideal, report.sum_cpu_s, report.ok, axis=axis)


def cause(mode: str, kind: str, workers: int | None = None) -> str:
    """What bends ``mode`` on the ``kind`` workload, in the mode's own words (its ``CAUSES``)."""
    try:
        text = get_mode(mode).CAUSES.get(kind)
    except BadInput:                    # points of a mode this process does not know (loaded from a file)
        text = None
    if not text:
        return f"{mode} names no cause for its {kind} knee"
    return text.format(workers=workers if workers else "its default")


def knees(points: list[Point]) -> list[dict]:
    """Where each (workload, mode) series of the size sweep bends: the first size at which wall/ideal grows
    by ``KNEE`` over the previous size, with the likely cause for that mode and workload."""
    out = []
    series: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        if p.wall_s is not None and p.axis == "n":
            series.setdefault((p.workload, p.mode), []).append(p)
    for (kind, mode), ps in series.items():
        ps.sort(key=lambda p: p.n)
        for a, b in zip(ps, ps[1:], strict=False):
            if b.stretch > KNEE * max(a.stretch, 1.0) or (b.stretch > 2.0 >= a.stretch):
                out.append({"workload": kind, "mode": mode, "n": b.n, "stretch": round(b.stretch, 2),
                            "cause": cause(mode, kind, b.workers)})
                break
    return out


def explain(points: list[Point]) -> list[str]:
    """A few sentences computed from the sweep: who stayed near the limit, who bent where, and why."""
    out = []
    for kind in dict.fromkeys(p.workload for p in points):
        measured = [p for p in points if p.workload == kind and p.wall_s is not None and p.axis == "n"]
        if not measured:
            continue
        top = max(p.n for p in measured)
        at_top = sorted((p for p in measured if p.n == top), key=lambda p: p.wall_s)
        limit = "one call's latency" if kind == "io" else "the CPU work spread over every core"
        best = at_top[0]
        out.append(f"{kind}: at {top} calls, {best.mode} finished in {best.wall_s:.2f} s, ×{best.stretch:.1f} "
                   f"{limit} ({best.ideal_s:.2f} s)" + ("." if len(at_top) == 1 else
                   "; " + ", ".join(f"{p.mode} ×{p.stretch:.1f}" for p in at_top[1:]) + "."))
        for k in knees([p for p in points if p.workload == kind]):
            out.append(f"{kind}: {k['mode']} bent at {k['n']} calls (×{k['stretch']} the ideal): {k['cause']}.")
        skipped = sorted({p.mode for p in points if p.workload == kind and p.skipped
                          and not p.skipped.startswith(REFUSED)})
        if skipped:
            out.append(f"{kind}: some points of {', '.join(skipped)} were skipped to stay within the time budget.")
        refused = {p.mode: p.workers for p in points if p.workload == kind and (p.skipped or "").startswith(REFUSED)}
        for mode, workers in refused.items():
            out.append(f"{kind}: {mode} could not run with {workers} workers or more here.")
    return out
