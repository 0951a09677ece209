"""How long a page job may take: a conservative estimate, made before anything runs, and the limit it must meet.

A *page job* is what one press of a page's Run button measures: one run (Playground), a run per chosen mode
(Compare, Failures, Event loop) or a sweep (Scaling). The app measures one job at a time, so a job's length
is also every later visitor's wait: a job estimated over :data:`JOB_LIMIT_S` is refused before it starts,
and a visitor is never asked to wait behind more than :data:`MAX_WAIT_S` of estimated work.

The estimate is an *upper* one, from the workload alone (no clock is read): each call's CPU and waiting time
from its parameters, combined the way the lane each mode sends them to runs them (a list-scheduling bound on
its threads, workers or children; the GIL serialises CPU work in threads; an event loop runs every call it
does not await one after another; lanes of one run are added up; a pipeline's calls, which wait for each
other, take at least their longest chain of costs, plus what the lanes' other calls can hold it up, and with a
barrier stage after stage), times :data:`MARGIN`, plus a run's set-up,
and never more than the engine's own bound on a run (:data:`~agent_core.workload.MAX_RUN_S` plus the longest
call, which may still be finishing then). A call's timeout does not shorten its estimate (a call on the loop
or in the caller's thread cannot be interrupted, an abandoned thread keeps its core busy); an injected hang
or spin counts at its bound: the call's timeout where the mode can interrupt or abandon the call, its full
length where it cannot (see :func:`fault_seconds`).

The per-unit costs below were measured on this project's 2-core machine with ``agent_core.run`` (see
``tests/test_queue.py``, which checks that real runs stay under their estimates) and rounded up.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .catalog import CATALOG, KINDS
from .errors import BadInput
from .machine import default_processes, usable_cores
from .modes import BASELINE, get_mode
from .tools import TOOL_CALL_CHUNKS
from .workload import MAX_RUN_S, Workload

JOB_LIMIT_S = 300.0          # a page job estimated longer than this is refused (the engine's bound on one run)
MAX_WAIT_S = 2 * JOB_LIMIT_S  # nobody joins a queue whose jobs ahead are estimated longer than this
MARGIN = 1.5                 # on top of costs that are already rounded up: a shared machine is noisy

# measured here, rounded up (measured value in brackets)
NET_CALL_S = 0.06            # a blocking HTTP round trip with no server latency (0.037 s)
AWAIT_CPU_S = 0.003          # the loop's CPU per awaited request (1.7 ms at 1,000 requests)
TOKEN_CPU_S = 20e-6          # the client's CPU per streamed token (~4 µs)
COMMIT_S = 0.02              # one memory_write's connection and durable commit (0.02 s with 5,000 rows)
ROW_S = 5e-6                 # per row written (3.5 µs)
WORD_S = 2.5e-6              # per word of analysis (1.9 µs on a loaded machine; 0.85 µs idle)
PAGE_WORD_S = 2e-6           # fetch_page: the server writing a page, per word (1.1 µs uncached)
PARSE_WORD_S = 0.5e-6        # fetch_page: the client reading it, per word (0.08 µs)
CHUNK_WORD_S = 25e-6         # chunk_text per word, times chunk_words / (chunk_words - overlap) (6-14 µs, loaded)
RERANK_WORD_S = 1.5e-6       # rerank per passage word (0.53-0.87 µs)
RERANK_PASSAGE_S = 20e-6     # rerank per passage (~8 µs)
SCRIPT_S = {"word_count": 1e-6, "primes": 1e-6, "json_summary": 5e-6}   # per unit of size (0.4, 0.5, 3.3 µs)
CHILD_S = 0.35               # CPU to start a call's child interpreter and import its tool (0.17-0.25 s)
RUN_SETUP_S = 2.0            # a run's set-up outside the clock: a new pool, a sacrificial host (0.2-0.9 s)
CLUSTER_START_S = 5.0        # the embedded Dask cluster, if it is not up yet (2.3 s)
FAULT_COST_S = {"raise": 0.0, "crash": 0.5, "memory": 2.0}   # hang and spin cost their own seconds
SWEEP_OVERRUN_S = 20.0       # a sweep may end one point (and its set-up) past its budget
USER_CALL_S = 1.0            # one call of a user's tool nobody has classified yet (see agent_core.usertools)
USER_MARGIN = 2.0            # on a user's tool's measured wall and CPU: one classify is a small sample
CLASSIFY_CALLS = 6           # calls per tool beyond its runs: a warm-up, two at once, one on the loop (+ margin)

# what a user can lower to shorten a tool's calls, named as the page's widgets name it
KNOBS = {"llm_call": "tokens or latency", "web_search": "latency", "vector_lookup": "latency",
         "legacy_sdk": "latency", "memory_write": "rows per write", "analysis": "work (words)",
         "sandboxed_script": "script size", "fetch_page": "latency or words", "chunk_text": "words",
         "rerank": "candidates or words per passage", "embed": "latency or texts"}


@dataclass(frozen=True)
class Estimate:
    """A job's conservative length in seconds, how many runs it makes, and what would shorten it most."""

    seconds: float
    runs: int
    lower: str

    def checked(self, also: str = "", limit_s: float = JOB_LIMIT_S) -> float:
        """The seconds, if within ``limit_s``; else BadInput: one line with the estimate and what to lower."""
        if self.seconds > limit_s:
            raise BadInput(f"this job is estimated at up to {math.ceil(self.seconds)} s, over the {limit_s:g} s a "
                           f"page job may take: lower {self.lower}" + (f", or {also}" if also else ""))
        return self.seconds


@dataclass(frozen=True)
class _Cost:
    """One call alone on one core: CPU it holds, time it waits (network, a server's pacing, a hang)."""

    tool: str
    kind: str
    cpu: float
    wait: float

    @property
    def total(self) -> float:
        return self.cpu + self.wait


def _call_cost(tool: str, params: dict) -> _Cost:
    spec = CATALOG[tool]
    cpu = wait = 0.0
    if tool == "llm_call":
        ttft = params["ttft_ms"] / 1000 * (1 + params["jitter"])
        tokens = params["tokens"]
        if params.get("offer"):                 # the model answers with tool calls, streamed in chunks
            tokens = max(tokens, TOOL_CALL_CHUNKS * int(params.get("tool_calls") or 1))
        wait = min(10.0, ttft + tokens / params["tokens_per_s"]) + NET_CALL_S
        cpu = AWAIT_CPU_S + tokens * TOKEN_CPU_S
    elif tool == "fetch_page":
        wait = min(10.0, params["latency_ms"] / 1000 * (1 + params["jitter"])) + NET_CALL_S
        wait += params["words"] * PAGE_WORD_S
        cpu = AWAIT_CPU_S + params["words"] * PARSE_WORD_S
    elif spec.kind == "io" or tool == "legacy_sdk":
        wait = min(10.0, params["latency_ms"] / 1000 * (1 + params.get("jitter", 0.0))) + NET_CALL_S
        cpu = AWAIT_CPU_S
    elif tool == "memory_write":
        cpu = COMMIT_S + params["rows"] * ROW_S
    elif tool == "analysis":
        cpu = params["work"] * WORD_S
    elif tool == "chunk_text":
        cpu = params["words"] * CHUNK_WORD_S * params["chunk_words"] / (params["chunk_words"] - params["overlap"])
    elif tool == "rerank":
        cpu = params["candidates"] * (params["words_per"] * RERANK_WORD_S + RERANK_PASSAGE_S)
    elif tool == "sandboxed_script":
        cpu = CHILD_S + params["size"] * SCRIPT_S.get(params["script"], max(SCRIPT_S.values()))
    elif spec.origin:                           # a user's tool: what classify measured, or a guess until then
        from .usertools import measured
        wall, cpu = measured(tool) or (USER_CALL_S, 0.0)
        wall, cpu = wall * USER_MARGIN, cpu * USER_MARGIN
        wait = max(0.0, wall - cpu) + (CHILD_S if spec.kind == "isolated" else 0.0)
    else:                                       # a tool this module does not know yet: assume the worst
        wait = MAX_RUN_S
    return _Cost(tool, spec.kind, cpu, wait)


def _cost_of(call, workload: Workload) -> _Cost:
    """A call's cost; a pipeline's slot the model fills in with one of the tools offered costs as the dearest."""
    cost = _call_cost(call.tool, call.params)
    for tool in call.offer:
        other = _call_cost(tool, workload.params.get(tool) or CATALOG[tool].defaults())
        if other.total > cost.total:
            cost = _Cost(call.tool, call.kind, other.cpu, other.wait)
    return cost


def _costs(workload: Workload) -> list[_Cost]:
    return [_cost_of(c, workload) for c in workload.calls()]


def _routes(mode: str) -> dict[str, str]:
    """Tool kind -> the lane the mode runs it in (every kind, so an unrouted one is never left out)."""
    routes = getattr(get_mode(mode), "ROUTES", {})
    return {kind: routes.get(kind, "?") for kind in KINDS}


def fault_seconds(workload: Workload, mode: str, timeout_s: float = 30.0) -> float:
    """What the workload's injected faults add to a run in ``mode``, at their bound. A hang ends at the call's
    timeout where its lane can interrupt or abandon the call, and lasts its full length where it cannot (the
    caller's own thread, the event loop's thread for a call it does not await). A spin counts in full
    everywhere: a thread abandoned at its timeout keeps the GIL busy for the rest of it."""
    routes = _routes(mode)
    extra = 0.0
    for call in workload.calls():
        if call.fault == "hang":
            lane = routes[call.kind]
            stuck = lane == "here" or (lane == "loop" and call.kind != "io")
            extra += call.fault_s if stuck else min(call.fault_s, timeout_s)
        elif call.fault == "spin":
            extra += call.fault_s
        elif call.fault is not None:
            extra += FAULT_COST_S.get(call.fault, 0.0)
    return extra


def _spread(durations: list[float], lanes: int) -> float:
    """Greedy list scheduling of ``durations`` on ``lanes``: never longer than Σ/lanes + (1 - 1/lanes)·max."""
    if not durations:
        return 0.0
    lanes = max(1, lanes)
    if lanes >= len(durations):
        return max(durations)
    return sum(durations) / lanes + (1 - 1 / lanes) * max(durations)


def _pool(costs: list[_Cost], lanes: int, cores: int, extra_cpu: float = 0.0) -> float:
    """Calls on ``lanes`` workers of their own (processes, children): CPU shares the cores, waiting overlaps."""
    if not costs:
        return 0.0
    cpu = sum(c.cpu + extra_cpu for c in costs) / max(1, min(lanes, cores))
    wait = sum(c.wait for c in costs) / max(1, lanes)
    return cpu + wait + max(c.total + extra_cpu for c in costs)


def _loop(costs: list[_Cost], limit: int | None) -> float:
    """An event loop: ``io`` calls overlap their waiting (at most ``limit`` at once); the loop runs their
    client work, and every other call itself, one after another."""
    waits = [c for c in costs if c.kind == "io"]
    serial = sum(c.total for c in costs if c.kind != "io") + sum(c.cpu for c in waits)
    return serial + _spread([c.wait for c in waits], limit or len(waits))


def _lane_size(lane: str, sizes: dict[str, int], default: int) -> int:
    size = sizes.get(lane)
    if size:
        return int(size)
    if lane in ("thread", "child"):             # their modules are light; dask's is not, and sizes itself
        from .lanes import lane_class
        return int(getattr(lane_class(lane), "default_size", None) or default)
    return default


def _lane_wall(lane: str, costs: list[_Cost], plan) -> float:
    """The longest ``costs`` should take in ``lane`` (the engine's lanes: :mod:`agent_core.lanes`)."""
    cores, sizes = usable_cores(), dict(getattr(plan, "sizes", {}) or {})
    if not costs:
        return 0.0
    if lane == "here":                          # one after another in the caller's thread
        return sum(c.total for c in costs)
    if lane == "loop":
        return _loop(costs, getattr(plan, "limit", None))
    if lane == "thread":                        # waiting overlaps on the threads; CPU work takes turns (GIL)
        return sum(c.cpu for c in costs) + _spread([c.wait for c in costs], _lane_size(lane, sizes, 32))
    if lane == "pool":
        return _pool(costs, _lane_size(lane, sizes, default_processes()), cores)
    if lane == "child":
        return _pool(costs, _lane_size(lane, sizes, 8), cores, extra_cpu=CHILD_S)
    if lane == "dask":                          # worker processes, one per core unless sized
        return _pool(costs, _lane_size(lane, sizes, default_processes()), cores)
    return len(costs) * MAX_RUN_S               # a lane this module does not know yet: assume the worst


def _flat_wall(costs: list[_Cost], routes: dict[str, str], plan) -> float:
    """Calls that wait for nothing: each lane's share, added up (lanes of one run overlap in fact: an upper bound)."""
    by_lane: dict[str, list[_Cost]] = {}
    for cost in costs:
        by_lane.setdefault(routes[cost.kind], []).append(cost)
    return sum(_lane_wall(lane, group, plan) for lane, group in by_lane.items())


def _graph_wall(calls: list, costs: list[_Cost], routes: dict[str, str], plan) -> float:
    """Calls that wait for their ``deps`` (indices among ``calls``' own; others are ignored). One after another in
    the caller's thread: Σ. Elsewhere, a list-scheduling bound with precedence (Graham's, per lane): the longest
    chain of estimated costs (a child's start-up included), plus what each lane's other calls can hold it up
    (its bound on its calls less its longest call, which the chain stands for)."""
    lanes = {routes[c.kind] for c in costs}
    at = {c.index: i for i, c in enumerate(calls)}
    if lanes == {"here"} or not any(d in at for c in calls for d in c.deps):
        return _flat_wall(costs, routes, plan)
    extra = {lane: (CHILD_S if lane == "child" else 0.0) for lane in lanes}
    own = [cost.total + extra[routes[cost.kind]] for cost in costs]
    chain = [0.0] * len(calls)
    for i, c in enumerate(calls):            # calls come in dependency order (a dep is an earlier call)
        chain[i] = own[i] + max((chain[at[d]] for d in c.deps if d in at), default=0.0)
    by_lane: dict[str, list[_Cost]] = {}
    for cost in costs:
        by_lane.setdefault(routes[cost.kind], []).append(cost)
    held = sum(max(0.0, _lane_wall(lane, group, plan) - max(c.total + extra[lane] for c in group))
               for lane, group in by_lane.items())
    return max(chain) + held


def mode_wall(workload: Workload, mode: str, workers: int | None = None, barrier: bool = False) -> float:
    """The longest ``mode`` should take to run ``workload`` once, set-up excluded and before the margin. Flat
    calls: each lane's share of them, added up. A pipeline's calls wait for each other (see :func:`_graph_wall`);
    with ``barrier``, stage after stage, each stage bounded the same way."""
    plan = get_mode(mode).plan(workload, workers)
    routes = _routes(mode)
    calls, costs = workload.calls(), _costs(workload)
    if not workload.graph:
        return _flat_wall(costs, routes, plan)
    ready = _graph_wall(calls, costs, routes, plan)
    if not barrier:
        return ready
    wall = 0.0
    for stage in dict.fromkeys(c.stage for c in calls):
        members = [i for i, c in enumerate(calls) if c.stage == stage]
        wall += _graph_wall([calls[i] for i in members], [costs[i] for i in members], routes, plan)
    return max(wall, ready)             # a barrier only adds waits


def run_seconds(workload: Workload, mode: str, workers: int | None = None, timeout_s: float = 30.0,
                barrier: bool = False) -> float:
    """One run's conservative length: the mode's wall with the margin, its faults at their bound, and set-up;
    at most the engine's bound on a run (calls still pending at ``MAX_RUN_S`` are cancelled; those running
    may finish)."""
    longest = max((c.total for c in _costs(workload)), default=0.0)
    faults = fault_seconds(workload, mode, timeout_s)
    setup = RUN_SETUP_S + (CLUSTER_START_S if "dask" in _routes(mode).values() else 0.0)
    wall = MARGIN * mode_wall(workload, mode, workers, barrier) + faults + setup
    return min(wall, MAX_RUN_S + MARGIN * longest + faults + setup)


def _lower(workload: Workload) -> str:
    """What shortens the job most: the tool whose calls add up to the most time, or an injected hang or spin."""
    by_tool: dict[str, float] = {}
    for c in workload.calls():
        by_tool[c.tool] = by_tool.get(c.tool, 0.0) + _call_cost(c.tool, c.params).total
    tool = max(by_tool, key=by_tool.get)
    hint = f"{tool}'s calls ({workload.counts[tool]}) or its {KNOBS.get(tool, 'parameters')}"
    slow = [(kind, s) for kind, s in workload.faults.values() if kind in ("hang", "spin")]
    if slow and slow[0][1] >= by_tool[tool]:
        return f"how long the {slow[0][0]} lasts ({slow[0][1]:g} s), or {hint}"
    return hint


def estimate_runs(workload: Workload, variants: Iterable[dict], workers: int | None = None, timeout_s: float = 30.0,
                  barrier: bool = False, **_ignored) -> Estimate:
    """A job of one run per variant (``{"mode": ..., **options}``, as :func:`agent_core.run_many` takes them),
    one after another; ``barrier`` (a pipeline's stage after stage) counts, per variant or for all. Options that do
    not change the estimate (seed, on_error, async_twins: aiosqlite runs on the loop's side as sqlite3 would) are
    accepted and ignored, so a page can pass what it passes to
    the engine."""
    seconds, runs = 0.0, 0
    for variant in variants:
        mode = variant["mode"]
        w = variant.get("workers", workers)
        if w is not None:
            w = min(w, get_mode(mode).MAX_WORKERS)
        seconds += run_seconds(workload, mode, w, float(variant.get("timeout_s", timeout_s)),
                               bool(variant.get("barrier", barrier)))
        runs += 1
    return Estimate(seconds, runs, _lower(workload))


def estimate_compare(workload: Workload, modes: Iterable[str], baseline: bool = True, **options) -> Estimate:
    """What :func:`agent_core.compare` runs: each mode once, the sequential baseline first."""
    order = list(dict.fromkeys(modes))
    if baseline:
        order = [BASELINE] + [m for m in order if m != BASELINE]
    return estimate_runs(workload, [{"mode": m} for m in order], **options)


def estimate_classify(tools: Iterable[str], runs: int = 3) -> Estimate:
    """What :func:`agent_core.classify` runs: each tool alone ``runs`` times and a few more calls, one
    after another (a tool's own parameters at their defaults)."""
    seconds = 0.0
    for tool in tools:
        seconds += (runs + CLASSIFY_CALLS) * _call_cost(tool, CATALOG[tool].defaults()).total * MARGIN
    return Estimate(seconds + RUN_SETUP_S, 1, "the number of tools to classify, or their runs")


def estimate_sweep(budget_s: float) -> Estimate:
    """A scaling sweep stops starting points at its own budget; the point under way may overrun it."""
    return Estimate(float(budget_s) + SWEEP_OVERRUN_S, 1, "the sweep's time budget")
