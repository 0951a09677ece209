"""The physics check: figures a report holds that this machine cannot produce — a true speedup above the usable
cores (or the pool), a wall below the critical path, CPU time above wall × cores — each with the cause the report's
own numbers show, or None when they show none. It reads a report's records and never imports the module that
defines them (records imports it): the critical chain through records' ``deps`` is computed here too."""
from __future__ import annotations

CLOCK_SLACK_S = 0.002       # stamps from two clock readings may disagree by this much
CPU_SLACK = 0.02            # CPU meters and walls disagree by a few percent (a tick, a context switch)
PER_CALL_SLACK = 0.02       # baseline CPU per call this far above this run's: the calling process was slower


def _remote(worker: str) -> bool:
    """A worker on another machine (a Dask worker's address that is not this host's loopback)."""
    _, _, address = worker.partition("tcp://")
    return bool(address) and not address.startswith(("127.", "localhost", "[::1]"))


def critical_chain(tasks: list) -> tuple[float, list[str]]:
    """The longest chain of calls through their ``deps``, by measured duration: (its seconds, its ids). Calls are
    taken in dependency order (a dependency naming no call of the run is ignored; a cycle, which only an edited
    file could hold, is left out)."""
    by_id = {t.id: t for t in tasks}
    needs = {t.id: {d for d in t.deps if d in by_id and d != t.id} for t in tasks}
    users: dict[str, list[str]] = {}
    for i, ds in needs.items():
        for d in ds:
            users.setdefault(d, []).append(i)
    ready = [i for i, ds in needs.items() if not ds]
    best: dict[str, tuple[float, str | None]] = {}      # id -> (longest chain ending with it, the call before)
    while ready:
        i = ready.pop()
        length, prev = max(((best[d][0], d) for d in needs[i]), default=(0.0, None))
        best[i] = (length + max(by_id[i].duration_s, 0.0), prev)
        for u in users.get(i, ()):
            if all(d in best for d in needs[u]):
                ready.append(u)
    if not best:
        return 0.0, []
    end = max(best, key=lambda i: (best[i][0], -list(by_id).index(i)))
    chain = [end]
    while (prev := best[chain[-1]][1]) is not None:
        chain.append(prev)
    return best[end][0], chain[::-1]


def checks(r) -> list[dict]:
    """Figures above what this machine allows: ``{"check", "value", "limit", "cause"}`` each, ``cause`` a
    sentence from this report's own numbers, or None when they do not show one. Empty: nothing impossible."""
    flags = []
    cores = max(1, int(r.cores or 1))
    local = not any(_remote(t.worker) for t in r.tasks)     # a remote cluster's cores are not ours
    limit, what = _cpu_limit(r, cores)
    true = r.true_speedup
    if limit is not None and local and true is not None and round(true, 2) > limit:
        flags.append({"check": f"true speedup above {what}", "value": round(true, 3), "limit": limit,
                      "cause": _slow_baseline(r, limit)})
    crit, chain = critical_chain(r.tasks)
    if crit > r.wall_s + CLOCK_SLACK_S:
        flags.append({"check": "wall below the critical path", "value": round(r.wall_s, 6),
                      "limit": round(crit, 6), "cause": _off_clock(r, chain)})
    most = r.wall_s * cores * (1 + CPU_SLACK) + CLOCK_SLACK_S
    if local and r.sum_cpu_s > most:
        flags.append({"check": "CPU time above wall x cores", "value": round(r.sum_cpu_s, 6),
                      "limit": round(r.wall_s * cores, 6), "cause": _overcounted(r)})
    return flags

def _cpu_limit(r, cores: int) -> tuple[int | None, str]:
    """How many calls' worth of CPU could run at once, for a run of CPU calls only: the usable cores, or
    the pool (threads, children) when smaller. None: the run had other kinds of work (waiting is free)."""
    if not r.tasks or any(t.kind != "cpu" for t in r.tasks) or not r.ok:
        return None, ""
    if isinstance(r.workers, int) and 0 < r.workers < cores:
        return r.workers, f"the pool size ({r.workers} worker{'s' * (r.workers != 1)})"
    return cores, f"the usable cores ({cores})"

def _slow_baseline(r, limit: int) -> str | None:
    """Why the baseline made this run look faster than its cores allow, from the two runs' numbers."""
    base_wall, base_cpu, cpu = r.baseline_wall_s, r.baseline_cpu_s, r.sum_cpu_s
    if base_wall is None or base_cpu is None or cpu <= 0 or r.wall_s <= 0:
        return None
    causes = []
    if base_cpu > cpu * (1 + PER_CALL_SLACK):
        causes.append(f"the same calls used {100 * (base_cpu / cpu - 1):.0f}% more CPU in the sequential "
                      f"baseline ({base_cpu:.3f} s) than here ({cpu:.3f} s): each ran slower in the calling "
                      "process")
    waited = base_wall - base_cpu
    if waited > CPU_SLACK * base_wall:
        causes.append(f"the baseline spent {waited:.3f} s of its {base_wall:.3f} s off the CPU, waiting for a "
                      "core another process held")
    if not causes:
        return None
    return "; ".join(causes) + (f". At this run's own CPU per call it ran ×{cpu / r.wall_s:.2f} "
                                f"(at most ×{limit})")

def _off_clock(r, chain: list[str]) -> str | None:
    """Which stamps of the critical path cannot be right: a call outside the run, or one that starts before
    a call it waits for has ended."""
    by_id = {t.id: t for t in r.tasks}
    for t in (by_id[i] for i in chain):
        if t.start_s < -CLOCK_SLACK_S or t.end_s > r.wall_s + CLOCK_SLACK_S:
            return (f"{t.id} is stamped {t.start_s:.3f}-{t.end_s:.3f} s, outside the run's 0-{r.wall_s:.3f} s: "
                    "its times were not taken on the run's clock")
    for a, b in zip(chain, chain[1:], strict=False):
        if by_id[b].start_s < by_id[a].end_s - CLOCK_SLACK_S:
            return (f"{b} is stamped as starting at {by_id[b].start_s:.3f} s, before {a}, which it waits for, "
                    f"ended ({by_id[a].end_s:.3f} s): their times were not taken on one clock")
    return None

def _overcounted(r) -> str | None:
    over = [t for t in r.tasks if t.cpu_s > t.duration_s * (1 + CPU_SLACK) + CLOCK_SLACK_S]
    if not over:
        return None
    t = over[0]
    return (f"{len(over)} call{'s' * (len(over) != 1)} used more CPU than {'their' if len(over) != 1 else 'its'} "
            f"own wall (first: {t.id}, {t.cpu_s:.3f} s of CPU in {t.duration_s:.3f} s): the CPU meter counted "
            "threads or processes besides the call's own")
