"""A tool's kind, from measurement: what it does when run alone, two at once in threads, and on an event loop.

For each tool, in this process, against the embedded backend:

1. **alone**, ``runs`` times: its wall and the CPU time of the thread (or the coroutine's own steps) that ran
   it: the *CPU share* of its wall, read against the share a pure-Python loop gets at that moment (on a busy
   machine even pure computation gets less than its whole wall);
2. **two copies at once in two threads**: their wall against one copy's. About 1× means they overlapped (the
   tool waits, or its C code releases the GIL); about 2× means they took turns, on the GIL or on something
   they share (two SQLite writers take turns on their file's lock with the GIL free). So the GIL is measured
   on its own too: how long another thread waits to get it back while the tool runs (``gil_held``: the median
   wait over the interpreter's 5 ms switch interval, 0..1);
3. **on an event loop** next to a heartbeat that wakes every 5 ms, called the way plain asyncio code calls it
   (awaited if it is a coroutine function, else inline): how late the heartbeat woke, that is how long the tool
   froze the loop.

The verdict: a coroutine function that leaves the loop beating and mostly waits is ``io`` (await it); a function
that freezes the loop but leaves the GIL free is ``blocking`` (a thread); one that mostly computes and holds the
GIL is ``cpu`` (a process pool). ``isolated`` is a decision about trust (the code may hang, crash or
eat memory), which no timing shows: a tool declared isolated stays isolated. A declared kind the measurement
contradicts is flagged (``contradicts``).
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ._execute import run_tool, run_tool_async
from .catalog import CATALOG
from .engine.resources import Resources
from .errors import BadInput
from .heartbeat import Heartbeat
from .machine import usable_cores
from .usertools import impl_of
from .workload import Options, Workload

CPU_SHARE = 0.5             # at or above: the tool mostly computes
SERIALISED = 1.5            # two copies in threads took at least this many times one copy's wall: they took turns
GIL_HELD = 0.5              # at or above: the tool held the GIL for most of its run
GIL_WINDOW_S = 0.25         # the GIL probe runs the tool again and again for at least this long
GIL_NAP_S = 0.0005          # …while another thread naps this long, again and again, and notes how late it wakes
FROZE_S = 0.020             # a heartbeat this late, and at least FROZE_SHARE of the call, means it froze the loop
FROZE_SHARE = 0.5           # (a blocking call freezes the loop for about its whole wall; an awaiting one, not)
CALIBRATE_S = 0.03          # CPU seconds of the pure-Python loop that measures how much CPU a thread gets now
MAX_RUNS = 10
MAX_TOOLS = 50


@dataclass
class Verdict:
    name: str
    kind: str                   # what the measurement recommends
    declared: str | None        # what its author declared (built-in tools: their catalog kind)
    evidence: dict
    reason: str                 # one sentence: the evidence, then the recommendation
    contradicts: bool           # declared, and the measurement says otherwise

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "declared": self.declared, "evidence": self.evidence,
                "reason": self.reason, "contradicts": self.contradicts}


def classify(tools: Iterable[str] | None = None, *, runs: int = 3, params: dict | None = None,
             timeout_s: float = 30.0, progress=None) -> list[Verdict]:
    """Measure each tool (default: your tools if any are registered, else the built-in ones) and recommend a
    kind. ``params``: ``{tool: {param: value}}`` (checked like a run's); ``progress(text)`` is told each step."""
    from . import usertools
    names = list(tools) if tools is not None else (usertools.user_tools() or list(CATALOG))
    if not names or len(names) > MAX_TOOLS:
        raise BadInput(f"classify takes 1..{MAX_TOOLS} tools, not {len(names)}")
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise BadInput(f"runs={runs!r} is out of range: allowed 1..{MAX_RUNS}")
    workload = Workload.of({n: 1 for n in names}, {n: p for n, p in (params or {}).items() if n in names})
    resolved = workload.params
    with _Context(workload, timeout_s) as context:
        out = []
        for name in names:
            if progress is not None:
                progress(f"measuring {name}…")
            evidence = _measure(name, resolved[name], runs, context)
            if usertools.is_user_tool(name):
                usertools.remember(name, evidence["wall_ms"] / 1000, evidence["cpu_ms"] / 1000)
            out.append(_verdict(name, evidence, usertools))
        return out


class _Context:
    """What the tools' calls need, prepared once by the engine's own :class:`~agent_core.engine.resources.Resources`
    for a workload of one call of each tool: the backend, a database file, a client for in-process sync calls."""

    def __init__(self, workload: Workload, timeout_s: float) -> None:
        self.resources = Resources(workload, Options(timeout_s=timeout_s))
        self.calls = {c.tool: c for c in workload.calls()}

    def __enter__(self) -> _Context:
        self.resources.prepare()
        return self

    def __exit__(self, *exc) -> None:
        self.resources.release()

    def ctx(self, name: str, http=None):
        # one call, so one call id and one seed, for every call of a tool: a tool whose behaviour depends on its
        # seed (a seeded stall, jitter) behaves the same alone, in the pair and on the loop, and the figures compare
        ctx = self.resources.ctx(self.calls[name], remote=False)
        if http is not None:
            ctx.http = http
        return ctx

    def run_sync(self, name: str, params: dict):
        """The tool's blocking implementation, in this thread: its Outcome."""
        ctx = self.ctx(name)
        return run_tool(impl_of(name, "sync", ctx), params, ctx)

    async def run_async(self, name: str, params: dict, http):
        """The tool's async implementation, awaited on the running loop with ``http`` as its client."""
        ctx = self.ctx(name, http)
        return await run_tool_async(impl_of(name, "aio", ctx), params, ctx)


def _is_async(name: str) -> bool:
    """The tool's own implementation is a coroutine function: a user's async def, a built-in io tool."""
    spec = CATALOG[name]
    return spec.aio is not None and (spec.kind == "io" or bool(spec.origin))


def _once(name: str, params: dict, context: _Context) -> tuple[float, float, str | None]:
    """One call in this thread: (wall, CPU of the code that ran it, error or None)."""
    t = time.perf_counter()
    if _is_async(name):
        async def go():
            import httpx

            from .tools.http_tools import ssl_context
            async with httpx.AsyncClient(timeout=None, verify=ssl_context()) as http:
                return await context.run_async(name, params, http)
        outcome = asyncio.run(go())
    else:
        outcome = context.run_sync(name, params)
    return time.perf_counter() - t, outcome.cpu_s or 0.0, outcome.error if outcome.status != "ok" else None


def _pair(name: str, params: dict, context: _Context) -> float:
    """Two copies started together in two threads: the wall until both are done."""
    gate = threading.Barrier(3)
    errors: list[str] = []

    def one():
        gate.wait()
        error = _once(name, params, context)[2]
        if error:
            errors.append(error)

    threads = [threading.Thread(target=one, name=f"classify-{name}-{i}") for i in range(2)]
    for th in threads:
        th.start()
    gate.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    return time.perf_counter() - t


def _gil_held(name: str, params: dict, context: _Context) -> float:
    """How long another thread waits for the GIL while the tool runs (again and again, for at least
    ``GIL_WINDOW_S``), as a share of the interpreter's switch interval: this thread sleeps 0.5 ms and notes how
    late it wakes. A tool that holds the GIL (pure Python) makes it wait the whole interval, 5 ms, every time; one
    that waits, or computes in C with the GIL released (hashlib, sqlite3), lets it back at once (~0.07 ms here).
    The median wake-up is read, so a busy machine's occasional late wake-up does not count. Unlike two copies
    in threads, this shares nothing with the tool (two copies may take turns on a lock of their own, a SQLite
    file's, with the GIL free)."""
    done = threading.Event()

    def repeat() -> None:
        until = time.perf_counter() + GIL_WINDOW_S
        try:
            while time.perf_counter() < until:
                _once(name, params, context)
        finally:
            done.set()

    late: list[float] = []
    worker = threading.Thread(target=repeat, name=f"classify-{name}")
    worker.start()
    while not done.is_set():
        t = time.perf_counter()
        time.sleep(GIL_NAP_S)
        late.append(time.perf_counter() - t - GIL_NAP_S)
    worker.join()
    return round(min(1.0, statistics.median(late) / sys.getswitchinterval()), 3) if late else 0.0


def _loop_lag(name: str, params: dict, context: _Context) -> float:
    """The heartbeat's worst lateness (s) while the tool runs the way plain asyncio code would call it."""

    async def go():
        import httpx

        from .tools.http_tools import ssl_context
        async with httpx.AsyncClient(timeout=None, verify=ssl_context()) as http:   # its set-up: before the beats
            beat = Heartbeat(time.perf_counter)
            beat.start()
            await asyncio.sleep(0.02)               # a few beats first
            if _is_async(name):
                await context.run_async(name, params, http)
            else:                                   # inline on the loop's thread, as a sync call in async code is
                context.run_sync(name, params)
        await asyncio.sleep(0.02)
        await beat.stop()
        return max((lag for _, lag in beat.samples), default=0.0)

    return asyncio.run(go())


def _cpu_available(seconds: float = CALIBRATE_S) -> float:
    """The share of its wall that a pure-Python loop gets as CPU right now: 1.0 on an idle core, less when
    other processes want the cores too. A tool's CPU share is read against it, so a shared machine's load
    does not make CPU work look like waiting."""
    t, c = time.perf_counter(), time.thread_time()
    x = 0
    while time.thread_time() - c < seconds and time.perf_counter() - t < 20 * seconds:
        for i in range(2000):
            x += i * i % 7
    return max(0.05, min(1.0, (time.thread_time() - c) / (time.perf_counter() - t)))


def _measure(name: str, params: dict, runs: int, context: _Context) -> dict:
    _once(name, params, context)                    # warm: imports, connections, a file's first load
    available, alone = [], []
    for _ in range(runs):
        available.append(_cpu_available())
        alone.append(_once(name, params, context))
    available.append(_cpu_available())
    errors = [e for _, _, e in alone if e]
    wall = statistics.median(w for w, _, _ in alone)
    cpu = statistics.median(c for _, c, _ in alone)
    share = min(1.0, cpu / wall / statistics.median(available)) if wall > 0 else 0.0
    pair = _pair(name, params, context)
    gil = _gil_held(name, params, context)
    lag = _loop_lag(name, params, context)
    return {"coroutine": _is_async(name), "runs": runs, "wall_ms": round(wall * 1000, 1),
            "cpu_ms": round(cpu * 1000, 1), "cpu_share": round(share, 3),
            "cpu_available": round(statistics.median(available), 3),
            "two_in_threads_x": round(pair / wall, 2) if wall > 0 else None, "gil_held": gil,
            "loop_lag_ms": round(lag * 1000, 1), "cores": usable_cores(),
            "errors": len(errors), **({"first_error": errors[0][:200]} if errors else {})}


def _verdict(name: str, e: dict, usertools) -> Verdict:
    declared = usertools.declared_kind(name) if usertools.is_user_tool(name) else CATALOG[name].kind
    share, lag_ms, pair = e["cpu_share"], e["loop_lag_ms"], e["two_in_threads_x"]
    froze = lag_ms / 1000 >= FROZE_S and lag_ms >= FROZE_SHARE * e["wall_ms"]
    computes = share >= CPU_SHARE
    serialised = pair is not None and pair >= SERIALISED
    cpu_text = f"{share:.0%} CPU"
    if e["coroutine"] and not froze:
        kind = "cpu" if computes else "io"
        why = (f"async, {cpu_text}, the loop kept beating (worst lag {lag_ms:g} ms)"
               + (": it computes on the loop → cpu, a process pool" if computes else " → io, await it"))
    elif e["coroutine"]:
        kind = "cpu" if computes else "blocking"
        why = (f"async but froze the loop {lag_ms:g} ms, {cpu_text}"
               + (" → cpu, a process pool" if computes else ": it calls something blocking → blocking, a thread"))
    elif computes and e["gil_held"] >= GIL_HELD:
        kind = "cpu"
        why = (f"sync, {cpu_text}, held the GIL {e['gil_held']:.0%} of its run (two copies in threads took "
               f"{pair:g}× one) → cpu, a process pool")
    else:
        kind = "blocking"
        why = f"sync, {cpu_text}, froze the loop {lag_ms:g} ms"
        if computes:
            why += f", yet left the GIL free {1 - e['gil_held']:.0%} of its run (its work is in C)"
            if serialised:
                why += f"; two copies in threads took {pair:g}× one: they wait on something else (a lock, a file)"
        why += " → blocking, a thread"
    if declared == "isolated":
        why = (f"declared isolated, and kept: isolation is about what code may do (hang, crash, eat memory), "
               f"which no timing shows (measured: {why})")
        kind = "isolated"
    if e["errors"]:
        why += f"; {e['errors']} of {e['runs']} runs failed ({e.get('first_error', '')})"
    contradicts = declared is not None and declared != kind
    if contradicts:
        why += f"; declared {declared}, which the measurement contradicts"
    return Verdict(name, kind, declared, e, f"{name}: {why}", contradicts)
