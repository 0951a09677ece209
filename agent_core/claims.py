"""Claims: what the article this app grew from, and its author's blog series, state as fact — measured here.

:data:`CLAIMS` is the one registry (the list and its sources are in ``docs/CLAIMS.md``). Each claim names its
source, the page of the app that shows it in depth, and an experiment: a few bounded, real runs through the
engine's public API (:func:`agent_core.run_many`, faults, the process start-up of a call's child). An
experiment returns its measured figures; the claim's ``judge`` turns figures into a verdict, one of
:data:`VERDICTS`, and a sentence built from the same numbers, by the thresholds stated below. Nothing about a
verdict is written down ahead: other numbers give another verdict (``tests/test_claims.py`` feeds them).

Latencies are scaled down where the claim's own figures are seconds (stated per claim), so that every
experiment together takes well under a minute on two cores. Nothing here imports Streamlit.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import api
from .budget import Estimate, estimate_runs
from .errors import AgentCoreError, BadInput
from .explain import failure_summary
from .machine import usable_cores
from .records import RunReport
from .scaling import Progress
from .workload import Workload

HOLDS, CAVEAT, FAILS = "holds", "holds with a caveat", "does not hold here"
VERDICTS = {HOLDS: "green", CAVEAT: "orange", FAILS: "red"}    # a verdict -> its colour on the page
UNMEASURED = "not measured"                                   # the experiment could not measure (says why)
UNMEASURED_COLOUR = "gray"

# Thresholds every verdict is computed with (ratios, so that a noisy shared machine moves them little)
NEAR = 1.2              # "about" a figure: within ×1.2 of it (a wall against the slowest call, a claimed time)
BLOCK_SHARE = 0.5       # a loop is "blocked" when its heartbeat was late by at least half the blocking call
UNBLOCKED = 5.0         # ... and a fix "works" when it cuts that lag at least this many times (×2: partly)
NO_SPEEDUP = 1.2        # a true speedup under this is no speedup
CORE_SHARE = 0.75       # a process pool "uses the cores" at this share of the ideal (its workers, at most cores)
FACTOR = 2.0            # a measured cost within this factor of a claimed range "holds with a caveat"
START_REPS = 5          # process starts timed per kind (the median is kept)

SOURCES = {
    "A": "the article “Python Concurrency for Agentic Systems” (Pulkit Dhingra, LinkedIn)",
    "B1": "blog post “Python Asyncio” (pulkit12dhingra.github.io/Blog, content/Python_Asyncio.html)",
    "B2": "blog post “Python Subprocess” (pulkit12dhingra.github.io/Blog, content/Python_Subprocess.html)",
    "B3": "blog post “Python Threading” (pulkit12dhingra.github.io/Blog, content/Python_Threading.html)",
    "B4–B6": "the series' research-agent walkthrough posts, and the README of the author's research-agent project",
}

Emit = Callable[[object], None]
Figures = dict
Judgement = tuple[str, str]


@dataclass(frozen=True)
class Runs:
    """One workload run once per variant (``{"mode": ..., **options}``), one after another."""

    spec: str                       # tool:count,... or, with ``pipeline``, the pipeline's name
    variants: tuple[dict, ...]
    params: dict = field(default_factory=dict)
    faults: dict = field(default_factory=dict)
    timeout_s: float = 30.0
    pipeline: dict | None = None    # the pipeline's own parameters (agent_core.pipeline)
    reps: int = 1                   # runs of each variant, interleaved; the fastest is kept (see measure)

    def workload(self) -> Workload:
        if self.pipeline is not None:
            from .pipelines import pipeline
            return pipeline(self.spec, self.pipeline, self.params, self.faults or None)
        return Workload.parse(self.spec, self.params, self.faults)

    def estimate_s(self) -> float:
        return self.reps * estimate_runs(self.workload(), self.variants, timeout_s=self.timeout_s).seconds

    def measure(self, emit: Emit | None) -> list[RunReport]:
        """One report per variant: with ``reps`` > 1, the fastest of its runs. Other work on a shared machine
        only ever adds time to a run, so the fastest is the nearest to what the machine can do; the variants
        are interleaved, so that such work falls on each of them alike."""
        workload = self.workload()
        rounds = [api.run_many(workload, self.variants, timeout_s=self.timeout_s, on_run=emit)
                  for _ in range(self.reps)]
        return [min(runs, key=lambda r: r.wall_s) for runs in zip(*rounds, strict=True)]


@dataclass(frozen=True)
class Claim:
    """A claim, where it was made, where the app shows it, and how it is measured and judged here.

    ``runs`` are the engine runs of its experiment and ``figures(reports)`` what it keeps of them; a claim
    whose experiment is not a set of runs gives ``measure(emit) -> figures`` (and ``estimate_s``) instead.
    ``judge(figures)`` gives (verdict, reason) and ``summary(figures)`` the measured figure in a few words."""

    id: int
    claim: str
    sources: tuple[str, ...]
    page: str                       # a page of ui.widgets.PAGES that shows it in depth
    how: str
    judge: Callable[[Figures], Judgement]
    summary: Callable[[Figures], str]
    runs: tuple[Runs, ...] = ()
    figures: Callable[[list[list[RunReport]]], Figures] | None = None
    measure: Callable[[Emit | None], Figures] | None = None
    estimate: Callable[[], float] | None = None
    query: dict = field(default_factory=dict)   # the page's address parameters (a preset, a mode)

    def estimate_s(self) -> float:
        if self.estimate is not None:
            return self.estimate()
        return sum(r.estimate_s() for r in self.runs)

    def run(self, emit: Emit | None = None) -> Figures:
        if self.measure is not None:
            return self.measure(emit)
        return self.figures([r.measure(emit) for r in self.runs])


@dataclass
class ClaimResult:
    id: int
    claim: str
    source: str                     # the sources' keys, "A, B1"
    page: str
    how: str
    verdict: str
    reason: str
    measured: Figures = field(default_factory=dict)
    summary: str = ""
    seconds: float = 0.0            # how long its experiment took
    started_at: float = field(default_factory=time.time)    # when it was measured
    load_1m: float | None = None    # the machine's 1-minute load average when it was done (a shared machine)

    @property
    def colour(self) -> str:
        return VERDICTS.get(self.verdict, UNMEASURED_COLOUR)

    def to_dict(self) -> dict:
        claim = CLAIMS[self.id]
        return {"id": self.id, "claim": self.claim, "source": self.source,
                "sources": [SOURCES[s] for s in claim.sources], "how": self.how, "measured": self.measured,
                "summary": self.summary, "verdict": self.verdict, "reason": self.reason, "page": self.page,
                "page_query": claim.query, "seconds": round(self.seconds, 3),
                "started_at": self.started_at, "load_1m": self.load_1m, "cores": usable_cores()}


# -- helpers shared by experiments -----------------------------------------------------------------------------------

def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


def _ok(reports: Iterable[RunReport], what: str) -> None:
    """An experiment whose calls failed measured nothing about its claim: say so rather than judge it."""
    for r in reports:
        bad = [t for t in r.tasks if t.status != "ok"]
        if bad:
            raise AgentCoreError(f"{what}: {len(bad)} of {len(r.tasks)} calls failed in {r.mode} "
                                 f"({bad[0].id}: {bad[0].status} {bad[0].error or ''})".rstrip())


def _x(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def _ms(s: float) -> str:
    return f"{1000 * s:.0f} ms"


# -- 1, 2, 10: awaited I/O takes about the slowest call --------------------------------------------------------------

def _figures_slowest(reports: list[list[RunReport]]) -> Figures:
    (r,), = reports
    _ok([r], "the awaited calls")
    return {"calls": len(r.tasks), "wall_s": _r(r.wall_s), "slowest_s": _r(r.critical_path_s),
            "sum_s": _r(r.sum_task_s)}


def judge_slowest(f: Figures) -> Judgement:
    """Claim 1: a wall within ×NEAR of the slowest call holds; nearer the slowest than the sum, a caveat."""
    wall, slowest, total = f["wall_s"], f["slowest_s"], f["sum_s"]
    said = (f"{f['calls']} awaited calls took {wall:.2f} s: ×{_x(wall, slowest):.2f} the slowest call "
            f"({slowest:.2f} s) and ×{_x(wall, total):.2f} their sum ({total:.2f} s)")
    if wall <= NEAR * slowest:
        return HOLDS, f"{said}, within ×{NEAR} of the slowest."
    if abs(wall - slowest) < abs(total - wall):
        return CAVEAT, f"{said}: nearer the slowest than the sum, but more than ×{NEAR} the slowest."
    return FAILS, f"{said}: nearer the sum than the slowest."


def _summary_slowest(f: Figures) -> str:
    return f"wall {f['wall_s']:.2f} s · slowest {f['slowest_s']:.2f} s · Σ {f['sum_s']:.2f} s"


def _io_runs(latencies_ms: tuple[int, int, int]) -> Runs:
    """Three awaited calls of the given latencies (three io tools, no jitter), sequential then asyncio."""
    search, vector, llm = latencies_ms
    return Runs("web_search:1,vector_lookup:1,llm_call:1", ({"mode": "sequential"}, {"mode": "asyncio"}),
                {"web_search": {"latency_ms": search, "jitter": 0},
                 "vector_lookup": {"latency_ms": vector, "jitter": 0},
                 "llm_call": {"ttft_ms": llm, "tokens": 1, "jitter": 0}})


def _figures_vs_claimed(claimed_s: float, claimed_sum_s: float, scale: float):
    def figures(reports: list[list[RunReport]]) -> Figures:
        (seq, aio), = reports
        _ok([seq, aio], "the three calls")
        return {"scale": scale, "claimed_s": claimed_s, "claimed_sum_s": claimed_sum_s,
                "wall_s": _r(aio.wall_s), "sequential_s": _r(seq.wall_s)}
    return figures


def judge_vs_claimed(f: Figures) -> Judgement:
    """Claims 2 and 10: concurrent wall within ×NEAR of the claimed (scaled) time holds, and the sequential
    run is about the claimed sum; a concurrent wall nearer the claimed time than the sum is a caveat."""
    scale, claimed, claimed_sum = f["scale"], f["claimed_s"], f["claimed_sum_s"]
    wall, seq = f["wall_s"], f["sequential_s"]
    scaled, scaled_sum = claimed * scale, claimed_sum * scale
    at = "" if scale == 1 else f" (the claim's {claimed:g} s and {claimed_sum:g} s scaled ×{scale:g})"
    said = (f"concurrently {wall:.2f} s against a claimed {scaled:.2f} s, one after another {seq:.2f} s against "
            f"{scaled_sum:.2f} s{at}")
    about = wall <= NEAR * scaled and seq >= scaled_sum / NEAR
    if about and wall >= scaled / NEAR:
        return HOLDS, f"{said}: both within ×{NEAR}."
    if about:
        return CAVEAT, f"{said}: faster than claimed (×{_x(scaled, wall):.2f})."
    if abs(wall - scaled) < abs(scaled_sum - wall):
        return CAVEAT, f"{said}: nearer the claimed time than the sum, but off by more than ×{NEAR}."
    return FAILS, f"{said}: nearer the sum than the claimed time."


def _summary_vs_claimed(f: Figures) -> str:
    return (f"{f['wall_s']:.2f} s concurrent vs {f['sequential_s']:.2f} s sequential "
            f"(claimed {f['claimed_s'] * f['scale']:.2f} vs {f['claimed_sum_s'] * f['scale']:.2f})")


# -- 3: gather keeps going, TaskGroup cancels ------------------------------------------------------------------------

def _figures_cancel(reports: list[list[RunReport]]) -> Figures:
    (keep, cancel), = reports
    out: Figures = {}
    for name, r in (("gather", keep), ("taskgroup", cancel)):
        others = [t for t in r.tasks if t.id not in r.faulty_ids]
        out[f"{name}_others"] = len(others)
        out[f"{name}_ok"] = sum(t.status == "ok" for t in others)
        out[f"{name}_cancelled"] = sum(t.status == "cancelled" for t in others)
        out[f"{name}_wall_s"] = _r(r.wall_s)
    return out


def judge_cancel(f: Figures) -> Judgement:
    """Holds when keep-going kept every other call and cancel-siblings cancelled every other call."""
    n = f["gather_others"]
    said = (f"with gather (keep-going) {f['gather_ok']} of {n} other calls finished; with TaskGroup "
            f"(cancel-siblings) {f['taskgroup_cancelled']} of {f['taskgroup_others']} were cancelled "
            f"after {f['taskgroup_wall_s']:.2f} s")
    if f["gather_ok"] == n and f["taskgroup_cancelled"] == f["taskgroup_others"]:
        return HOLDS, f"{said}."
    if f["gather_ok"] == n and f["taskgroup_cancelled"] > 0:
        return CAVEAT, f"{said}: the rest had finished before the failure."
    return FAILS, f"{said}."


def _summary_cancel(f: Figures) -> str:
    return (f"gather: {f['gather_ok']}/{f['gather_others']} others finished · TaskGroup: "
            f"{f['taskgroup_cancelled']}/{f['taskgroup_others']} cancelled")


# -- 4: a sync library on the loop blocks it; a thread (or aiosqlite) does not ---------------------------------------

def _mean_s(r: RunReport, tool: str) -> float:
    ts = [t.duration_s for t in r.tasks if t.tool == tool]
    return sum(ts) / len(ts)


def _figures_loop(reports: list[list[RunReport]]) -> Figures:
    (sdk_loop, sdk_thread), (sql_loop, sql_aio, sql_thread) = reports
    _ok([sdk_loop, sdk_thread, sql_loop, sql_aio, sql_thread], "the loop experiment")
    return {"sdk_call_s": _r(_mean_s(sdk_loop, "legacy_sdk")), "sdk_on_loop_ms": _r(sdk_loop.loop_lag_max_ms, 1),
            "sdk_in_thread_ms": _r(sdk_thread.loop_lag_max_ms, 1),
            "sqlite_call_s": _r(_mean_s(sql_loop, "memory_write")),
            "sqlite_on_loop_ms": _r(sql_loop.loop_lag_max_ms, 1), "sqlite_aiosqlite_ms": _r(sql_aio.loop_lag_max_ms, 1),
            "sqlite_in_thread_ms": _r(sql_thread.loop_lag_max_ms, 1)}


def judge_loop(f: Figures) -> Judgement:
    """Holds when each sync call on the loop made the heartbeat late by ≥ BLOCK_SHARE of the call, and a
    thread (and aiosqlite) cut that lag ≥ UNBLOCKED times; ≥ 2 times is a caveat."""
    blocked = [f["sdk_on_loop_ms"] >= BLOCK_SHARE * 1000 * f["sdk_call_s"],
               f["sqlite_on_loop_ms"] >= BLOCK_SHARE * 1000 * f["sqlite_call_s"]]
    cuts = {"the SDK in a thread": _x(f["sdk_on_loop_ms"], f["sdk_in_thread_ms"]),
            "sqlite3 in a thread": _x(f["sqlite_on_loop_ms"], f["sqlite_in_thread_ms"]),
            "aiosqlite": _x(f["sqlite_on_loop_ms"], f["sqlite_aiosqlite_ms"])}
    said = (f"on the loop the heartbeat was {f['sdk_on_loop_ms']:.0f} ms late with a {_ms(f['sdk_call_s'])} SDK call "
            f"and {f['sqlite_on_loop_ms']:.0f} ms with a {_ms(f['sqlite_call_s'])} sqlite3 write; "
            f"{f['sdk_in_thread_ms']:.0f} ms with the SDK in a thread, {f['sqlite_in_thread_ms']:.0f} ms with sqlite3 "
            f"in a thread, {f['sqlite_aiosqlite_ms']:.0f} ms with aiosqlite")
    if not all(blocked):
        return FAILS, f"{said}: the loop was not blocked for half a call or more."
    weakest = min(cuts, key=cuts.get)
    if cuts[weakest] >= UNBLOCKED:
        return HOLDS, f"{said} (each at least ×{UNBLOCKED:g} less)."
    if cuts[weakest] >= 2:
        return CAVEAT, f"{said}: {weakest} cut the lag only ×{cuts[weakest]:.1f}."
    return FAILS, f"{said}: {weakest} did not keep the loop free (×{cuts[weakest]:.1f})."


def _summary_loop(f: Figures) -> str:
    return (f"loop lag: SDK {f['sdk_on_loop_ms']:.0f} → {f['sdk_in_thread_ms']:.0f} ms in a thread; sqlite3 "
            f"{f['sqlite_on_loop_ms']:.0f} → {f['sqlite_in_thread_ms']:.0f} ms (thread), "
            f"{f['sqlite_aiosqlite_ms']:.0f} ms (aiosqlite)")


# -- 5: threads do not speed up pure-Python CPU work; processes do ---------------------------------------------------

def _figures_gil(reports: list[list[RunReport]]) -> Figures:
    (seq, threads, pool), = reports
    _ok([seq, threads, pool], "the CPU calls")
    n = len(seq.tasks)
    return {"calls": n, "cores": usable_cores(), "load_1m": _r(os.getloadavg()[0], 2),
            "pool_workers": pool.workers or 1, "sequential_s": _r(seq.wall_s),
            "threads_x": _r(_x(seq.wall_s, threads.wall_s)), "pool_x": _r(_x(seq.wall_s, pool.wall_s)),
            "cpu_per_call_ms": {r.mode: _r(1000 * r.sum_cpu_s / n, 1) for r in (seq, threads, pool)}}


def judge_gil(f: Figures) -> Judgement:
    """Holds when threads' true speedup is under NO_SPEEDUP and the pool's reaches CORE_SHARE of what its
    workers on this machine's cores allow; a pool above NO_SPEEDUP but short of that is a caveat."""
    ideal = max(1, min(f["cores"], f["pool_workers"], f["calls"]))
    t, p = f["threads_x"], f["pool_x"]
    said = (f"{f['calls']} CPU calls ({f['sequential_s']:.2f} s one after another): threads ×{t:.2f}, a process "
            f"pool of {f['pool_workers']} ×{p:.2f} on {f['cores']} core{'s' * (f['cores'] != 1)} (1-minute load "
            f"average {f['load_1m']:.1f} after the runs)")
    if ideal < 2:
        return FAILS, f"{said}: with one core no process can run beside another here."
    if t >= NO_SPEEDUP:
        return FAILS, f"{said}: threads did speed the work up (the GIL did not serialise it)."
    if p >= CORE_SHARE * ideal:
        return HOLDS, f"{said} (at least ×{CORE_SHARE * ideal:.2f} of a possible ×{ideal})."
    if p >= NO_SPEEDUP:
        return CAVEAT, f"{said}: the pool helped, but less than ×{CORE_SHARE * ideal:.2f}."
    return FAILS, f"{said}: the pool did not speed it up either."


def _summary_gil(f: Figures) -> str:
    return f"true speedup: threads ×{f['threads_x']:.2f}, process pool ×{f['pool_x']:.2f}"


# -- 6: "> 1000 tasks → asyncio" -------------------------------------------------------------------------------------

SCALE_SIZES = (10, 100, 1000)


def _figures_scale(reports: list[list[RunReport]]) -> Figures:
    out: Figures = {"sizes": list(SCALE_SIZES), "threads_s": [], "asyncio_s": [], "thread_workers": None}
    for threads, aio in reports:
        _ok([threads, aio], f"{len(aio.tasks)} awaited calls")
        out["threads_s"].append(_r(threads.wall_s))
        out["asyncio_s"].append(_r(aio.wall_s))
        out["thread_workers"] = threads.workers
    return out


def judge_scale(f: Figures) -> Judgement:
    """Holds when asyncio is ×NEAR faster than threads at the largest size and not below it; a caveat when it
    already is at a smaller size (the line is elsewhere); does not hold when it is not at the largest."""
    sizes = f["sizes"]
    ratios = [_x(t, a) for t, a in zip(f["threads_s"], f["asyncio_s"], strict=True)]
    said = "threads / asyncio wall: " + ", ".join(f"×{x:.2f} at {n:,}" for n, x in zip(sizes, ratios, strict=True))
    if ratios[-1] < NEAR:
        return FAILS, f"{said}: asyncio was not faster at {sizes[-1]:,} calls."
    first = next(n for n, x in zip(sizes, ratios, strict=True) if x >= NEAR)
    if first == sizes[-1]:
        return HOLDS, f"{said}: asyncio pulls ahead only at {sizes[-1]:,}."
    return CAVEAT, (f"{said}: asyncio was ahead from {first:,} calls already; threads stop keeping up past their "
                    f"pool ({f['thread_workers']} threads), not at 1,000.")


def _summary_scale(f: Figures) -> str:
    return ", ".join(f"{n:,}: {t:.2f} s threads / {a:.2f} s asyncio"
                     for n, t, a in zip(f["sizes"], f["threads_s"], f["asyncio_s"], strict=True))


# -- 7, 8: a child's failure boundary --------------------------------------------------------------------------------

def _figures_crash(reports: list[list[RunReport]]) -> Figures:
    out: Figures = {}
    for r in reports[0]:
        s = failure_summary(r)
        key = "child" if r.mode == "subprocess" else "in_process"
        out.update({f"{key}_mode": r.mode, f"{key}_faulty": s["faulty_status"], f"{key}_kept": s["others_kept"],
                    f"{key}_lost": s["others_lost"], f"{key}_survived": not (r.host and not r.host["survived"])})
    return out


def judge_crash(f: Figures) -> Judgement:
    """Holds when the crash in a child lost only that call and the run's process lived; a caveat when the same
    crash in-process did not lose more (nothing to contrast)."""
    said = (f"a segfault in a subprocess call: {f['child_faulty']}, {f['child_kept']} other calls kept, "
            f"{f['child_lost']} lost; the same crash in {f['in_process_mode']}: {f['in_process_lost']} other calls "
            f"lost, the run's process {'survived' if f['in_process_survived'] else 'died'}")
    if f["child_lost"] or not f["child_survived"] or f["child_faulty"] != "crashed":
        return FAILS, f"{said}."
    if f["in_process_lost"] == 0 and f["in_process_survived"]:
        return CAVEAT, f"{said}: the crash did not spread in-process either."
    return HOLDS, f"{said}."


def _summary_crash(f: Figures) -> str:
    return (f"subprocess: {f['child_lost']} others lost · {f['in_process_mode']}: {f['in_process_lost']} lost, "
            f"process {'survived' if f['in_process_survived'] else 'died'}")


HANG_TIMEOUT_S, HANG_S = 1.0, 2.5


def _figures_hang(reports: list[list[RunReport]]) -> Figures:
    out: Figures = {"timeout_s": HANG_TIMEOUT_S, "hang_s": HANG_S}
    for r in reports[0]:
        s = failure_summary(r)
        key = "child" if r.mode == "subprocess" else "thread"
        out.update({f"{key}_status": s["faulty_status"], f"{key}_after_s": s["detected_after_s"],
                    f"{key}_still_running": len(r.abandoned)})
    return out


def judge_hang(f: Figures) -> Judgement:
    """Holds when the hung child was stopped at its timeout (within ×NEAR) with nothing left running, while the
    hung thread had to be abandoned, still running; a caveat when the thread was not left running."""
    limit = f["timeout_s"]
    said = (f"a {f['hang_s']:g} s hang with a {limit:g} s timeout: in a child, {f['child_status']} after "
            f"{f['child_after_s']:.2f} s with {f['child_still_running']} left running; in a thread, "
            f"{f['thread_status']} after {f['thread_after_s']:.2f} s with {f['thread_still_running']} "
            "thread still running")
    if (f["child_status"] != "timeout" or f["child_after_s"] > NEAR * limit or f["child_still_running"]):
        return FAILS, f"{said}: the child was not stopped at its timeout."
    if not f["thread_still_running"]:
        return CAVEAT, f"{said}: the thread was not left running either."
    return HOLDS, f"{said}."


def _summary_hang(f: Figures) -> str:
    return (f"child: {f['child_status']} at {f['child_after_s']:.2f} s, killed · thread: {f['thread_status']}, "
            f"{f['thread_still_running']} still running")


# -- 9: starting a process -------------------------------------------------------------------------------------------

CLAIMED_START_S = (0.050, 0.100)


def _median_start(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(START_REPS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _measure_start(emit: Emit | None) -> Figures:
    from .catalog import resolve_params
    from .childproc import run_in_child
    from .tools import ToolContext

    def interpreter(*flags: str) -> None:
        subprocess.run([sys.executable, *flags, "-c", "pass"], check=True, timeout=10)

    params = resolve_params("sandboxed_script", {"script": "primes", "size": 100})

    def child() -> None:
        outcome = run_in_child("sandboxed_script", params, ToolContext("sandboxed_script#1", 0, 10.0))
        if outcome.status != "ok":
            raise AgentCoreError(f"a call's child did not finish: {outcome.status} {outcome.error or ''}".rstrip())

    return {"claimed_ms": [1000 * s for s in CLAIMED_START_S], "reps": START_REPS,
            "bare_ms": _r(1000 * _median_start(lambda: interpreter("-I", "-S")), 1),
            "plain_ms": _r(1000 * _median_start(interpreter), 1), "child_ms": _r(1000 * _median_start(child), 1)}


def judge_start(f: Figures) -> Judgement:
    """Holds when a call's child (start, one trivial call, exit) costs within the claimed range; within
    ×FACTOR of it, a caveat; else it does not hold (and says which way)."""
    lo, hi = f["claimed_ms"]
    child = f["child_ms"]
    said = (f"a call's child took {child:.1f} ms, `python -I -S -c pass` {f['bare_ms']:.1f} ms and `python -c pass` "
            f"{f['plain_ms']:.1f} ms (medians of {f['reps']}), against a claimed {lo:.0f}–{hi:.0f} ms")
    if lo <= child <= hi:
        return HOLDS, f"{said}."
    if lo / FACTOR <= child <= hi * FACTOR:
        return CAVEAT, f"{said}: within ×{FACTOR:g} of it."
    way = f"×{child / lo:.2f} its low end: cheaper" if child < lo else f"×{child / hi:.1f} its high end: dearer"
    return FAILS, f"{said}: {way} than claimed."


def _summary_start(f: Figures) -> str:
    return f"call child {f['child_ms']:.1f} ms · bare interpreter {f['bare_ms']:.1f} ms (claimed 50–100 ms)"


def _estimate_start() -> float:
    from .budget import CHILD_S
    return START_REPS * (CHILD_S + 0.1 + 0.1)


# -- 11, 12: the research agent's pipeline (agent_core.pipelines) ----------------------------------------------

PIPELINE_SCALE = 0.5        # every latency of the pipeline's tools scaled (the LLM streams 1/scale as fast)
CLAIMED_GATHER_S = (1.5, 4.5)                   # "~1.5s (vs ~4.5s sequential)": concurrent, sequential
CLAIMED_TURN_S = ((3.0, 5.0), (10.0, 15.0))     # "~3-5s (sequential ≈ 10-15s)"
GATHER_STAGE = "search"     # the research agent's first gather: its K searches after the plan
CPU_STAGE = "chunk"         # its CPU stage: chunk_text on each fetched page (our stand-in for local embeddings)
CHUNK_WORDS = 20_000        # words chunked per page: ~0.2 s of pure-Python CPU a call here
TURN_GAIN = 1.1             # a turn "sped up" when it took at most 1/1.1 of the other's wall


def _scaled(fetch: str) -> dict:
    """The research agent's tools with every latency ×PIPELINE_SCALE (from the catalog's defaults)."""
    from .catalog import CATALOG
    tools = ("llm_call", "web_search", "vector_lookup", "legacy_sdk" if fetch == "sdk" else "fetch_page")
    out: dict[str, dict] = {}
    for tool in tools:
        defaults = CATALOG[tool].defaults()
        out[tool] = {k: round(defaults[k] * PIPELINE_SCALE) for k in ("latency_ms", "ttft_ms") if k in defaults}
        if "tokens_per_s" in defaults:
            out[tool]["tokens_per_s"] = defaults["tokens_per_s"] / PIPELINE_SCALE
    return out


def _stage(r: RunReport, name: str) -> dict:
    from .pipeline_study import stages
    return next(s for s in stages(r) if s["stage"] == name)


def _figures_research(reports: list[list[RunReport]]) -> Figures:
    (seq, hybrid), = reports
    _ok([seq, hybrid], "the research agent's turn")
    (c_fast, c_slow), ((t_lo, t_hi), (s_lo, s_hi)) = CLAIMED_GATHER_S, CLAIMED_TURN_S
    return {"k": seq.pipeline.get("params", {}).get("k") if seq.pipeline else None, "scale": PIPELINE_SCALE,
            "claimed_gather_x": _r(c_slow / c_fast, 2), "claimed_turn_x": _r((s_lo + s_hi) / (t_lo + t_hi), 2),
            "gather_sequential_s": _r(_stage(seq, GATHER_STAGE)["wall_s"]),
            "gather_hybrid_s": _r(_stage(hybrid, GATHER_STAGE)["wall_s"]),
            "turn_sequential_s": _r(seq.wall_s), "turn_hybrid_s": _r(hybrid.wall_s),
            "hybrid_critical_path_s": _r(hybrid.critical_path_s)}


def judge_research(f: Figures) -> Judgement:
    """Holds when both the first gather's and the turn's sequential/hybrid ratios are within ×NEAR of the claimed
    ones; within ×FACTOR (either way), a caveat."""
    g = _x(f["gather_sequential_s"], f["gather_hybrid_s"])
    t = _x(f["turn_sequential_s"], f["turn_hybrid_s"])
    cg, ct = f["claimed_gather_x"], f["claimed_turn_x"]
    said = (f"the first gather ({f['k']} searches) took {f['gather_hybrid_s']:.2f} s in hybrid against "
            f"{f['gather_sequential_s']:.2f} s one after another (×{g:.1f}, claimed ×{cg:.1f}); the whole turn "
            f"{f['turn_hybrid_s']:.2f} s against {f['turn_sequential_s']:.2f} s (×{t:.1f}, claimed ×{ct:.1f}), "
            f"with hybrid at ×{_x(f['turn_hybrid_s'], f['hybrid_critical_path_s']):.2f} its critical path")

    def near(x: float, c: float, within: float) -> bool:
        return c / within <= x <= c * within

    ratios = (("the gather", g, cg), ("the turn", t, ct))
    if all(near(x, c, NEAR) for _, x, c in ratios):
        return HOLDS, f"{said}: both within ×{NEAR} of the claim."
    if all(near(x, c, FACTOR) for _, x, c in ratios):
        off = " and ".join(what for what, x, c in ratios if not near(x, c, NEAR))
        return CAVEAT, f"{said}: {off} off the claimed ratio by more than ×{NEAR}, within ×{FACTOR:g}."
    off = " and ".join(what for what, x, c in ratios if not near(x, c, FACTOR))
    return FAILS, f"{said}: {off} more than ×{FACTOR:g} off the claimed ratio."


def _summary_research(f: Figures) -> str:
    return (f"gather ×{_x(f['gather_sequential_s'], f['gather_hybrid_s']):.1f} (claimed ×{f['claimed_gather_x']:.1f})"
            f" · turn ×{_x(f['turn_sequential_s'], f['turn_hybrid_s']):.1f} (claimed ×{f['claimed_turn_x']:.1f})")


POOL_MODES = {"hybrid": "a process pool", "asyncio": "the event loop", "threads": "threads"}


def _figures_pool(reports: list[list[RunReport]]) -> Figures:
    runs, = reports
    _ok(runs, "the research agent's turn")
    out: Figures = {"chunk_words": CHUNK_WORDS}
    for r in runs:
        stage = _stage(r, CPU_STAGE)
        out[r.mode] = {"turn_s": _r(r.wall_s), "cpu_stage_s": _r(stage["wall_s"]), "cpu_s": _r(stage["sum_cpu_s"]),
                       "loop_lag_ms": None if r.loop_lag_max_ms is None else _r(r.loop_lag_max_ms, 1)}
    return out


def judge_pool(f: Figures) -> Judgement:
    """Holds when the turn with its CPU stage in a process pool (hybrid) took at most 1/TURN_GAIN of the faster of
    the turns with it on the loop (asyncio) or in threads; a caveat when only its CPU stage was ×NO_SPEEDUP faster
    or the turn faster by less; else it does not hold."""
    pool, loop, threads = f["hybrid"], f["asyncio"], f["threads"]
    other = min(("asyncio", "threads"), key=lambda m: f[m]["turn_s"])
    gain = _x(f[other]["turn_s"], pool["turn_s"])
    stage_gain = _x(min(loop["cpu_stage_s"], threads["cpu_stage_s"]), pool["cpu_stage_s"])
    said = (f"the turn took {pool['turn_s']:.2f} s with its CPU stage ({pool['cpu_s']:.2f} s of CPU) in a process "
            f"pool, {loop['turn_s']:.2f} s with it on the event loop and {threads['turn_s']:.2f} s in threads; the "
            f"stage itself {pool['cpu_stage_s']:.2f} s against {loop['cpu_stage_s']:.2f} s and "
            f"{threads['cpu_stage_s']:.2f} s")
    if gain >= TURN_GAIN:
        return HOLDS, f"{said}: ×{gain:.2f} faster than in {POOL_MODES[other]}."
    if stage_gain >= NO_SPEEDUP or gain > 1:
        return CAVEAT, (f"{said}: the turn was only ×{gain:.2f} faster than in {POOL_MODES[other]} "
                        f"(the CPU stage ×{stage_gain:.2f}).")
    return FAILS, f"{said}: not faster than in {POOL_MODES[other]} (×{gain:.2f})."


def _summary_pool(f: Figures) -> str:
    return " · ".join(f"{POOL_MODES[m]} {f[m]['turn_s']:.2f} s" for m in POOL_MODES)


# -- the registry ----------------------------------------------------------------------------------------------------

CLAIMS: dict[int, Claim] = {c.id: c for c in (
    Claim(1, "With asyncio, “the total time is closer to the slowest task rather than the sum”.", ("A",),
          "app.py", "8 awaited web searches of different latencies (200 ms ± 100 %) on one loop: wall against the "
          "slowest call and against their sum", judge_slowest, _summary_slowest,
          (Runs("web_search:8", ({"mode": "asyncio"},), {"web_search": {"latency_ms": 200, "jitter": 1.0}}),),
          _figures_slowest, query={"preset": "fan_out", "mode": "asyncio"}),
    Claim(2, "Three tasks of 2, 3 and 1 s started with `create_task` take “~3 seconds … not 6”.", ("B1",),
          "pages/1_Compare.py", "three awaited calls of 200, 300 and 100 ms (the claim scaled ×0.1), one after "
          "another and then on one loop", judge_vs_claimed, _summary_vs_claimed, (_io_runs((200, 300, 100)),),
          _figures_vs_claimed(3.0, 6.0, 0.1), query={"preset": "rag_turn"}),
    Claim(3, "`gather` does not cancel the other tasks when one fails; `TaskGroup` does.", ("B1",),
          "pages/2_Failures.py", "3 web searches of 300 ms and one call that raises at once, on one loop: "
          "keep-going (gather) against cancel-siblings (TaskGroup)", judge_cancel, _summary_cancel,
          (Runs("web_search:3,vector_lookup:1",
                ({"mode": "asyncio", "on_error": "keep-going"}, {"mode": "asyncio", "on_error": "cancel-siblings"}),
                {"web_search": {"latency_ms": 300, "jitter": 0}, "vector_lookup": {"latency_ms": 50}},
                {"vector_lookup": ("raise", 1.0)}),), _figures_cancel),
    Claim(4, "A sync library called inside a coroutine blocks the event loop; run it in a thread "
             "(`run_in_executor`).", ("A", "B1", "B3"),
          "pages/3_Event_loop.py", "the loop's heartbeat with a blocking SDK (200 ms) and sqlite3 writes on the "
          "loop, in a thread, and through aiosqlite", judge_loop, _summary_loop,
          (Runs("legacy_sdk:2,web_search:4", ({"mode": "asyncio"}, {"mode": "hybrid"}),
                {"legacy_sdk": {"latency_ms": 200, "jitter": 0}, "web_search": {"latency_ms": 100}}),
           Runs("memory_write:4,web_search:4",
                ({"mode": "asyncio"}, {"mode": "asyncio", "async_twins": True}, {"mode": "hybrid"}),
                {"memory_write": {"rows": 20_000}, "web_search": {"latency_ms": 100}})),
          _figures_loop, query={"preset": "sdk_trap"}),
    Claim(5, "Threads do not speed up pure-Python CPU work (the GIL); processes do.", ("B3", "B1"),
          "pages/1_Compare.py", "4 pure-Python analysis calls one after another, in threads and in the process "
          "pool (the fastest of 3 runs each): true speedup and CPU per call", judge_gil, _summary_gil,
          (Runs("analysis:4", ({"mode": "sequential"}, {"mode": "threads"}, {"mode": "process-pool"}),
                {"analysis": {"work": 100_000}}, reps=3),), _figures_gil, query={"preset": "cpu_analysis"}),
    Claim(6, "“> 1000 tasks → asyncio” (threads for fewer).", ("B3",),
          "pages/4_Scaling.py", "10, 100 and 1,000 web searches of 100 ms in threads and on one loop",
          judge_scale, _summary_scale,
          tuple(Runs(f"web_search:{n}", ({"mode": "threads"}, {"mode": "asyncio"}),
                     {"web_search": {"latency_ms": 100, "jitter": 0}}) for n in SCALE_SIZES), _figures_scale),
    Claim(7, "A subprocess isolates crashes: a crash in the child does not take the parent down.", ("A", "B2"),
          "pages/2_Failures.py", "a segfaulting script among 3 web searches, in subprocess mode and in threads "
          "(the script then runs in the run's own process)", judge_crash, _summary_crash,
          (Runs("web_search:3,sandboxed_script:1", ({"mode": "subprocess"}, {"mode": "threads"}),
                {"web_search": {"latency_ms": 100}}, {"sandboxed_script": ("crash", 1.0)}),), _figures_crash,
          query={"preset": "isolated_scripts"}),
    Claim(8, "A subprocess gives a hard timeout; a hung thread has “no equivalent”.", ("B2",),
          "pages/2_Failures.py", f"a script that hangs {HANG_S:g} s under a {HANG_TIMEOUT_S:g} s timeout, in a child "
          "and in a thread", judge_hang, _summary_hang,
          (Runs("web_search:2,sandboxed_script:1", ({"mode": "subprocess"}, {"mode": "threads"}),
                {"web_search": {"latency_ms": 100}}, {"sandboxed_script": ("hang", HANG_S)}, HANG_TIMEOUT_S),),
          _figures_hang, query={"preset": "isolated_scripts"}),
    Claim(9, "Starting a process costs “~50–100ms”.", ("B2",),
          "pages/4_Scaling.py", f"`python -I -S -c pass`, `python -c pass` and a call's child running a trivial "
          f"script, each started {START_REPS} times", judge_start, _summary_start,
          measure=_measure_start, estimate=_estimate_start),
    Claim(10, "Fetching sources of 0.8, 1.2 and 0.5 s concurrently takes “~1.2 s total, not 2.5 s”.", ("B4–B6",),
          "pages/1_Compare.py", "three awaited calls of 400, 600 and 250 ms (the claim scaled ×0.5), one after "
          "another and then on one loop", judge_vs_claimed, _summary_vs_claimed, (_io_runs((400, 600, 250)),),
          _figures_vs_claimed(1.2, 2.5, 0.5), query={"preset": "rag_turn"}),
    Claim(11, "The research agent's first gather takes “~1.5s (vs ~4.5s sequential)”; a whole turn “~3-5s "
              "(sequential ≈ 10-15s)”.", ("B4–B6",),
          "pages/7_Pipelines.py", "the research_agent pipeline with 3 searches (the claim's 1.5 s against 4.5 s reads "
          f"as three calls), its latencies ×{PIPELINE_SCALE:g}, one call after another and in hybrid: the first "
          "gather's and the turn's ratios against the claimed ones", judge_research, _summary_research,
          (Runs("research_agent", ({"mode": "sequential"}, {"mode": "hybrid"}), _scaled("sdk"),
                pipeline={"k": 3, "fetch": "sdk"}),), _figures_research,
          query={"pipeline": "research_agent", "mode": "every", "k": 3}),
    Claim(12, "Embeddings in a process pool speed the turn up.", ("B4–B6",),
          "pages/7_Pipelines.py", f"the research_agent pipeline (4 searches, pages fetched asynchronously, latencies "
          f"×{PIPELINE_SCALE:g}) with its CPU stage (chunk_text on {CHUNK_WORDS:,} words a page, our stand-in for "
          "local embeddings) in a process pool (hybrid), on the event loop (asyncio) and in threads (the fastest of "
          "2 runs each)",
          judge_pool, _summary_pool,
          (Runs("research_agent", ({"mode": "hybrid"}, {"mode": "asyncio"}, {"mode": "threads"}),
                {**_scaled("io"), "chunk_text": {"words": CHUNK_WORDS}}, pipeline={"k": 4, "fetch": "io"}, reps=2),),
          _figures_pool, query={"pipeline": "research_agent", "mode": "every", "k": 4, "fetch": "io"}),
)}


# -- running them ----------------------------------------------------------------------------------------------------

def parse_only(text: str | None, what: str = "--only") -> list[int]:
    """``"1,2"`` -> ``[1, 2]`` (None: every claim); BadInput names a bad id (as ``what`` gave it) and the allowed."""
    if text is None:
        return list(CLAIMS)
    allowed = f"claims are {min(CLAIMS)}..{max(CLAIMS)}"
    ids: list[int] = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        if not (item.isascii() and item.isdigit()) or int(item) not in CLAIMS:
            raise BadInput(f"{what} {item[:40]!r} is not a claim: {allowed}")
        if int(item) not in ids:
            ids.append(int(item))
    if not ids:
        raise BadInput(f"{what} {str(text)[:40]!r} names no claim: {allowed}")
    return ids


def _checked(ids: Iterable[int] | None) -> list[int]:
    if ids is None:
        return list(CLAIMS)
    out = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or i not in CLAIMS:
            raise BadInput(f"claim {str(i)[:40]!r} is not known: claims are {min(CLAIMS)}..{max(CLAIMS)}")
        if i not in out:
            out.append(i)
    if not out:
        raise BadInput(f"no claim chosen: claims are {min(CLAIMS)}..{max(CLAIMS)}")
    return out


def estimate(ids: Iterable[int] | None = None) -> Estimate:
    """A conservative length of the chosen claims' experiments, before anything runs (agent_core.budget)."""
    chosen = _checked(ids)
    return Estimate(sum(CLAIMS[i].estimate_s() for i in chosen), len(chosen), "the number of claims")


def judge(claim_id: int, figures: Figures) -> Judgement:
    """The verdict and its reason for ``figures`` of claim ``claim_id``: the one place a verdict is computed."""
    return CLAIMS[claim_id].judge(figures)


def measure_claim(claim_id: int, emit: Emit | None = None) -> ClaimResult:
    """Run one claim's experiment now and judge it. An experiment that cannot measure (a call failed, the
    backend is down) gives :data:`UNMEASURED` with why, never a made-up verdict."""
    c = CLAIMS[_checked([claim_id])[0]]
    result = ClaimResult(c.id, c.claim, ", ".join(c.sources), c.page, c.how, UNMEASURED, "")
    started = time.perf_counter()
    try:
        figures = c.run(emit)
    except BadInput:
        raise
    except AgentCoreError as exc:
        result.reason = f"the experiment could not measure: {exc}"
    else:
        result.measured, result.summary = figures, c.summary(figures)
        result.verdict, result.reason = c.judge(figures)
    result.seconds = time.perf_counter() - started
    result.load_1m = _r(os.getloadavg()[0], 2)
    return result


def machine_note(results: Iterable[ClaimResult]) -> str:
    """The machine the claims were measured on, and how busy it was: more runnable work than cores distorts times."""
    loads = [r.load_1m for r in results if r.load_1m is not None]
    cores = usable_cores()
    if not loads:
        return f"{cores} cores"
    note = f"{cores} cores, 1-minute load average up to {max(loads):.1f}"
    if max(loads) > cores:
        note += ": more work than cores ran beside the experiments, so their times are stretched"
    return note


def measure_claims(ids: Iterable[int] | None = None, emit: Emit | None = None) -> list[ClaimResult]:
    """Run the chosen claims' experiments (default: all), one after another, and judge each. ``emit`` gets a
    :class:`~agent_core.scaling.Progress` before and after each claim and every run's report."""
    chosen = _checked(ids)
    results = []
    for k, claim_id in enumerate(chosen):
        if emit is not None:
            emit(Progress(k, len(chosen), f"claim {claim_id}: {CLAIMS[claim_id].how}"))
        results.append(measure_claim(claim_id, emit))
        if emit is not None:
            emit(Progress(k + 1, len(chosen), f"claim {claim_id}: {results[-1].verdict}"))
    return results
