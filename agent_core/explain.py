"""Plain-language explanations computed from a run's numbers: what happened, and why.

Every sentence is derived from measured figures in the report (never from the mode's name alone), so
a surprising run gets a surprising explanation rather than the textbook one. What is generic (a stalled
loop, the GIL where CPU calls shared a process, true against apparent speedup, failures) is said here; what
is particular to a mode is said by the mode itself (``notes`` and ``reason`` in its module).
"""
from __future__ import annotations

from . import modes, pipeline_study
from .errors import BadInput
from .modes import BASELINE, in_process_kinds
from .modes import said_s as _s
from .records import RunReport, TaskRecord

LOOP_STALL_MS = 50.0      # a heartbeat this late means something ran on the loop's thread
LOOP_FREE_MS = 20.0


def _names(tasks: list[TaskRecord]) -> str:
    names = list(dict.fromkeys(t.tool for t in tasks))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _in_process_cpu(r: RunReport) -> list[TaskRecord]:
    """CPU calls that ran in the calling process, where they share one GIL (from the mode's routes: a
    pool's, a child's or a Dask worker's calls each had a process of their own)."""
    try:
        here = "cpu" in in_process_kinds(r.mode)
    except BadInput:                    # a mode this process does not know: claim nothing
        here = False
    return [t for t in r.tasks if t.kind == "cpu"] if here else []


def _blocking_on_loop(r: RunReport) -> list[TaskRecord]:
    return [t for t in r.tasks if t.worker == "event-loop" and t.kind in ("blocking", "cpu")]


def _stalled(r: RunReport) -> bool:
    return r.loop_lag_max_ms is not None and r.loop_lag_max_ms >= LOOP_STALL_MS


def _gil_bound(r: RunReport) -> bool:
    """Two or more CPU calls overlapped in one process and took far longer than their CPU time."""
    cpu_here = _in_process_cpu(r)
    return (len(cpu_here) >= 2 and r.peak_concurrency > 1
            and sum(t.duration_s for t in cpu_here) > 1.5 * sum(t.cpu_s for t in cpu_here))


def explain_run(r: RunReport) -> list[str]:
    """A few sentences about one run, each computed from its figures."""
    out: list[str] = []
    n, wall, total, crit = len(r.tasks), r.wall_s, r.sum_task_s, r.critical_path_s
    if not r.tasks:
        return ["The run had no calls."]
    if r.peak_concurrency <= 1:
        out.append(f"The {n} calls ran one at a time, so the run took about their sum: {_s(wall)}.")
    else:
        out.append(f"Up to {r.peak_concurrency} of the {n} calls ran at once: the run took {_s(wall)} of wall-clock "
                   f"while its calls add up to {_s(total)} (apparent speedup ×{r.speedup:.1f}).")
    if crit > 0 and r.peak_concurrency > 1 and not _stalled(r) and not _gil_bound(r) and not r.pipeline:
        ratio = wall / crit
        if ratio <= 1.3:
            out.append(f"That is within {100 * (ratio - 1):.0f}% of the longest single call ({_s(crit)}), the floor "
                       "no schedule of independent calls can beat.")
        else:
            out.append(f"The longest single call took {_s(crit)}; the run took ×{ratio:.1f} that, so calls waited for "
                       "a free worker or a free core.")
    out += pipeline_study.notes(r)

    lag = r.loop_lag_max_ms
    on_loop = _blocking_on_loop(r)
    if lag is not None:
        if lag >= LOOP_STALL_MS and on_loop:
            out.append(f"The event loop stood still for up to {lag:.0f} ms: {_names(on_loop)} ran on the loop's own "
                       "thread, and every awaited call waited behind it.")
        elif lag >= LOOP_STALL_MS:
            out.append(f"The event loop stalled for up to {lag:.0f} ms although no call ran on it: the loop's "
                       "thread waited for the GIL or for process start-up.")
        elif lag <= LOOP_FREE_MS and any(t.kind in ("blocking", "cpu") for t in r.tasks):
            out.append(f"The event loop never stalled more than {lag:.0f} ms: blocking and CPU work ran on threads "
                       "or processes, off the loop.")

    if _gil_bound(r):
        cpu_here = _in_process_cpu(r)
        out.append(f"The {len(cpu_here)} {_names(cpu_here)} calls spent {_s(sum(t.cpu_s for t in cpu_here))} on the "
                   f"CPU but {_s(sum(t.duration_s for t in cpu_here))} of wall between them: in one process they take "
                   "turns on the GIL, so their apparent overlap is not parallelism.")

    if r.true_speedup is not None and r.baseline_wall_s is not None and r.mode != BASELINE:
        if abs(r.speedup - r.true_speedup) > 0.25 * max(r.true_speedup, 1e-9):
            out.append(f"The true speedup is ×{r.true_speedup:.1f} ({BASELINE} took {_s(r.baseline_wall_s)}), not the "
                       f"apparent ×{r.speedup:.1f}: calls looked longer because they waited, not because they worked.")
        else:
            out.append(f"Against the {BASELINE} run ({_s(r.baseline_wall_s)}) the true speedup is "
                       f"×{r.true_speedup:.1f}.")

    out += modes.notes(r)

    bad = [t for t in r.tasks if t.status != "ok"]
    if bad:
        kinds = {}
        for t in bad:
            kinds[t.status] = kinds.get(t.status, 0) + 1
        out.append(f"{len(bad)} of {n} calls did not finish ok (" +
                   ", ".join(f"{k} {s}" for s, k in kinds.items()) + f"); first: {bad[0].id}: {bad[0].error}.")
    return out


def _reason(r: RunReport) -> str:
    """Why this mode lost time, from its own figures."""
    on_loop = _blocking_on_loop(r)
    if _stalled(r) and on_loop:
        return f"its event loop stood still for {r.loop_lag_max_ms:.0f} ms while {_names(on_loop)} ran on it"
    if _gil_bound(r):
        return f"the GIL serialised its {_names(_in_process_cpu(r))} calls"
    return modes.reason(r) or _near_floor(r)


def _near_floor(r: RunReport) -> str:
    if r.critical_path_s <= 0:
        return "it had no calls"
    floor = "critical path" if r.pipeline else "longest call"
    return f"it finished at ×{r.wall_s / r.critical_path_s:.2f} of its {floor}"


def explain_compare(reports: list[RunReport]) -> list[str]:
    """The winner, the losers and why, for the same workload run in several modes."""
    if not reports:
        return []
    ranked = sorted(reports, key=lambda r: r.wall_s)
    best = ranked[0]
    base = next((r for r in reports if r.mode == BASELINE), None)
    name = pipeline_study._label          # the mode, and "with a barrier" for a pipeline run in supersteps
    head = f"{name(best)} finished first in {_s(best.wall_s)}"
    if base is not None and best is not base:
        head += f", ×{base.wall_s / best.wall_s:.1f} faster than {BASELINE} ({_s(base.wall_s)})"
    why = _near_floor(best)
    if _gil_bound(best) or _stalled(best):
        why += f", although {_reason(best)}"
    out = [f"{head}: {why}."]
    out += [f"{name(r)} ({_s(r.wall_s)}): {_reason(r)}." for r in ranked[1:]]
    return out + pipeline_study.compare_notes(reports)


# -- failure boundaries ------------------------------------------------------------------------------------

def failure_summary(r: RunReport) -> dict:
    """What a fault did in this run: to the faulty call, to the others, to the process, and what is left."""
    faulty = [t for t in r.tasks if t.id in r.faulty_ids]
    others = [t for t in r.tasks if t.id not in r.faulty_ids]
    first = faulty[0] if faulty else None
    if r.host and not r.host["survived"]:
        process = f"died ({r.host['exit']}), taking every result with it"
    elif r.host:
        process = "survived (a sacrificial child hosted it)"
    else:
        process = "survived"
    left = []
    if r.abandoned:
        left.append(f"{len(r.abandoned)} abandoned thread{'s' * (len(r.abandoned) > 1)}")
    if r.pool_replaced:
        left.append("nothing (the broken pool was killed and replaced)")
    return {"mode": r.mode, "faulty_call": first.id if first else None,
            "faulty_status": first.status if first else None, "faulty_error": first.error if first else None,
            "detected_after_s": round(first.duration_s, 3) if first else None,
            "others_kept": sum(t.status == "ok" for t in others), "others_lost": sum(t.status != "ok" for t in others),
            "run_process": process,
            "left_running": ", ".join(left) if left else "nothing"}


def explain_failure(r: RunReport) -> str:
    """One or two sentences on how this mode's failure boundary behaved, from the run's records."""
    s = failure_summary(r)
    if s["faulty_call"] is None:
        return "No fault was injected."
    fault = next(f["kind"] for f in r.faults if f["call"] == s["faulty_call"])
    kept, lost = s["others_kept"], s["others_lost"]
    if r.host and not r.host["survived"]:
        return (f"{s['faulty_call']} ({fault}) killed the process running the whole {r.mode} run "
                f"({r.host['exit']}) after {_s(r.wall_s)}: all {len(r.tasks)} results were lost, "
                f"{r.host['results_lost']} of them already finished. The caller lived on only because the run "
                "was hosted in a sacrificial child.")
    text = (f"{s['faulty_call']} ({fault}) ended {s['faulty_status']} after {_s(s['detected_after_s'])}"
            + (f" ({s['faulty_error']})" if s["faulty_error"] else "") + f"; {kept} other call"
            f"{'s' * (kept != 1)} kept {'their' if kept != 1 else 'its'} result")
    text += f", {lost} lost {'theirs' if lost != 1 else 'its'}." if lost else "."
    if r.abandoned:
        text += (f" {len(r.abandoned)} thread{'s' * (len(r.abandoned) > 1)} could not be stopped and "
                 f"{'were' if len(r.abandoned) > 1 else 'was'} still running when the run ended.")
    if r.pool_replaced:
        text += " The process pool broke (BrokenProcessPool) and was replaced."
    faulty = next(t for t in r.tasks if t.id == s["faulty_call"])
    if faulty.detail.get("worker_restarted"):
        text += (f" Its thread could not be stopped, so the worker that ran it was restarted "
                 f"({_s(faulty.detail.get('restart_s', 0.0))}).")
    if r.host:
        text += " The run was hosted in a sacrificial child, which survived."
    return text
