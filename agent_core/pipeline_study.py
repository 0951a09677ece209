"""What a pipeline's run says, computed from its records: per-stage wall against Σ task time, the critical path
and what held the answer back, each llm_call's time to first token, and — across runs of one pipeline — what
a barrier (supersteps) cost and how much later the answer's first token came in one mode than in another."""
from __future__ import annotations

from .modes import said_s as _s
from .records import RunReport, TaskRecord

ANSWER_TOOL = "llm_call"


def stages(r: RunReport) -> list[dict]:
    """Each stage in order: its calls, its wall (first start to last end), Σ task time, Σ CPU, on the critical path."""
    on_path = set(r.critical_path)
    out: dict[str, dict] = {}
    for t in r.tasks:
        s = out.setdefault(t.stage, {"stage": t.stage, "calls": 0, "start_s": t.start_s, "end_s": t.end_s,
                                     "sum_task_s": 0.0, "sum_cpu_s": 0.0, "critical": False, "tools": []})
        s["calls"] += 1
        s["start_s"], s["end_s"] = min(s["start_s"], t.start_s), max(s["end_s"], t.end_s)
        s["sum_task_s"] += t.duration_s
        s["sum_cpu_s"] += t.cpu_s
        s["critical"] |= t.id in on_path
        if t.tool not in s["tools"]:
            s["tools"].append(t.tool)
    for s in out.values():
        s["wall_s"] = s["end_s"] - s["start_s"]
    return list(out.values())


def answer(r: RunReport) -> TaskRecord | None:
    """The call that streams the pipeline's answer: its last llm_call."""
    calls = [t for t in r.tasks if t.tool == ANSWER_TOOL]
    return calls[-1] if calls else None


def first_tokens(r: RunReport) -> list[dict]:
    """Each llm_call's measured time to first token, what the backend was asked for, and when (on the run's
    clock) the first token arrived."""
    asked = (r.options.get("params") or {}).get(ANSWER_TOOL, {}).get("ttft_ms")
    out = []
    for t in r.tasks:
        if t.tool != ANSWER_TOOL or t.status != "ok" or t.detail.get("ttft_ms") is None:
            continue
        ttft = t.detail["ttft_ms"] / 1000
        out.append({"call": t.id, "ttft_ms": t.detail["ttft_ms"], "asked_ms": asked,
                    "first_token_at_s": round(t.start_s + ttft, 6),
                    "tool_calls": len(t.detail.get("tool_calls") or ())})
    return out


def answer_at(r: RunReport) -> float | None:
    """When the answer's first token arrived, on the run's clock (None: the answer did not stream)."""
    a = answer(r)
    tokens = {f["call"]: f for f in first_tokens(r)}
    return tokens[a.id]["first_token_at_s"] if a is not None and a.id in tokens else None


def notes(r: RunReport) -> list[str]:
    """Sentences about one run of a pipeline."""
    if not r.pipeline or not r.tasks:
        return []
    path = [t for t in r.tasks if t.id in set(r.critical_path)]
    out = []
    if path and r.critical_path_s > 0:
        slowest = max(path, key=lambda t: t.duration_s)
        out.append(f"The critical path, the longest chain of calls that each needed the one before, is "
                   f"{' → '.join(r.critical_path)}: {_s(r.critical_path_s)}, which no schedule can beat; the run "
                   f"took ×{r.wall_s / r.critical_path_s:.2f} that. On it, {slowest.id} ({slowest.tool}) took "
                   f"longest: {_s(slowest.duration_s)}.")
    overlapped = [s for s in stages(r) if s["calls"] > 1 and s["wall_s"] > 0]
    if overlapped:
        best = max(overlapped, key=lambda s: s["sum_task_s"] / s["wall_s"])
        out.append(f"The {best['stage']} stage's {best['calls']} calls add up to {_s(best['sum_task_s'])} and took "
                   f"{_s(best['wall_s'])} of wall (×{best['sum_task_s'] / best['wall_s']:.1f} overlap).")
    if (at := answer_at(r)) is not None:
        out.append(f"The answer's first token arrived {_s(at)} after the run started.")
    if r.options.get("pipeline", {}).get("barrier"):
        out.append("Each call waited for the whole previous stage (a barrier), not only for the calls it needs.")
    return out


def compare_notes(reports: list[RunReport]) -> list[str]:
    """Across runs of one pipeline: whose answer streamed first, how much later in the others, and why where
    the numbers say (CPU calls on the loop); what a barrier cost against the same mode run as calls became ready."""
    runs = [r for r in reports if r.pipeline]
    if len(runs) < 2:
        return []
    out = []
    timed = sorted(((answer_at(r), r) for r in runs if answer_at(r) is not None), key=lambda x: x[0])
    if len(timed) >= 2:
        (first_at, first), (last_at, last) = timed[0], timed[-1]
        out.append(f"The answer's first token came first in {_label(first)} ({_s(first_at)} after the start) and "
                   f"last in {_label(last)} ({_s(last_at)}, {_s(last_at - first_at)} later).")
        for at, r in timed[1:]:
            on_loop = [t for t in r.tasks if t.worker == "event-loop" and t.kind in ("cpu", "blocking")
                       and t.start_s < at]          # what ran on the loop before the first token came
            if not on_loop:
                continue
            parts = []
            for kind in ("cpu", "blocking"):
                if calls := [t for t in on_loop if t.kind == kind]:
                    tools = ", ".join(dict.fromkeys(t.tool for t in calls))
                    parts.append(f"{len(calls)} {'CPU' if kind == 'cpu' else 'blocking'} call"
                                 f"{'s' * (len(calls) > 1)} ({tools}) for {_s(sum(t.duration_s for t in calls))}")
            out.append(f"In {_label(r)} the answer's first token came {(at - first_at) * 1000:.0f} ms after "
                       f"{_label(first)}'s: {' and '.join(parts)} ran on its event loop, and every call waiting on "
                       f"the loop waited behind them (its loop stood still for up to {r.loop_lag_max_ms or 0:.0f} ms).")
    by_mode: dict[str, dict[bool, RunReport]] = {}
    for r in runs:
        by_mode.setdefault(r.mode, {})[bool(r.pipeline.get("barrier"))] = r
    for mode, pair in by_mode.items():
        if True in pair and False in pair:
            ready, barrier = pair[False], pair[True]
            cost = barrier.wall_s - ready.wall_s
            out.append(f"In {mode}, waiting for each whole stage (a barrier) took {_s(barrier.wall_s)} against "
                       f"{_s(ready.wall_s)} with each call started as its own inputs were ready: the supersteps cost "
                       f"{_s(abs(cost))}{'' if cost >= 0 else ' less (within noise)'}"
                       f" (×{barrier.wall_s / ready.wall_s:.2f}).")
    return out


def _label(r: RunReport) -> str:
    return r.mode + (" with a barrier" if r.pipeline and r.pipeline.get("barrier") else "")
