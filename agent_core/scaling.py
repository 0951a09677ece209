"""Scaling sweeps: where each mode bends as the number of calls (or of workers) grows.

Two workloads: ``io`` (web searches of a fixed latency: the ideal wall is one call's time, however many
there are) and ``cpu`` (pure-Python analysis calls: the ideal wall is their CPU time spread over every
core). For each mode and size, the sweep measures a real run and its *overhead per call*: how far the
wall is from that ideal, divided by the number of calls.

A sweep is bounded in total time, and its lines are never left half drawn: it measures a *column* at a time
(one size, or one number of workers, for every mode taking part), cheapest first, and starts a column only
if what the previous one measured predicts it fits in what is left of its series' share of the budget.
The first column that does not fit ends that series for every mode, and says so; so the sizes (or
workers) a sweep reaches are chosen by the budget, and every line has a point at each of them. A point
the mode refuses (more workers than a Dask cluster has) ends only that mode's line, at its top.

The io size sweep of a mode whose io calls go through the run's async HTTP clients (:func:`agent_core.modes.uses_http`)
is measured once per transport asked for (``transports``, keys of ``workload.HTTP_CLIENTS``): a line each, so
:func:`transport_notes` can say where the client-CPU knee moves with the transport.

Everything about a mode comes from its module: which modes take part in a kind's workers sweep (those whose
plan gives the lane that kind is routed to a different size, or cap, with ``workers``:
:func:`workers_matter`), and the cause a knee names (its ``CAUSES``). The workers axis is the kind's
(:func:`workers_axis`): CPU work cannot use more than the usable cores, so it goes to twice them; I/O
goes to ``IO_WORKERS_MAX``.
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
from .modes import BASELINE, get_mode, uses_http, uses_workers
from .workload import DEFAULT_HTTP, HTTP_CLIENTS, Workload

SIZES = (1, 3, 10, 30, 100, 300, 1000)
IO_WORKERS_MAX = 64         # the I/O workers axis ends here (threads' and hybrid's own most)
MAX_BUDGET_S = 300.0
SHARE = {"n": 2, "workers": 1}     # a size sweep gets twice a workers sweep's share of the budget left
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
    http: str | None = None     # the async HTTP transport its io calls went through (None: the mode has none)

    @property
    def series(self) -> str:
        """The mode, and the transport where the sweep measured it over one: ``"hybrid over aiohttp"``."""
        return self.mode if self.http is None else f"{self.mode} over {self.http}"

    @property
    def cpu_per_call_ms(self) -> float | None:
        """CPU the calls used, per call: for io on one loop, the client's own work per request."""
        return None if self.sum_cpu_s is None else self.sum_cpu_s / self.n * 1000

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


def workers_axis(kind: str) -> tuple[int, ...]:
    """The numbers of workers a ``kind`` sweep tries: powers of two from 1, ending at twice the usable cores
    for ``cpu`` (more processes than cores only queue; twice shows that) and at ``IO_WORKERS_MAX`` for ``io``."""
    if kind not in registry.SWEPT:
        raise BadInput(f"workload {kind!r} is not allowed: {' or '.join(registry.SWEPT)}")
    top = 2 * usable_cores() if kind == "cpu" else IO_WORKERS_MAX
    axis = {top}
    w = 1
    while w < top:
        axis.add(w)
        w *= 2
    return tuple(sorted(axis))


def workers_matter(mode: str, kind: str, workload: Workload) -> bool:
    """``workers`` changes how ``mode`` runs ``kind`` calls: its plan changes with them
    (:func:`agent_core.modes.uses_workers`) in the lane its ``ROUTES`` send that kind to: the lane's size, or on
    the event loop the cap on calls in flight, which only awaited (``io``) calls can fill (every other call
    runs on the loop's thread, one at a time: :mod:`agent_core.lanes.loop`)."""
    if not uses_workers(mode, workload):
        return False
    module = get_mode(mode)
    lane = module.ROUTES[kind]
    one, most = module.plan(workload, 1), module.plan(workload, module.MAX_WORKERS)
    if one.sizes.get(lane) != most.sizes.get(lane):
        return True
    return lane == "loop" and kind == "io" and one.limit != most.limit


@dataclass
class _Series:
    """One series of columns: a workload's size sweep, or its workers sweep, for the modes taking part."""

    kind: str
    axis: str                   # "n" or "workers"
    columns: list[int]          # sizes ascending, or workers descending: cheapest first
    modes: list[str]
    n: int | None = None        # the workers sweep's fixed number of calls
    transports: tuple[str, ...] = (DEFAULT_HTTP,)   # the io size sweep's, for a mode that uses_http

    def members(self, column: int) -> list[tuple[str, str | None]]:
        """(mode, transport) pairs of this column: a mode with async HTTP clients once per transport in the
        io size sweep, over the default one elsewhere; a mode without them once (None)."""
        modes = self.modes if self.axis == "n" else [m for m in self.modes if column <= get_mode(m).MAX_WORKERS]
        over = self.transports if self.kind == "io" and self.axis == "n" else (DEFAULT_HTTP,)
        return [(m, t) for m in modes for t in (over if uses_http(m) else (None,))]


def _plan(kinds: list[str], modes: list[str], sizes: list[int], workers, workers_n: int, latency_ms: int,
          work: int, transports: tuple[str, ...] = (DEFAULT_HTTP,)) -> list[_Series]:
    plan = []
    for kind in kinds:
        tool, _ = _workload(kind, latency_ms, work)
        cap = CATALOG[tool].max_calls
        plan.append(_Series(kind, "n", [n for n in sizes if n <= cap], modes, transports=transports))
        if workers:
            axis = workers_axis(kind)
            chosen = axis if workers is True else [w for w in set(workers) if 1 <= w <= axis[-1]]
            n = min(workers_n, cap)
            swept = Workload.parse(f"{tool}:{n}")
            taking_part = [m for m in modes if workers_matter(m, kind, swept)]
            if taking_part and chosen:
                plan.append(_Series(kind, "workers", sorted(set(chosen), reverse=True), taking_part, n))
    return plan


def sweep(kinds: Iterable[str] = ("io", "cpu"), modes: Iterable[str] | None = None, sizes: Iterable[int] = SIZES,
          workers: Iterable[int] | bool | None = None, workers_n: int = 32, budget_s: float = 50.0,
          latency_ms: int = 100, work: int = 20_000, transports: Iterable[str] = (DEFAULT_HTTP,),
          on_point: Callable[[Progress], None] | None = None) -> list[Point]:
    """Measure each workload's size sweep over ``sizes`` in every mode and, with ``workers`` (True: the kind's
    :func:`workers_axis`; or a list, kept within it), its workers sweep at ``workers_n`` calls in the modes
    whose workers matter for it, within ``budget_s`` seconds in all (at most 300 s).

    Each series gets a share of what is left of the budget when it starts (``SHARE``: a size sweep twice a
    workers sweep's; what one leaves over goes to the next). Every mode runs one call first (its pool or
    cluster starts then, not in a point). A series is measured a column at a time, cheapest first; a column
    starts only if it is predicted (from the previous column's runs, set-up included) to fit what is left of
    the share, else the series ends there for every mode and its remaining points are returned skipped, saying why.
    The io size sweep of a mode that awaits its io calls through async clients has a line per transport in
    ``transports``; every other series uses the default transport."""
    kinds, sizes = list(kinds), sorted(set(sizes))
    transports = tuple(dict.fromkeys(transports))
    for t in transports:
        if not isinstance(t, str) or t not in HTTP_CLIENTS:
            raise BadInput(f"transport {str(t)[:40]!r} is not allowed: one of {', '.join(HTTP_CLIENTS)}")
    if not transports:
        raise BadInput(f"no transport to sweep: give one or more of {', '.join(HTTP_CLIENTS)}")
    modes = list(registry.MODES if modes is None else modes)
    if not 1.0 <= budget_s <= MAX_BUDGET_S:
        raise BadInput(f"budget_s={budget_s} is out of range: allowed 1..{MAX_BUDGET_S:g} s")
    for mode in modes:
        get_mode(mode)
    started = time.monotonic()
    plan = _plan(kinds, modes, sizes, workers, workers_n, latency_ms, work, transports)
    total = sum(len(s.members(c)) for s in plan for c in s.columns)
    units = {kind: _calibrate(kind, *_workload(kind, latency_ms, work)) for kind in kinds}
    if kinds:       # what a mode's first run pays once (its pool, its cluster) is not what each point pays
        tool, params = _workload(kinds[0], latency_ms, work)
        for mode in modes:
            _warm(mode, tool, params)
    points: list[Point] = []
    sizes_seen: dict[tuple, tuple[Point, float]] = {}   # (kind, mode, transport) -> its last size point, its cost

    def emit(point: Point) -> None:
        points.append(point)
        if on_point is not None:
            what = f"{point.workload} · {point.series} · {point.n} calls" + (
                f" · {point.workers} workers" if point.axis == "workers" else "")
            on_point(Progress(len(points), total, what + (" (skipped)" if point.skipped else
                                                         f": {point.wall_s:.2f} s")))

    for i, series in enumerate(plan):
        tool, params = _workload(series.kind, latency_ms, work)
        weight = SHARE[series.axis] / sum(SHARE[later.axis] for later in plan[i:])
        share_end = time.monotonic() + (budget_s - (time.monotonic() - started)) * weight
        last: dict[tuple, tuple[Point, float]] = {}     # (mode, transport) -> its previous point here, its cost
        stopped: str | None = None
        for column in series.columns:
            n = column if series.axis == "n" else series.n
            w = None if series.axis == "n" else column
            ideal = _ideal(series.kind, units[series.kind], n)
            members = series.members(column)
            if stopped is None:
                each = {m: _predict(series, m[0], last.get(m) or sizes_seen.get((series.kind, *m)), n, w, tool,
                                    params, ideal) for m in members}
                predicted = sum(each.values())
                left = min(share_end, started + budget_s) - time.monotonic()
                if predicted > left:
                    what = f"{n} call{'s' * (n != 1)}" if w is None else f"{w} worker{'s' * (w != 1)}"
                    most = sorted(each, key=each.get, reverse=True)[:2]
                    stopped = (f"{what} in every mode would take about {predicted:.1f} s ("
                               + ", ".join(f"{m[0] if m[1] is None else f'{m[0]} over {m[1]}'} {each[m]:.1f} s"
                                           for m in most) + "): over the time budget "
                               f"({max(0.0, left):.1f} s left for this series)")
            for mode, http in members:
                if stopped is not None:
                    emit(Point(series.kind, mode, n, w, None, ideal, skipped=stopped, axis=series.axis, http=http))
                    continue
                t = time.monotonic()
                point = _measure(series.kind, mode, n, w, tool, params, ideal, http)
                if not (point.skipped or "").startswith(REFUSED):     # a refusal: fewer workers may still run
                    last[(mode, http)] = (point, time.monotonic() - t)
                    if series.axis == "n":
                        sizes_seen[(series.kind, mode, http)] = last[(mode, http)]
                emit(point)
    return points


def _warm(mode: str, tool: str, params: dict) -> None:
    """One call in ``mode`` before the sweep: it starts what the mode's first run would (a pool, a cluster)."""
    try:
        api.run(f"{tool}:1", mode, params=params)
    except BadInput:
        pass                            # the sweep's own point says why the mode refuses


def _model_s(mode: str, tool: str, params: dict, n: int, w: int | None) -> float:
    """The engine's own model of a run's wall (:func:`agent_core.budget.mode_wall`): how each lane scales with
    calls, workers and cores, before its margin. The sweep scales what it measured by it."""
    from .budget import mode_wall
    return mode_wall(Workload.of({tool: n}, params), mode, w)


def _predict(series: _Series, mode: str, last: tuple[Point, float] | None, n: int, w: int | None, tool: str,
             params: dict, ideal: float) -> float:
    """How long one more point of ``series`` should take in ``mode``, set-up included: the mode's previous point
    in it (for a workers sweep's first point, its last point of the size sweep, at its default workers), scaled
    by how the engine's model says the wall grows from that point to this one (linearly in the calls for a mode
    that runs them one at a time; far less for one that overlaps them). No previous point: the ideal (the
    cheapest column comes first, and a line needs it)."""
    if last is None:
        return ideal
    prev, cost = last
    setup = max(0.0, cost - prev.wall_s)
    before = _model_s(mode, tool, params, prev.n, prev.workers if prev.axis == "workers" else None)
    return setup + prev.wall_s * _model_s(mode, tool, params, n, w) / max(before, 1e-6)


def _measure(kind: str, mode: str, n: int, w: int | None, tool: str, params: dict, ideal: float,
             http: str | None = None) -> Point:
    axis = "n" if w is None else "workers"
    try:
        report = api.run(f"{tool}:{n}", mode, params=params, workers=w, http=http or DEFAULT_HTTP)
    except BadInput as exc:             # the mode refuses the point: more workers than a Dask cluster has
        return Point(kind, mode, n, w, None, ideal, axis=axis, skipped=f"{REFUSED}: {exc}", http=http)
    return Point(kind, mode, n, report.workers, report.wall_s, ideal, report.sum_cpu_s, report.ok, axis=axis,
                 http=http)


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
    """Where each (workload, mode, transport) series of the size sweep bends: the first size at which
    wall/ideal grows by ``KNEE`` over the previous size, with the likely cause for that mode and workload."""
    out = []
    series: dict[tuple[str, str, str | None], list[Point]] = {}
    for p in points:
        if p.wall_s is not None and p.axis == "n":
            series.setdefault((p.workload, p.mode, p.http), []).append(p)
    for (kind, mode, http), ps in series.items():
        ps.sort(key=lambda p: p.n)
        for a, b in zip(ps, ps[1:], strict=False):
            if b.stretch > KNEE * max(a.stretch, 1.0) or (b.stretch > 2.0 >= a.stretch):
                out.append({"workload": kind, "mode": mode, "http": http, "series": b.series, "n": b.n,
                            "stretch": round(b.stretch, 2), "cause": cause(mode, kind, b.workers)})
                break
    return out


def explain(points: list[Point]) -> list[str]:
    """A few sentences computed from the sweep: who stayed near the limit, who bent where, and why."""
    out = []
    for kind in dict.fromkeys(p.workload for p in points):
        measured = [p for p in points if p.workload == kind and p.wall_s is not None and p.axis == "n"]
        if not measured:
            out += _stops(points, kind)
            continue
        top = max(p.n for p in measured)
        at_top = sorted((p for p in measured if p.n == top), key=lambda p: p.wall_s)
        limit = "one call's latency" if kind == "io" else "the CPU work spread over every core"
        best = at_top[0]
        several = len({p.http for p in measured if p.http}) > 1     # then a line is a mode over a transport
        name = (lambda p: p.series) if several else (lambda p: p.mode)
        out.append(f"{kind}: at {top} calls, {name(best)} finished in {best.wall_s:.2f} s, ×{best.stretch:.1f} "
                   f"{limit} ({best.ideal_s:.2f} s)" + ("." if len(at_top) == 1 else
                   "; " + ", ".join(f"{name(p)} ×{p.stretch:.1f}" for p in at_top[1:]) + "."))
        for k in knees([p for p in points if p.workload == kind]):
            out.append(f"{kind}: {k['series'] if several else k['mode']} bent at {k['n']} calls (×{k['stretch']} "
                       f"the ideal): {k['cause']}.")
        out += transport_notes([p for p in points if p.workload == kind])
        out += _stops(points, kind)
        refused = {p.mode: p.workers for p in points if p.workload == kind and (p.skipped or "").startswith(REFUSED)}
        for mode, workers in refused.items():
            out.append(f"{kind}: {mode} could not run with {workers} workers or more here.")
    return out


def _stops(points: list[Point], kind: str) -> list[str]:
    """Where each of the ``kind`` series stopped for the budget, and why (one sentence each)."""
    out = []
    for axis, unit in (("n", "calls"), ("workers", "workers")):
        series = [p for p in points if p.workload == kind and p.axis == axis]
        cut = [p for p in series if p.skipped and not p.skipped.startswith(REFUSED)]
        if not cut:
            continue
        x = (lambda p: p.n) if axis == "n" else (lambda p: p.workers)
        done = [x(p) for p in series if p.wall_s is not None]
        first = min(cut, key=lambda p: x(p) if axis == "n" else -x(p))
        end = (max(done) if axis == "n" else min(done)) if done else None
        reached = f"stopped at {end} {unit[:-1] if end == 1 else unit}" if done else "measured nothing"
        what = "size sweep" if axis == "n" else "workers sweep"
        out.append(f"{kind}: the {what} {reached}, for every mode: {first.skipped}.")
    return out


def transport_notes(points: list[Point]) -> list[str]:
    """Per mode whose io size sweep was measured over more than one transport: where its knee was over each
    (the client's CPU per request on the loop's one thread is what bends it), and the client CPU per call and
    the wall at the largest size every transport reached."""
    out = []
    io = [p for p in points if p.workload == "io" and p.axis == "n" and p.http is not None and p.wall_s is not None]
    bends = {(k["mode"], k["http"]): k for k in knees(io)}
    for mode in dict.fromkeys(p.mode for p in io):
        by = {t: sorted((p for p in io if p.mode == mode and p.http == t), key=lambda p: p.n)
              for t in dict.fromkeys(p.http for p in io if p.mode == mode)}
        if len(by) < 2:
            continue
        where = [f"over {t} it bent at {bends[(mode, t)]['n']} calls (×{bends[(mode, t)]['stretch']})"
                 if (mode, t) in bends else f"over {t} it did not bend up to {ps[-1].n} calls" for t, ps in by.items()]
        firsts = {t: bends[(mode, t)]["n"] if (mode, t) in bends else None for t in by}
        moved = ("its knee did not move" if len(set(firsts.values())) == 1 else
                 "the knee moved with the transport")
        top = min(ps[-1].n for ps in by.values())
        at = {t: next(p for p in ps if p.n == top) for t, ps in by.items() if any(p.n == top for p in ps)}
        cpu = ", ".join(f"{t} {p.cpu_per_call_ms:.2f} ms (wall {p.wall_s:.2f} s)" for t, p in at.items()
                        if p.cpu_per_call_ms is not None)
        out.append(f"io, {mode}: {', '.join(where)}: {moved}. At {top} calls the client's CPU per call was "
                   f"{cpu}.")
    return out
