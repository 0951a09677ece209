"""Measure the Dask lane: python scripts/measure_dask_lane.py [--json]

1. the embedded LocalCluster's cold start-up, in fresh processes (interpreter start not included);
2. the lane's per-call overhead against bare ``client.submit`` of the same work on the same cluster:
   one call at a time (round trip of a call that does almost nothing), and a batch of 40 web_search
   calls of 100 ms and 4 analysis calls;
3. the clock mapping: the bound the lane measures, and (workers here share CLOCK_MONOTONIC, so the true
   offset is 0) the offset it measured.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

COLD = ("import time; t = time.perf_counter(); from agent_core._dask_cluster import ensure_cluster, stop_cluster; "
        "c = ensure_cluster(); print(time.perf_counter() - t, c.start_s); stop_cluster()")


def cold_starts(n: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    env["PYTHONPATH"] = ROOT
    out = []
    for _ in range(n):
        line = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True, check=True)
        out.append(float(line.stdout.split()[0]))
    return out


def main() -> None:
    from agent_core import _dask_cluster
    from agent_core.backend import ensure_backend
    from agent_core.calls import call_blocking
    from agent_core.catalog import resolve_params
    from agent_core.lanes.to_dask import DaskLane
    from agent_core.tools import ToolContext, llm_target
    from agent_core.tools.http_tools import warm_up

    figures: dict = {"cold_start_s": cold_starts(5)}
    os.environ.pop("DASK_SCHEDULER_ADDRESS", None)
    url = ensure_backend().url
    warm_up(url)
    llm_url, model, key = llm_target(url)

    def ctx(i: int) -> ToolContext:
        return ToolContext(f"c#{i}", seed=0, timeout_s=30.0, base_url=url, llm_base_url=llm_url, llm_model=model,
                           llm_api_key=key)

    t = time.perf_counter()
    lane = DaskLane()
    lane.prepare({"io", "blocking", "cpu", "isolated"}, None)
    figures["first_prepare_s"] = time.perf_counter() - t        # includes the embedded cluster's start
    t = time.perf_counter()
    lane.prepare({"io", "blocking", "cpu", "isolated"}, None)
    figures["warm_prepare_s"] = time.perf_counter() - t
    client = lane._shared.client
    tiny_io = resolve_params("web_search", {"latency_ms": 0, "jitter": 0})
    tiny_cpu = resolve_params("analysis", {"work": 1000})

    def round_trips(pairs: dict, n: int = 60) -> dict:
        """Median round trip of one call at a time; the variants take turns, so load drifts hit them alike
        (the client batches its messages to the scheduler every 10 ms: single round trips are quantised)."""
        times: dict = {name: [] for name in pairs}
        for i in range(n):
            for name, submit in pairs.items():
                t0 = time.perf_counter()
                submit(i).result()
                times[name].append(time.perf_counter() - t0)
        return {name: 1e3 * statistics.median(v[10:]) for name, v in times.items()}

    figures["round_trip_ms"] = round_trips({
        "io, lane (coroutine on a worker's loop)": lambda i: lane.submit("web_search", "io", tiny_io, ctx(i)),
        "io, bare client.submit(call_blocking)": lambda i: client.submit(call_blocking, "web_search", tiny_io, ctx(i),
                                                                         pure=False),
        "cpu, lane (task + resource + start event)": lambda i: lane.submit("analysis", "cpu", tiny_cpu, ctx(i)),
        "cpu, bare client.submit(call_blocking)": lambda i: client.submit(call_blocking, "analysis", tiny_cpu,
                                                                          ctx(i), pure=False),
    })

    web = resolve_params("web_search", {"latency_ms": 100, "jitter": 0})
    work = resolve_params("analysis", {})
    batches: dict = {"lane": [], "bare": []}
    for _ in range(5):
        t0 = time.perf_counter()
        futures = [lane.submit("web_search", "io", web, ctx(i)) for i in range(40)]
        futures += [lane.submit("analysis", "cpu", work, ctx(100 + i)) for i in range(4)]
        outcomes = [f.result() for f in futures]
        batches["lane"].append(time.perf_counter() - t0)
        assert all(o.status == "ok" for o in outcomes), [o.error for o in outcomes]
        t0 = time.perf_counter()
        futures = [client.submit(call_blocking, "web_search", web, ctx(i), pure=False) for i in range(40)]
        futures += [client.submit(call_blocking, "analysis", work, ctx(100 + i), pure=False) for i in range(4)]
        outcomes = client.gather(futures)
        batches["bare"].append(time.perf_counter() - t0)
        assert all(o.status == "ok" for o in outcomes), [o.error for o in outcomes]
    figures["batch_40_web_search_100ms_4_analysis_s"] = {k: statistics.median(v) for k, v in batches.items()}

    figures["clock_error_ms"] = 1e3 * lane.clock_error_s
    figures["clock_offsets_ms"] = {k: (round(1e3 * offset, 4), round(1e3 * error, 4))
                                   for k, (offset, error) in lane.clock_offsets.items()}
    lane.close()
    _dask_cluster.stop_cluster()
    if "--json" in sys.argv:
        print(json.dumps(figures, indent=1))
        return
    cold = figures["cold_start_s"]
    print(f"embedded LocalCluster, cold start in a fresh process: median {statistics.median(cold):.2f} s "
          f"(min {min(cold):.2f}, max {max(cold):.2f}, n={len(cold)})")
    print(f"first prepare (cluster start + plugin + warm tasks + clocks): {figures['first_prepare_s']:.2f} s; "
          f"a warm prepare: {1e3 * figures['warm_prepare_s']:.0f} ms")
    for name, ms in figures["round_trip_ms"].items():
        print(f"  one call at a time, median round trip, {name}: {ms:.2f} ms")
    b = figures["batch_40_web_search_100ms_4_analysis_s"]
    print(f"40 web_search (100 ms) + 4 analysis, median of 5: lane {b['lane']:.3f} s, bare client.submit "
          f"{b['bare']:.3f} s")
    print(f"clock mapping error bound: {figures['clock_error_ms']:.3f} ms; measured offsets (true offset 0 here): "
          f"{figures['clock_offsets_ms']}")


if __name__ == "__main__":
    main()
