"""Exports of measured runs: a Perfetto / Chrome trace-event JSON, a CSV of calls, and the JSON report.

Each takes one :class:`~agent_core.records.RunReport` or a list of them (a comparison) and only reads
their records: nothing is measured again, and nothing is added that the records do not hold.

The trace (the JSON object format of the Chrome trace-event format, which Perfetto opens):

- a *process* (integer pid) per lane group of a run: the lane the run's mode routes each call's kind to
  (``ROUTES`` in the mode's module), named like ``hybrid · event loop``;
- a *thread* (integer tid, unique in the whole trace) per lane: the worker a call ran on (``thread-3``,
  ``pid 1234``, ``dask worker 1 · tcp://…``). Calls that overlapped on one worker (many awaits on one event
  loop, a Dask worker's threads) get sub-lanes, ``event-loop · 2`` and so on, as few as the overlap needs,
  so that no two complete events overlap on one tid (Perfetto does not draw overlapping slices on a thread);
- each call one complete event ``X``: ``ts`` and ``dur`` in µs from its run's start, ``name`` the call's id,
  ``cat`` its kind, ``args`` its tool, worker, status, CPU seconds and error;
- the event loop's heartbeat lag as a counter track (``C`` events, ``loop lag`` in ms) in the loop's group;
- several reports each get their own pids and tids, every run's time starting at 0 so they line up.

- a pipeline's dependencies as flow events (``s`` bound to the slice of the call needed, ``f`` with ``bp: "e"``
  to the call that needed it, ``cat`` ``dependency``): Perfetto draws an arrow from each to the call.
"""
from __future__ import annotations

import csv
import io
import json
import math

from ..errors import BadInput
from ..lanes import LANES, lane_class
from ..modes import get_mode
from ..records import RunReport, TaskRecord

LOOP_LANE = "loop"
UNROUTED = "calls"              # the group of a call whose mode or kind this process does not know
CSV_COLUMNS = ("mode", "id", "tool", "kind", "worker", "start_s", "end_s", "duration_s", "cpu_s", "status", "error",
               "stage", "deps")
US = 1e6                        # trace timestamps are in microseconds


def _reports(report: RunReport | list[RunReport]) -> list[RunReport]:
    if isinstance(report, RunReport):
        return [report]
    reports = list(report)
    if not all(isinstance(r, RunReport) for r in reports):
        raise BadInput("an export takes a RunReport or a list of RunReports")
    return reports


def lane_words(lane: str) -> str:
    """The words for a lane group: the lane's ``title`` (:data:`agent_core.lanes.LANES`), else its name."""
    return (lane_class(lane).title or lane) if lane in LANES else lane


def route(report: RunReport, task: TaskRecord) -> str:
    """The lane ``task`` ran in: its kind routed by its run's mode (:data:`UNROUTED` if this process does
    not know the mode or the kind, e.g. a report imported from a newer version)."""
    try:
        routes = get_mode(report.mode).ROUTES
    except BadInput:
        return UNROUTED
    return routes.get(task.kind, UNROUTED)


def _us(seconds: float) -> float:
    """Seconds from the run's start as trace µs, to the µs a saved report keeps (so a run exports the same
    before and after the store); never before the run's start."""
    return round(round(max(0.0, seconds), 6) * US, 3)


def _sub_lanes(events: list[dict]) -> list[list[dict]]:
    """Split one worker's complete events into as few sub-lanes as their overlap needs (earliest start
    first, each to the first sub-lane already free at its start): no two events overlap in a sub-lane."""
    lanes: list[list[dict]] = []
    for ev in sorted(events, key=lambda e: (e["ts"], e["dur"])):
        for lane in lanes:
            last = lane[-1]
            if last["ts"] + last["dur"] <= ev["ts"]:
                lane.append(ev)
                break
        else:
            lanes.append([ev])
    return lanes


def _run_titles(reports: list[RunReport], names: list[str] | None) -> list[str]:
    if names is not None:
        if len(names) != len(reports):
            raise BadInput(f"{len(names)} names for {len(reports)} reports: give one name per report")
        return [f"{name} · {r.mode}" for name, r in zip(names, reports, strict=True)]
    modes = [r.mode for r in reports]
    if len(set(modes)) == len(modes):
        return modes
    return [f"run {i} · {m}" for i, m in enumerate(modes, 1)]


def perfetto(report: RunReport | list[RunReport], names: list[str] | None = None) -> dict:
    """The trace-event JSON object of one run or of several (see the module's docstring). ``names``: one
    per report, to tell runs apart in the process names (e.g. a diff's ``A`` and ``B``); by default the
    mode, numbered when a mode appears twice."""
    reports = _reports(report)
    titles = _run_titles(reports, names)

    # lay out every group (pid) first, then every lane (tid), so that tids never equal a pid
    plans = []                                  # (report, title, {lane: [(worker, [event, ...]), ...]})
    for r, title in zip(reports, titles, strict=True):
        groups: dict[str, dict[str, list[dict]]] = {}
        for t in sorted(r.tasks, key=lambda t: (t.start_s, t.id)):
            ts = _us(t.start_s)
            ev = {"ph": "X", "name": t.id, "cat": t.kind, "ts": ts, "dur": round(max(0.0, _us(t.end_s) - ts), 3),
                  "args": {"tool": t.tool, "worker": t.worker, "status": t.status, "cpu_s": round(t.cpu_s, 6),
                           "error": t.error}}
            groups.setdefault(route(r, t), {}).setdefault(t.worker, []).append(ev)
        if r.loop_lag is not None:
            groups.setdefault(LOOP_LANE, {})
        plans.append((r, title, groups))

    meta: list[dict] = []
    events: list[dict] = []
    pid = 0
    pids = []
    for _, title, groups in plans:
        own = {}
        for lane in _group_order(groups):
            pid += 1
            own[lane] = pid
            meta.append({"ph": "M", "name": "process_name", "pid": pid,
                         "args": {"name": f"{title} · {lane_words(lane)}"}})
            meta.append({"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}})
        pids.append(own)
    tid = pid
    flow = 0
    for (r, _, groups), own in zip(plans, pids, strict=True):
        placed: dict[str, dict] = {}            # call id -> its slice, where it was laid out
        for lane in _group_order(groups):
            for worker, evs in groups[lane].items():
                for k, sub in enumerate(_sub_lanes(evs), 1):
                    tid += 1
                    name = worker if k == 1 else f"{worker} · {k}"
                    meta.append({"ph": "M", "name": "thread_name", "pid": own[lane], "tid": tid,
                                 "args": {"name": name}})
                    meta.append({"ph": "M", "name": "thread_sort_index", "pid": own[lane], "tid": tid,
                                 "args": {"sort_index": tid}})
                    for ev in sub:
                        placed[ev["name"]] = {**ev, "pid": own[lane], "tid": tid}
                        events.append(placed[ev["name"]])
        for t in r.tasks:                       # a pipeline's dependencies: an arrow from each to the call
            for d in t.deps:
                if d not in placed or t.id not in placed:
                    continue
                flow += 1
                dep, call = placed[d], placed[t.id]
                events.append({"ph": "s", "name": "needs", "cat": "dependency", "id": flow, "pid": dep["pid"],
                               "tid": dep["tid"], "ts": dep["ts"] + dep["dur"] / 2})
                events.append({"ph": "f", "bp": "e", "name": "needs", "cat": "dependency", "id": flow,
                               "pid": call["pid"], "tid": call["tid"], "ts": call["ts"]})
        if r.loop_lag is not None:
            tid += 1
            meta.append({"ph": "M", "name": "thread_name", "pid": own[LOOP_LANE], "tid": tid,
                         "args": {"name": "loop-lag heartbeat"}})
            events += [{"ph": "C", "name": "loop lag", "pid": own[LOOP_LANE], "tid": tid, "ts": _us(s),
                        "args": {"ms": round(lag, 3)}}
                       for s, lag in r.loop_lag if math.isfinite(s) and math.isfinite(lag)]
    events.sort(key=lambda e: e["ts"])
    runs = [{"process": title, "mode": r.mode, "spec": r.options.get("spec"), "wall_s": round(r.wall_s, 6),
             "started_at": r.started_at, "n_calls": len(r.tasks)} for r, title, _ in plans]
    return {"traceEvents": meta + events, "displayTimeUnit": "ms", "otherData": {"runs": runs}}


def _group_order(groups: dict[str, dict]) -> list[str]:
    """Lane groups in the registry's order (caller, loop, threads, pool, children, dask), unknown ones last."""
    order = list(LANES)
    return sorted(groups, key=lambda lane: (order.index(lane) if lane in order else len(order), lane))


def csv_text(report: RunReport | list[RunReport]) -> str:
    """One row per call (:data:`CSV_COLUMNS`), the runs one after another, each in its calls' start order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in _reports(report):
        for t in sorted(r.tasks, key=lambda t: (t.start_s, t.id)):
            writer.writerow([r.mode, t.id, t.tool, t.kind, t.worker, f"{t.start_s:.6f}", f"{t.end_s:.6f}",
                             f"{t.duration_s:.6f}", f"{t.cpu_s:.6f}", t.status, t.error or "", t.stage,
                             " ".join(t.deps)])
    return out.getvalue()


def json_text(report: RunReport | list[RunReport]) -> str:
    """What ``run --json`` prints for one report, and ``compare --json`` for a list: ``{"runs": [...]}``."""
    if isinstance(report, RunReport):
        return json.dumps(report.to_dict())
    return json.dumps({"runs": [r.to_dict() for r in _reports(report)]})
