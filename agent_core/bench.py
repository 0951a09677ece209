"""``python -m agent_core bench``: how close the engine gets to the physical limits of this machine.

Every figure is a ratio of two walls measured side by side in the same run (these machines are shared
and noisy: absolute times are context only), each the median of a few repetitions:

- P1  engine wall / bare-stdlib wall for the same calls, per mode (N=100)          target <= 1.05
- P2  hybrid wall / critical path, 100 real HTTP calls of 200 ms                     target <= 1.10
- P3  hybrid wall / critical path, 1,000 real HTTP calls of 200 ms                   target <= 5
      (P2 and P3 once per async HTTP transport, ``workload.HTTP_CLIENTS``: rows ``P2 httpx``, ``P2 aiohttp``, ...)
- P4  process-pool true speedup, 4 x 200 ms of pure-Python CPU, on this machine      target >= 1.9
- P5  a subprocess call's overhead / the interpreter-start floor                     target <= 1.5
- P6  hybrid max event-loop lag with blocking and CPU tools in the workload          target <= 10 ms
- P7  Playground click -> chart, beyond the run's wall (measured by the browser test) target <= 300 ms
- P8  distributed wall / bare-Dask wall (client.submit, gather), same cluster        target <= 1.10
- P10a a first visit: starting the app server to an enabled Run button on the Playground (s)  target <= 3
- P10b the first visit's first Run: click to chart, beyond the run's wall (s)         target <= 0.5
  (both measured in fresh app servers driven by Debian's chromium: tests/first_visit.py)

"Critical path" in P2 and P3 is the physical floor: one such call alone, uncontended (~200 ms).
``--quick`` shrinks every N (CI runs it to prove the benchmark works); targets are never asserted.
``--http T`` measures P2 and P3 over T alone, and runs every other figure's engine runs (and P1's bare twins)
over T; without it, P2 and P3 are measured over every transport and the rest over the default.
"""
from __future__ import annotations

import asyncio
import json
import marshal
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from . import api
from . import modes as registry
from ._pool import warm_pool
from ._spawn import child_env, python_argv
from .calls import call_blocking
from .catalog import CATALOG, resolve_params
from .machine import default_processes, gil, usable_cores
from .tools import ToolContext, llm_target
from .workload import DEFAULT_HTTP, HTTP_CLIENTS, Options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLICK_TO_CHART = os.path.join(ROOT, "test-artifacts", "click-to-chart.json")
TARGETS = {"P1": ("<=", 1.05), "P2": ("<=", 1.10), "P3": ("<=", 5.0), "P4": (">=", 1.9), "P5": ("<=", 1.5),
           "P6": ("<=", 10.0), "P7": ("<=", 300.0), "P8": ("<=", 1.10), "P10a": ("<=", 3.0), "P10b": ("<=", 0.5)}
TITLES = {"P1": "engine wall / bare-stdlib wall, same calls, worst mode",
          "P2": "hybrid wall / critical path, 100 HTTP calls of 200 ms",
          "P3": "hybrid wall / critical path, 1,000 HTTP calls of 200 ms",
          "P4": "process-pool true speedup, 4 x 200 ms pure-Python CPU",
          "P5": "subprocess per-call overhead / interpreter-start floor",
          "P6": "hybrid max loop lag (ms), blocking + CPU tools in the workload",
          "P7": "Playground click -> chart beyond the run's wall (ms), browser",
          "P8": "distributed wall / bare-Dask wall, same calls, same cluster",
          "P10a": "first visit: app server start -> Playground Run enabled (s), browser",
          "P10b": "first visit: first Run click -> chart beyond its wall (s), browser"}


# Why a figure can miss its target here, and what was tried: printed in BENCHMARKS.md when it does.
MISSED = {
    "P1": "The engine's own work per call (two clock readings, a CPU meter around each step of the coroutine, "
          "an asyncio.timeout, a record, the heartbeat) is a few percent of a 0.29 s run of 100 awaited calls, "
          "the size of this machine's run-to-run noise. An A/B at N=100, nine interleaved runs each: bare "
          "0.281 s, engine 0.289 s (x1.03); without the heartbeat 0.286, without asyncio.timeout 0.287, "
          "without the CPU meter 0.285: each costs under 1 %, and each is worth what it measures, so none was "
          "removed. A bench run that lands above 1.05 has met a noisy neighbour.",
    "P2": "The floor is one uncontended call (about 0.204 s). Every request costs client CPU on the one loop "
          "thread (building it, the connection, parsing the answer), so the last answer lands that long after the "
          "floor. Over httpx's own transport (httpcore, h11, anyio) that is 1.5-2 ms a request here, 0.15-0.2 s of "
          "the calls' CPU for 100; over aiohttp's (the same httpx.AsyncClient API on httpx-aiohttp, whose parser "
          "and pool are C) about half, which is why it is the default: it was lower on both P2 and P3 in every "
          "side-by-side run on this machine. The same calls under a bare asyncio.gather take as long (P1's "
          "asyncio row): the cost is the client's, not the engine's. Raw asyncio streams reach x1.15 here (the "
          "floor for 100 requests), so x1.10 is below what the hardware allows with HTTP/1.1 over fresh "
          "connections. Tried: sharded clients (no change at N=100), uvloop in the client (5-10 % faster, not "
          "adopted: the app measures the loop users run), trust_env=False (noise), warm keep-alive connections "
          "(slower with httpx: httpcore scans every idle connection per request).",
    "P3": "1,000 requests cost about 1.6-1.7 s of the calls' CPU over httpx and 0.8-0.9 s over aiohttp on one "
          "loop thread (the loop thread's whole CPU under a bare asyncio.gather: 2.2 s and 1.0 s), so the wall "
          "is bounded by the client, whatever the transport. Hybrid also starts its calls one loop iteration "
          "apart, which keeps the loop answering (max lag about 15-30 ms instead of about 400 ms) for about "
          "15-25 % more wall. Tried: an impact-ordered search index on the server (a query cost 0.8 ms of server "
          "CPU before, 0.08 ms after), adaptive start batches (worse lag, no gain), uvloop (5-10 %, not adopted, "
          "see P2), 10 clients of at most 100 connections (kept for both transports: one httpx client is "
          "O(connections x queued requests), encode/httpx#3215; aiohttp's connector hands a freed connection to "
          "the next waiter in O(1), and one aiohttp session of 1,000 connections measured no better than ten of "
          "100), the aiohttp transport (about half the client CPU: the default).",
    "P4": "Two workers on two cores can at best halve the wall; anything else running on the machine (the "
          "backend, another process) takes a core's share away from the pool. A value above the cores is not a "
          "fast pool but a slow baseline: the median run's physics check (in the detail) says what was measured.",
    "P5": "A call's child imports its tool's modules on top of the bare interpreter: random and the text "
          "vocabulary for the analysis-like scripts add about 4 ms; the trivial script used here adds about 2 ms "
          "of our own modules and the marshal protocol.",
    "P6": "A full collection of the app's heap or a burst of first steps on the loop shows up here; the runner "
          "freezes the host heap during runs and hybrid staggers its starts, but a noisy neighbour still can.",
    "P7": "After the run, the page draws its metrics and three Plotly charts, Streamlit sends them over its "
          "websocket, and the browser lays them out: on this 2-core machine, shared by the app, the engine's "
          "backend and headless chromium, that takes 0.2-0.45 s on a warm page from one run to the next (the "
          "first click of a fresh page 0.6-0.9 s). Tried: warming the engine when the page loads (first "
          "click: 2.2 s -> 0.8 s beyond the wall), drawing the results before the rerun that re-enables Run, "
          "fewer progress redraws; preloading chart placeholders made no difference.",
    "P10a": "Profiled (timestamps in the server and a MutationObserver in the page): the first script run ends "
            "about 1.5 s after the server answers, but the Run button, the sliders and the placeholder chart reach the "
            "screen together, once the browser has loaded Plotly's JavaScript for the placeholder (several seconds "
            "on a loaded machine). Without the placeholder the button was enabled 2.5-5 s sooner at load 6-9, but "
            "the first click then paid for Plotly's JavaScript and the warm-up (P10b 4.6-11 s): not adopted.",
    "P10b": "The first click right after the page is interactive waits for the engine's warm-up (the backend and the "
            "process pool, started by the first script run), which is not in the run's wall.",
    "P8": "Measured at x0.89 when it was added (engine 0.258 s, bare Dask 0.291 s; 24 web_search of 200 ms and 4 "
          "analysis on the embedded cluster's 2 workers; seven interleaved runs): the lane sends an io call "
          "straight to a worker's event loop, one comm round trip, where client.submit goes through the "
          "scheduler to a worker thread and back. Its own costs run on the Dask client's loop in this process "
          "(a start event per task, the clock mapping of each result). The walls are 0.25-0.35 s and a run of "
          "either side varied by up to 0.09 s: a bench run above 1.10 has met a noisy neighbour.",
}


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cores": usable_cores(), "cpu": model, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "platform": platform.platform(terse=True),
            "event_loop": "asyncio (default selector loop)", "switch_interval_ms": sys.getswitchinterval() * 1000,
            "gil": gil().line,
            "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def _median(fn: Callable[[], float], reps: int) -> tuple[float, list[float]]:
    values = [fn() for _ in range(reps)]
    return statistics.median(values), values


def base_key(key: str) -> str:
    """``"P2 aiohttp"`` -> ``"P2"``: a figure measured once per transport shares its target, title and note."""
    return key.split()[0]


def _figure(key: str, value: float | None, detail: dict) -> dict:
    op, target = TARGETS[base_key(key)]
    holds = None if value is None else (value <= target if op == "<=" else value >= target)
    return {"title": TITLES[base_key(key)], "value": None if value is None else round(value, 3),
            "target": f"{op} {target:g}", "holds": holds, "detail": detail}


# -- P1: the engine against the same calls orchestrated with the bare standard library ------------------------

class _Bare:
    """The same tool calls as the engine's, orchestrated by hand with plain stdlib primitives."""

    def __init__(self, http: str = DEFAULT_HTTP) -> None:
        from .backend import ensure_backend
        self.http = http                # the async clients' transport, as the engine's runs are given
        url = ensure_backend().url
        llm_url, model, key = llm_target(url)
        self.ctx_args = {"seed": 0, "timeout_s": 30.0, "base_url": url, "llm_base_url": llm_url, "llm_model": model,
                         "llm_api_key": key}

    def ctx(self, call_id: str, http=None) -> ToolContext:
        return ToolContext(call_id, http=http, **self.ctx_args)

    def sequential(self, tool: str, params: dict, n: int) -> float:
        from .tools.http_tools import new_sync_client
        impl = CATALOG[tool].impl("sync")
        with new_sync_client() as client:
            t = time.perf_counter()
            for i in range(n):
                impl(params, self.ctx(f"{tool}#{i + 1}", client))
            return time.perf_counter() - t

    def gather(self, tool: str, params: dict, n: int) -> float:
        from .tools.http_tools import AsyncClients
        impl = CATALOG[tool].impl("aio")

        async def main() -> float:
            clients = AsyncClients(n, self.http)
            t = time.perf_counter()
            await asyncio.gather(*(impl(params, self.ctx(f"{tool}#{i + 1}", clients.for_call(i))) for i in range(n)))
            wall = time.perf_counter() - t
            await clients.aclose()
            return wall

        return asyncio.run(main())

    def threads(self, tool: str, params: dict, n: int, workers: int) -> float:
        from .tools.http_tools import new_sync_client
        impl = CATALOG[tool].impl("sync")
        with new_sync_client() as client, ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda i: i, range(workers)))          # threads started before the clock
            t = time.perf_counter()
            list(pool.map(lambda i: impl(params, self.ctx(f"{tool}#{i + 1}", client)), range(n)))
            return time.perf_counter() - t

    def process_pool(self, tool: str, params: dict, n: int, workers: int) -> float:
        pool = warm_pool(workers)                                # the same warm workers the engine uses
        t = time.perf_counter()
        list(pool.map(call_blocking, [tool] * n, [params] * n, [self.ctx(f"{tool}#{i + 1}") for i in range(n)]))
        return time.perf_counter() - t

    def _request(self, tool: str, params: dict, call_id: str) -> bytes:
        spec = CATALOG[tool]
        return marshal.dumps({"module": spec.module, "function": spec.sync, "params": params,
                              "ctx": self.ctx(call_id).to_dict(),
                              "limits": {"cpu_s": 31, "wall_s": 32, "mem_mb": 1024}})

    def subprocesses(self, tool: str, params: dict, n: int, workers: int) -> float:
        argv, env = python_argv("agent_core._child_main:main"), child_env()
        requests = [self._request(tool, params, f"{tool}#{i + 1}") for i in range(n)]
        with ThreadPoolExecutor(workers) as pool:
            t = time.perf_counter()
            list(pool.map(lambda r: subprocess.run(argv, input=r, capture_output=True, env=env, timeout=30,
                                                   start_new_session=True), requests))
            return time.perf_counter() - t

    def hybrid(self, mix: dict[str, int], params: dict[str, dict]) -> float:
        from .tools.http_tools import AsyncClients, new_sync_client
        argv, env = python_argv("agent_core._child_main:main"), child_env()
        pool = warm_pool(default_processes())

        async def main() -> float:
            loop = asyncio.get_running_loop()
            clients = AsyncClients(sum(n for t, n in mix.items() if CATALOG[t].kind == "io"), self.http)
            blocking = sum(n for t, n in mix.items() if CATALOG[t].kind == "blocking")
            with new_sync_client() as client, ThreadPoolExecutor(max(1, blocking)) as threads:
                await asyncio.gather(*(loop.run_in_executor(threads, int) for _ in range(max(1, blocking))))
                jobs = []
                t = time.perf_counter()
                for tool, n in mix.items():
                    spec, p = CATALOG[tool], params[tool]
                    for i in range(n):
                        cid = f"{tool}#{i + 1}"
                        if spec.kind == "io":
                            jobs.append(spec.impl("aio")(p, self.ctx(cid, clients.for_call(len(jobs)))))
                        elif spec.kind == "blocking":
                            jobs.append(loop.run_in_executor(threads, spec.impl("sync"), p, self.ctx(cid, client)))
                        elif spec.kind == "cpu":
                            jobs.append(loop.run_in_executor(pool, call_blocking, tool, p, self.ctx(cid)))
                        else:
                            jobs.append(self._child(argv, env, self._request(tool, p, cid)))
                await asyncio.gather(*jobs)
                wall = time.perf_counter() - t
            await clients.aclose()
            return wall

        return asyncio.run(main())

    @staticmethod
    async def _child(argv: list[str], env: dict, request: bytes) -> bytes:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        out, _ = await proc.communicate(request)
        return out


def p1(n: int, reps: int, http: str = DEFAULT_HTTP) -> dict:
    bare = _Bare(http)
    p = {"web_search": resolve_params("web_search", {"latency_ms": 200, "jitter": 0}),
         "legacy_sdk": resolve_params("legacy_sdk", {"latency_ms": 100, "jitter": 0}),
         "analysis": resolve_params("analysis", {"work": 20_000}),
         "sandboxed_script": resolve_params("sandboxed_script", {"script": "primes", "size": 100})}
    seq_search = resolve_params("web_search", {"latency_ms": 10, "jitter": 0})
    mix = {"web_search": n * 6 // 10, "legacy_sdk": n * 2 // 10, "analysis": n // 10, "sandboxed_script": n // 10}
    cases = {
        "sequential": (f"web_search:{n}", {"web_search": seq_search}, None,
                       lambda: bare.sequential("web_search", seq_search, n)),
        "asyncio": (f"web_search:{n}", p, None, lambda: bare.gather("web_search", p["web_search"], n)),
        "threads": (f"legacy_sdk:{n}", p, 32, lambda: bare.threads("legacy_sdk", p["legacy_sdk"], n, 32)),
        "process-pool": (f"analysis:{n}", p, default_processes(),
                         lambda: bare.process_pool("analysis", p["analysis"], n, default_processes())),
        "subprocess": (f"sandboxed_script:{n}", p, 8, lambda: bare.subprocesses("sandboxed_script",
                                                                              p["sandboxed_script"], n, 8)),
        "hybrid": (",".join(f"{t}:{k}" for t, k in mix.items()), p, None, lambda: bare.hybrid(mix, p)),
    }
    detail = {}
    for mode in [m for m in registry.MODES if m in cases]:    # a mode with no bare-stdlib twin is listed below
        spec, params, workers, bare_run = cases[mode]
        engine_walls, bare_walls = [], []
        # interleaved, so drift hits both sides alike; sequential is long and steady: fewer repetitions
        for _ in range(max(1, reps // 3) if mode == "sequential" else reps):
            engine_walls.append(api.run(spec, mode, params=params, workers=workers, http=http).wall_s)
            bare_walls.append(bare_run())
        e, b = statistics.median(engine_walls), statistics.median(bare_walls)
        detail[mode] = {"workload": spec, "engine_s": round(e, 4), "bare_s": round(b, 4), "ratio": round(e / b, 3)}
    worst = max(detail, key=lambda m: detail[m]["ratio"])
    untwinned = [m for m in registry.MODES if m not in cases]
    return _figure("P1", detail[worst]["ratio"], {"worst": worst, "n": n, "reps": reps, "http": http,
                                                  "modes": detail, "no_bare_twin": untwinned})


# -- P2, P3: hybrid against the physical floor ---------------------------------------------------------------

def _floor_s(reps: int) -> float:
    params = {"web_search": {"latency_ms": 200, "jitter": 0}}
    return statistics.median(api.run("web_search:1", "sequential", params=params).wall_s for _ in range(reps))


def p_http(key: str, n: int, reps: int, floor: float, transports: list[str]) -> dict[str, dict]:
    """``key`` once per transport (``"P2 httpx"``, ...), their runs interleaved so drift hits each alike."""
    params = {"web_search": {"latency_ms": 200, "jitter": 0}}
    runs: dict[str, list] = {t: [] for t in transports}
    for _ in range(reps):
        for t in transports:
            runs[t].append(api.run(f"web_search:{n}", "hybrid", params=params, http=t))
    out = {}
    for t, reports in runs.items():
        wall = statistics.median(r.wall_s for r in reports)
        out[f"{key} {t}"] = _figure(key, wall / floor, {
            "http": t, "n": n, "wall_s": round(wall, 4), "critical_path_s": round(floor, 4),
            "walls_s": [round(r.wall_s, 4) for r in reports],
            "client_cpu_s": round(statistics.median(r.sum_cpu_s for r in reports), 4),
            "wall_over_longest_call": round(statistics.median(r.wall_s / r.critical_path_s for r in reports), 3),
            "max_loop_lag_ms": round(max(r.loop_lag_max_ms for r in reports), 1),
            "all_ok": all(r.ok for r in reports)})
    return out


# -- P4: CPU work across cores -------------------------------------------------------------------------------

def p4(reps: int) -> dict:
    from .tools.analysis import analysis
    analysis({"work": 100_000}, ToolContext("warm", 0, 30))        # the first call pays one-time costs
    t = time.perf_counter()
    analysis({"work": 100_000}, ToolContext("calibrate", 0, 30))
    per_word = (time.perf_counter() - t) / 100_000
    work = max(1_000, min(1_000_000, int(0.2 / per_word)))          # ~200 ms of pure Python per call
    runs = sorted((api.compare("analysis:4", ["process-pool"], params={"analysis": {"work": work}})
                   for _ in range(reps)), key=lambda pair: pair[1].true_speedup)
    seq, pool = runs[len(runs) // 2]                                # the median run
    return _figure("P4", pool.true_speedup, {"work_words": work, "sequential_s": round(seq.wall_s, 4),
                                             "process_pool_s": round(pool.wall_s, 4), "cores": usable_cores(),
                                             "speedups": [round(p.true_speedup, 3) for _, p in runs],
                                             "physics": pool.physics})


# -- P5: what a child costs beyond starting Python -----------------------------------------------------------

def p5(reps: int) -> dict:
    from ._execute import run_tool
    from .childproc import run_in_child

    def floor() -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        return time.perf_counter() - t

    params = resolve_params("sandboxed_script", {"script": "primes", "size": 100})
    ctx = ToolContext("sandboxed_script#1", 0, 10)

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    start_floor, _ = _median(floor, reps)
    in_process, _ = _median(lambda: timed(lambda: run_tool(CATALOG["sandboxed_script"].impl("sync"), params, ctx)),
                            reps)
    child, _ = _median(lambda: timed(lambda: run_in_child("sandboxed_script", params, ctx)), reps)
    overhead = child - in_process
    return _figure("P5", overhead / start_floor, {
        "floor_ms": round(start_floor * 1000, 2), "child_call_ms": round(child * 1000, 2),
        "in_process_ms": round(in_process * 1000, 3), "overhead_ms": round(overhead * 1000, 2),
        "call": "sandboxed_script primes size=100 (a trivial allow-listed script)", "floor": "python -I -S -c pass"})


# -- P6: the loop's responsiveness in the hybrid mode -------------------------------------------------------

P6_SPEC = "llm_call:10,web_search:10,memory_write:4,legacy_sdk:4,analysis:4"


def p6(reps: int, http: str = DEFAULT_HTTP) -> dict:
    lags = [api.run(P6_SPEC, "hybrid", http=http).loop_lag_max_ms for _ in range(reps)]
    return _figure("P6", statistics.median(lags), {"workload": P6_SPEC, "http": http,
                                                   "worst_ms": round(max(lags), 2),
                                                   "max_lag_ms_per_run": [round(x, 2) for x in lags]})


# -- P7: read from the browser test ------------------------------------------------------------------------

def p7() -> dict:
    try:
        with open(CLICK_TO_CHART, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return _figure("P7", None, {"note": "not measured: run the browser tests (bash scripts/test.sh), which "
                                            f"write {os.path.relpath(CLICK_TO_CHART, ROOT)}"})
    return _figure("P7", 1000 * data["warm_beyond_wall_s"], {k: round(v, 4) if isinstance(v, float) else v
                                                             for k, v in data.items()})


# -- P8: the distributed mode against the same calls as bare Dask client code, on the same cluster ----------------

def _bare_dask(client, calls: list[tuple[str, dict, ToolContext]], cpu_resource: str) -> float:
    """The calls as plain Dask client code: one ``client.submit`` of the tool's own function each (cpu calls
    taking the workers' one cpu resource, as the lane's do), then ``client.gather`` of every result."""
    t = time.perf_counter()
    futures = [client.submit(CATALOG[tool].impl("sync"), params, ctx, pure=False,
                             resources={cpu_resource: 1} if CATALOG[tool].kind == "cpu" else None)
               for tool, params, ctx in calls]
    client.gather(futures)
    return time.perf_counter() - t


def p8(n_io: int, n_cpu: int, reps: int, http: str = DEFAULT_HTTP) -> dict:
    """An io-heavy workload and a few cpu calls (P1's kinds), run by the engine's ``distributed`` mode and by
    bare Dask on the same cluster, interleaved. Bare Dask runs each call in a worker thread, so the io calls
    are kept within the cluster's threads: the ratio is then the engine's cost, not a placement difference
    (beyond them, bare Dask queues io calls for a thread; the lane's coroutines do not wait)."""
    from ._dask_cluster import CPU_RESOURCE, ensure_cluster
    t = time.perf_counter()
    cluster = ensure_cluster()              # set-up: never inside a wall
    waited = time.perf_counter() - t
    client = cluster.client
    threads = sum(client.nthreads().values())
    n_io = max(1, min(n_io, threads - n_cpu))
    p = {"web_search": resolve_params("web_search", {"latency_ms": 200, "jitter": 0}),
         "analysis": resolve_params("analysis", {"work": 20_000})}
    spec = f"web_search:{n_io},analysis:{n_cpu}"
    bare = _Bare()
    calls = [(tool, p[tool], bare.ctx(f"{tool}#{i + 1}")) for tool, n in (("web_search", n_io), ("analysis", n_cpu))
             for i in range(n)]
    api.run(spec, "distributed", params=p, http=http)      # both sides once, untimed: first-use costs
    _bare_dask(client, calls, CPU_RESOURCE)
    reports, bare_walls = [], []
    for _ in range(reps):                                   # interleaved, so drift hits both sides alike
        reports.append(api.run(spec, "distributed", params=p, http=http))
        bare_walls.append(_bare_dask(client, calls, CPU_RESOURCE))
    e, b = statistics.median(r.wall_s for r in reports), statistics.median(bare_walls)
    errors = [c.detail["clock_error_ms"] for r in reports for c in r.tasks if "clock_error_ms" in c.detail]
    all_ok = all(r.ok for r in reports)
    return _figure("P8", e / b if all_ok else None, {
        "workload": spec, "http": http, "engine_s": round(e, 4), "bare_s": round(b, 4), "reps": reps,
        "engine_walls_s": [round(r.wall_s, 4) for r in reports], "bare_walls_s": [round(w, 4) for w in bare_walls],
        "all_ok": all_ok, "workers": len(client.nthreads()), "worker_threads": threads,
        "cluster": "embedded LocalCluster" if cluster.embedded else cluster.address,
        "cluster_start_s": round(cluster.start_s, 3), "cluster_waited_s": round(waited, 3),
        "cluster_rss_mb": cluster.rss_mb(), "engine_setup_s": round(statistics.median(r.setup_s for r in reports), 4),
        "clock_error_ms_max": round(max(errors), 3) if errors else None})


# -- P10: a first visit, in a real browser -------------------------------------------------------------------

def p10(reps: int) -> dict[str, dict]:
    """Fresh app servers driven by Debian's chromium (tests/first_visit.py, in a child: the app's
    server and the browser are its children). Not measured, and why, where there is no browser or no tests."""
    script = os.path.join(ROOT, "tests", "first_visit.py")
    why = None
    if not os.path.exists(script):
        why = f"not measured: {os.path.relpath(script, ROOT)} is not here (the tests are not installed)"
    else:
        out = subprocess.run([sys.executable, "-m", "tests.first_visit", "--json", "--reps", str(reps)], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
        try:
            data = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            data = {"unavailable": f"the measurement failed (exit {out.returncode}): {out.stderr.strip()[-300:]}"}
        why = data.get("unavailable") and f"not measured: {data['unavailable']}"
    if why:
        return {"P10a": _figure("P10a", None, {"note": why}), "P10b": _figure("P10b", None, {"note": why})}
    detail = {"reps": data["reps"], "load_before": data["load_before"], "visits": data["visits"],
              "command": "python -m tests.first_visit --reps N (a fresh app server and page per visit)"}
    return {"P10a": _figure("P10a", data["cold_start_s"], detail),
            "P10b": _figure("P10b", data["first_click_beyond_wall_s"], {"see": "P10a"})}


def run_bench(quick: bool = False, progress: Callable[[str], None] | None = None, http: str | None = None) -> dict:
    """Every figure, measured now. ``quick`` uses small N and single repetitions (a smoke test). ``http``: P2
    and P3 over that async transport alone, and every other run over it too (None: P2 and P3 over each
    transport of ``HTTP_CLIENTS``, the rest over the default)."""
    say = progress or (lambda _: None)
    started_on = machine()                          # its load average: before this run adds its own
    if http is not None:                            # BadInput naming it and the allowed ones, before any work
        Options(http=http).checked("hybrid", registry.get_mode("hybrid").MAX_WORKERS)
    transports, main = ([http] if http else list(HTTP_CLIENTS)), http or DEFAULT_HTTP
    reps = 1 if quick else 3
    api.warm_up()
    figures = {}
    say(f"P1: the engine against bare stdlib, per mode (async HTTP over {main})")
    figures["P1"] = p1(10 if quick else 100, 1 if quick else 7, main)     # the tightest target: more repetitions
    say(f"P2, P3: hybrid against the physical floor, over {', '.join(transports)}")
    floor = _floor_s(3)
    figures.update(p_http("P2", 10 if quick else 100, reps, floor, transports))
    figures.update(p_http("P3", 100 if quick else 1000, reps, floor, transports))
    say("P4: CPU work across cores")
    figures["P4"] = p4(reps)
    say("P5: what a child costs")
    figures["P5"] = p5(5 if quick else 30)
    say("P6: the loop's lag in hybrid")
    figures["P6"] = p6(2 if quick else 5, main)
    figures["P7"] = p7()
    say("P8: the distributed mode against bare Dask, same cluster")
    figures["P8"] = p8(8 if quick else 24, 2 if quick else 4, 1 if quick else 7, main)
    say("P10: a first visit in a real browser")
    figures.update(p10(1 if quick else 3))
    return {"machine": started_on, "quick": quick, "http_default": DEFAULT_HTTP, "figures": figures}


def table(result: dict) -> str:
    rows = [["id", "figure", "value", "target", "holds"]]
    for key, f in result["figures"].items():
        value = "—" if f["value"] is None else f"{f['value']:.3f}"
        rows.append([key, f["title"], value, f["target"], {True: "yes", False: "NO", None: "—"}[f["holds"]]])
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" +
                     ("\n|" + "|".join("-" * (w + 2) for w in widths) + "|" if i == 0 else "")
                     for i, r in enumerate(rows))


def transport_section(result: dict) -> list[str]:
    """BENCHMARKS.md's words on the async HTTP transport: P2 and P3 over each (value, wall, client CPU), which
    was lower in this run, and the default (``workload.DEFAULT_HTTP``) that these figures chose. Empty when
    the run measured one transport."""
    figures = result["figures"]
    per: dict[str, dict[str, dict]] = {}
    for key, f in figures.items():
        if " " in key and f["value"] is not None:
            per.setdefault(base_key(key), {})[key.split(" ", 1)[1]] = f
    if not per or all(len(by) < 2 for by in per.values()):
        return []
    default = result.get("http_default", DEFAULT_HTTP)
    lines = ["## The async HTTP transport", "",
             "P2 and P3 are measured over each transport of `agent_core.workload.HTTP_CLIENTS`, interleaved (`python "
             "-m agent_core bench --http T` measures one). The transport only changes io calls awaited on an "
             "event loop (asyncio, hybrid, the Dask workers' loops); client CPU is the calls' CPU on the loop's "
             "thread, Σ over the run.", ""]
    lower = {}
    for base, by in per.items():
        lower[base] = min(by, key=lambda t: by[t]["value"])
        lines.append(f"- {base}: " + "; ".join(
            f"{t} ×{f['value']:.2f} (wall {f['detail']['wall_s']:.3f} s, client CPU "
            f"{f['detail']['client_cpu_s']:.3f} s)" for t, f in by.items()) + f": {lower[base]} is lower.")
    won = [b for b in per if lower[b] == default]
    cpu = all(by[default]["detail"]["client_cpu_s"] <= min(f["detail"]["client_cpu_s"] for f in by.values())
              for by in per.values() if default in by)
    lines += ["", f"The default is **{default}**: " + (
        f"in this run it has the lower wall on {' and '.join(won)}" + (" and the least client CPU." if cpu else ".")
        if len(won) == len(per) else
        f"in this run it was lower on {' and '.join(won) or 'neither figure'} only (a shared machine's noise "
        "can do that); the default follows the median of repeated side-by-side runs, not one run."), ""]
    return lines


def _load(m: dict) -> str:
    """The machine was shared: its load when the run began, if above half its cores (else nothing)."""
    load = m.get("load_avg_1m")
    if load is None or load <= m["cores"] / 2:
        return ""
    return f" Load average when it began: {load:g} on {m['cores']} cores (other processes were running)."


def markdown(result: dict, seconds: float) -> str:
    m = result["machine"]
    lines = ["# Benchmarks", "",
             "Regenerated by `python -m agent_core bench --markdown BENCHMARKS.md` (P7 comes from the browser test, "
             "`tests/test_browser.py`, run just before). Ratios of walls measured side by side in one run, each the "
             "median of a few repetitions; absolute times are context only. Targets are goals, never asserted in "
             "tests.",
             "", f"Machine: {m['cores']} cores ({m['cpu'] or 'unknown CPU'}), {m['implementation']} {m['python']}, "
             f"{m['platform']}, {m['event_loop']}, GIL switch interval {m['switch_interval_ms']:g} ms"
             + (f", {m['gil']}. " if m.get("gil") else ". ") +
             f"This run took {seconds:.0f} s." + _load(m), "", table(result), "", *transport_section(result),
             "## Details", ""]
    said = set()                        # a figure measured per transport says why it misses once
    for key, f in result["figures"].items():
        lines += [f"### {key}: {f['title']}", ""]
        if f["holds"] is False and base_key(key) not in said:
            said.add(base_key(key))
            lines += [f"**Why {base_key(key)} misses its target here.** {MISSED[base_key(key)]}", ""]
        lines += ["```json", json.dumps(f["detail"], indent=1), "```", ""]
    return "\n".join(lines)
