"""Why do the same CPU calls run slower in the calling process (``sequential``) than in a pool worker?

Experiments behind the physics check (agent_core/records.py ``RunReport.physics``) and the collector hold
(agent_core/engine/run.py ``_Collector``). Run from the repository root:

  python scripts/physics_probe.py ab [--work 120000] [--calls 6] [--reps 15] [--warm-up]
      sequential vs process-pool with ONE worker through the engine, interleaved; per run: wall, CPU per
      call, and the run-queue delay (from /proc schedstat: time the caller's thread, or the worker, was
      ready to run but had no core). --warm-up first starts the backend and the pool (as the app and bench do).
  python scripts/physics_probe.py instructions [--work 120000] [--calls 6]
      exact instruction counts (valgrind cachegrind, deterministic: immune to the shared machine's noise) of
      the same calls in the caller through the engine and in a process set up like a pool worker.
  python scripts/physics_probe.py --side caller|worker  (used by ``instructions``: runs the calls once)

Nothing here is part of the app: it measures, prints, and leaves nothing running.
"""
from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _schedstat(path: str) -> tuple[float, float]:
    """(seconds on a CPU, seconds ready but waiting for one) of a thread or process, from /proc."""
    try:
        with open(path, encoding="ascii") as f:
            on_cpu, waiting, _ = f.read().split()
        return int(on_cpu) / 1e9, int(waiting) / 1e9
    except (OSError, ValueError):
        return 0.0, 0.0


def ab(work: int, calls: int, reps: int, warm: bool) -> None:
    import agent_core
    from agent_core._pool import warm_pool
    if warm:
        agent_core.warm_up(1)
    pool = warm_pool(1)
    worker_pid = pool.submit(os.getpid).result()
    params = {"analysis": {"work": work}}
    spec = f"analysis:{calls}"
    for mode in ("sequential", "process-pool"):        # first-use costs, untimed
        agent_core.run("analysis:1", mode, workers=1, params={"analysis": {"work": 2000}})
    me = f"/proc/self/task/{threading.get_native_id()}/schedstat"
    rows: dict[str, list[dict]] = {"sequential": [], "process-pool": []}
    for i in range(reps):
        for mode in ("sequential", "process-pool") if i % 2 == 0 else ("process-pool", "sequential"):
            where = me if mode == "sequential" else f"/proc/{worker_pid}/schedstat"
            cpu0, wait0 = _schedstat(where)
            report = agent_core.run(spec, mode, workers=1, params=params)
            cpu1, wait1 = _schedstat(where)
            assert report.ok, report.statuses
            rows[mode].append({"wall": report.wall_s, "cpu_per_call": report.sum_cpu_s / calls,
                               "runq": wait1 - wait0, "on_cpu": cpu1 - cpu0})
    med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in rows.items()}
    print(f"analysis:{calls}, work {work}, {reps} interleaved pairs, machine load {os.getloadavg()[0]:.2f}")
    for mode, m in med.items():
        print(f"  {mode:13s} wall {m['wall']:.3f} s   CPU/call {m['cpu_per_call']:.4f} s   "
              f"waited for a core {m['runq']:.3f} s   walls {[round(r['wall'], 3) for r in rows[mode]]}")
    pairs = list(zip(rows["sequential"], rows["process-pool"], strict=True))
    print(f"  paired sequential/pool: wall x{statistics.median(a['wall'] / b['wall'] for a, b in pairs):.3f}, "
          f"CPU per call x{statistics.median(a['cpu_per_call'] / b['cpu_per_call'] for a, b in pairs):.3f}, "
          "wall less run-queue wait x"
          f"{statistics.median((a['wall'] - a['runq']) / (b['wall'] - b['runq']) for a, b in pairs):.3f}")


def side(which: str, work: int, calls: int) -> None:
    """The calls once, as the caller runs them (through the engine) or as a pool worker does (pool_task)."""
    if which == "caller":
        import agent_core
        agent_core.run("analysis:1", "sequential", params={"analysis": {"work": 2000}})
        if calls:
            agent_core.run(f"analysis:{calls}", "sequential", params={"analysis": {"work": work}}, timeout_s=60)
    else:
        from agent_core.calls import pool_task
        from agent_core.tools import ToolContext
        pool_task("analysis", {"work": 2000}, ToolContext("analysis#1", timeout_s=60, seed=0))
        for i in range(calls):
            out = pool_task("analysis", {"work": work}, ToolContext(f"analysis#{i + 1}", timeout_s=60, seed=0))
            assert out.status == "ok", out
    print("gc collections per generation:", [s["collections"] for s in gc.get_stats()])


def instructions(work: int, calls: int) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    counts = {}
    for which in ("caller", "worker"):
        for n in (0, calls):                    # the difference is the calls' own instructions
            out = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                                  sys.executable, __file__, "--side", which, "--work", str(work), "--calls", str(n)],
                                 capture_output=True, text=True, check=True, cwd=ROOT,
                                 env={**os.environ, "PYTHONHASHSEED": "1"})
            refs = int(re.search(r"I\s+refs:\s+([\d,]+)", out.stderr).group(1).replace(",", ""))
            counts[which, n] = refs
            if n:
                print(f"  {which}: {out.stdout.strip()}")
    per = {w: (counts[w, calls] - counts[w, 0]) / calls for w in ("caller", "worker")}
    print(f"analysis, work {work}: instructions per call, caller {per['caller'] / 1e6:.1f} M, "
          f"worker {per['worker'] / 1e6:.1f} M: caller/worker x{per['caller'] / per['worker']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", choices=("ab", "instructions"))
    parser.add_argument("--side", choices=("caller", "worker"))
    parser.add_argument("--work", type=int, default=120_000)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--warm-up", action="store_true")
    args = parser.parse_args()
    if args.side:
        side(args.side, args.work, args.calls)
    elif args.what == "ab":
        ab(args.work, args.calls, args.reps, args.warm_up)
    elif args.what == "instructions":
        instructions(args.work, args.calls)
    else:
        parser.error("say ab or instructions")


if __name__ == "__main__":
    main()
