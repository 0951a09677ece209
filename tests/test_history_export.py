"""Exports (Perfetto trace, CSV, JSON) and diffs of real runs, in every mode and for a comparison."""
from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
from statistics import median

import pytest

import agent_core
from agent_core.history.diff import diff, ratio_text
from agent_core.history.export import CSV_COLUMNS, csv_text, json_text, lane_words, perfetto
from agent_core.lanes import LANES, lane_class
from agent_core.modes import MODES, get_mode, has_loop, said_s
from agent_core.records import RunReport

from .conftest import ROOT
from .perfetto_check import check_trace

SPEC = "web_search:3,analysis:1"
PARAMS = {"web_search": {"latency_ms": 50}, "analysis": {"work": 20000}}


@pytest.fixture(scope="module")
def runs():
    """One real run per mode, measured on first use and shared by the module's tests."""
    cache: dict[str, RunReport] = {}

    def get(mode: str) -> RunReport:
        if mode not in cache:
            cache[mode] = agent_core.run(SPEC, mode, params=PARAMS)
            assert cache[mode].ok, cache[mode].statuses
        return cache[mode]
    return get


@pytest.fixture(scope="module")
def comparison():
    reports = agent_core.compare(SPEC, ["asyncio", "hybrid"], params=PARAMS)
    assert [r.mode for r in reports] == ["sequential", "asyncio", "hybrid"]
    return reports


def _names(trace: dict) -> tuple[dict[int, str], dict[int, str]]:
    meta = [e for e in trace["traceEvents"] if e["ph"] == "M"]
    return ({e["pid"]: e["args"]["name"] for e in meta if e["name"] == "process_name"},
            {e["tid"]: e["args"]["name"] for e in meta if e["name"] == "thread_name"})


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])   # ends sort first
    peak = active = 0
    for _, step in edges:
        active += step
        peak = max(peak, active)
    return peak


@pytest.mark.parametrize("mode", MODES)
def test_perfetto_trace_of_every_mode(runs, mode):
    r = runs(mode)
    trace = perfetto(r)
    check_trace(trace)
    processes, threads = _names(trace)
    calls = {e["name"]: e for e in trace["traceEvents"] if e["ph"] == "X"}
    assert sorted(calls) == sorted(t.id for t in r.tasks)          # each call one span, nothing else
    routes = get_mode(mode).ROUTES
    lanes_of: dict[str, set[int]] = {}
    for t in r.tasks:
        ev = calls[t.id]
        assert processes[ev["pid"]] == f"{mode} · {lane_words(routes[t.kind])}"
        assert threads[ev["tid"]] == t.worker or threads[ev["tid"]].startswith(f"{t.worker} · ")
        assert ev["cat"] == t.kind and ev["args"]["tool"] == t.tool and ev["args"]["status"] == t.status
        assert ev["ts"] == pytest.approx(t.start_s * 1e6, abs=1)             # µs, as a saved report keeps them
        assert ev["ts"] + ev["dur"] == pytest.approx(t.end_s * 1e6, abs=1)
        assert ev["args"]["cpu_s"] == pytest.approx(t.cpu_s, abs=1e-6)
        lanes_of.setdefault(t.worker, set()).add(ev["tid"])
    # a worker gets exactly as many sub-lanes as its calls overlapped at most
    for worker, tids in lanes_of.items():
        mine = [(t.start_s, t.end_s) for t in r.tasks if t.worker == worker]
        assert len(tids) == _max_overlap(mine), worker
    if mode in ("asyncio", "hybrid"):       # three 50 ms searches awaited at once on one loop
        assert len(lanes_of["event-loop"]) >= 2
    counters = [e for e in trace["traceEvents"] if e["ph"] == "C"]
    assert (r.loop_lag is not None) == has_loop(mode)
    assert len(counters) == len(r.loop_lag or [])
    for ev, (s, lag) in zip(sorted(counters, key=lambda e: e["ts"]), r.loop_lag or [], strict=True):
        assert processes[ev["pid"]] == f"{mode} · event loop"
        assert ev["ts"] == pytest.approx(s * 1e6, abs=1) and ev["args"]["ms"] == pytest.approx(lag, abs=1e-3)


def test_perfetto_file_round_trip_through_a_saved_report(runs, tmp_path):
    """What the store keeps (the report's JSON) exports to the same trace, and the file validates."""
    r = runs("hybrid")
    again = RunReport.from_dict(json.loads(json_text(r)))
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(perfetto(again)))
    check_trace(path.read_text())
    assert json.loads(path.read_text()) == json.loads(json.dumps(perfetto(r)))


def test_perfetto_of_a_comparison_gives_each_run_its_own_processes(comparison):
    trace = perfetto(comparison)
    check_trace(trace)
    processes, _ = _names(trace)
    calls = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(calls) == sum(len(r.tasks) for r in comparison)
    pids_of = {r.mode: {e["pid"] for e in calls if processes[e["pid"]].startswith(f"{r.mode} · ")}
               for r in comparison}
    for r in comparison:
        assert sum(processes[e["pid"]].startswith(f"{r.mode} · ") for e in calls) == len(r.tasks)
    assert sum(len(p) for p in pids_of.values()) == len(set().union(*pids_of.values()))     # disjoint
    assert [run["mode"] for run in trace["otherData"]["runs"]] == ["sequential", "asyncio", "hybrid"]


def test_perfetto_tells_two_runs_of_one_mode_apart(runs):
    r = runs("threads")
    for names, first in ((None, "run 1 · threads"), (["A", "B"], "A · threads")):
        trace = perfetto([r, r], names=names)
        check_trace(trace)
        processes, _ = _names(trace)
        assert len(processes) == 2 and f"{first} · thread pool" in processes.values()
        assert sum(e["ph"] == "X" for e in trace["traceEvents"]) == 2 * len(r.tasks)


def test_perfetto_of_a_mode_this_version_does_not_know(runs):
    data = runs("hybrid").to_dict()
    data["mode"] = "teleport"
    trace = perfetto(RunReport.from_dict(data))
    check_trace(trace)
    processes, _ = _names(trace)
    assert set(processes.values()) == {"teleport · calls", "teleport · event loop"}


def test_every_lane_has_words_in_a_trace():
    titles = [lane_class(lane).title for lane in LANES]
    assert all(titles) and len(set(titles)) == len(LANES), "every lane has a title of its own"
    assert [lane_words(lane) for lane in LANES] == titles


@pytest.mark.parametrize("break_it, message", [
    ("one_tid", "overlap"), ("unnamed_thread", "no thread_name"), ("unnamed_process", "no process_name"),
    ("string_pid", "not an integer"), ("negative_dur", "finite number"), ("begin_event", "ph 'B'"),
])
def test_the_validator_fails_a_broken_trace(runs, break_it, message):
    trace = copy.deepcopy(perfetto(runs("asyncio")))
    events = trace["traceEvents"]
    calls = [e for e in events if e["ph"] == "X"]
    if break_it == "one_tid":           # the loop's overlapping calls collapsed onto one thread
        for e in calls:
            e["tid"] = calls[0]["tid"]
    elif break_it == "unnamed_thread":
        events.remove(next(e for e in events if e["name"] == "thread_name" and e["tid"] == calls[0]["tid"]))
    elif break_it == "unnamed_process":
        events.remove(next(e for e in events if e["name"] == "process_name" and e["pid"] == calls[0]["pid"]))
    elif break_it == "string_pid":
        calls[0]["pid"] = str(calls[0]["pid"])
    elif break_it == "negative_dur":
        calls[0]["dur"] = -1.0
    else:
        calls[0]["ph"] = "B"
    check_trace(perfetto(runs("asyncio")))          # the real one passes
    with pytest.raises(AssertionError, match=message):
        check_trace(trace)


def test_csv_has_one_row_per_call(runs, comparison):
    r = runs("distributed")
    rows = list(csv.DictReader(io.StringIO(csv_text(r))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(r.tasks)
    by_id = {t.id: t for t in r.tasks}
    for row in rows:
        t = by_id.pop(row["id"])
        assert (row["mode"], row["tool"], row["kind"], row["worker"], row["status"], row["error"]) == \
            ("distributed", t.tool, t.kind, t.worker, t.status, "")
        assert float(row["start_s"]) == pytest.approx(t.start_s, abs=1e-6)
        assert float(row["duration_s"]) == pytest.approx(t.end_s - t.start_s, abs=2e-6)
        assert float(row["cpu_s"]) == pytest.approx(t.cpu_s, abs=1e-6)
    assert by_id == {}
    rows = list(csv.DictReader(io.StringIO(csv_text(comparison))))
    assert [row["mode"] for row in rows] == [r.mode for r in comparison for _ in r.tasks]


def test_json_is_what_the_command_line_prints(runs, comparison):
    r = runs("threads")
    assert json_text(r) == json.dumps(r.to_dict())
    again = RunReport.from_dict(json.loads(json_text(r))).to_dict()
    assert (again["tasks"], again["wall_s"], again["options"]) == (r.to_dict()["tasks"], r.to_dict()["wall_s"],
                                                                   r.to_dict()["options"])
    runs_json = json.loads(json_text(comparison))
    assert list(runs_json) == ["runs"] and [x["mode"] for x in runs_json["runs"]] == ["sequential", "asyncio",
                                                                                      "hybrid"]
    printed = subprocess.run([sys.executable, "-m", "agent_core", "run", "--mode", "threads", "--tools",
                              "web_search:2", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                             env={**os.environ, "AGENT_CORE_HISTORY": "off"})
    assert printed.returncode == 0, printed.stderr
    assert set(json.loads(printed.stdout)) == set(json.loads(json_text(r)))


def test_diff_names_the_faster_run_and_by_how_much(runs):
    slow, fast = runs("sequential"), runs("threads")
    ratio = slow.wall_s / fast.wall_s
    assert ratio > 1.5, (slow.wall_s, fast.wall_s)     # three 50 ms searches one by one, against all at once
    for a, b, an, bn, fn, sn in ((slow, fast, "A", "B", "B", "A"), (fast, slow, "first", "second", "first",
                                                                      "second")):
        said = diff(a, b, an, bn)
        assert said[0] == f"{an} ran {SPEC} in {a.mode} mode (4 calls); {bn} ran {SPEC} in {b.mode} mode (4 calls)."
        assert f"{fn} finished first, {ratio_text(ratio)} faster than {sn}: {said_s(fast.wall_s)}" in said[1]
        for tool in ("web_search", "analysis"):
            ma = median(t.duration_s for t in a.tasks if t.tool == tool)
            mb = median(t.duration_s for t in b.tasks if t.tool == tool)
            assert any(s.startswith(f"{tool}'s median call took {said_s(ma)} in {an} and {said_s(mb)} in {bn}")
                       for s in said)
        assert "All 4 calls finished ok in both." in said


def test_diff_of_a_run_with_itself_finds_no_difference(runs):
    r = runs("hybrid")
    said = diff(r, r)
    assert said[1] == f"A and B took about the same wall-clock time: {said_s(r.wall_s)} and {said_s(r.wall_s)} " \
                      "(within 0%)."
    assert not any("faster" in s or "longer in" in s or "different" in s for s in said)
    assert f"The event loop lagged up to {r.loop_lag_max_ms:.0f} ms in A and {r.loop_lag_max_ms:.0f} ms in B." in said


def test_diff_says_where_and_with_what_each_run_was_measured(runs):
    a, b = runs("sequential"), runs("hybrid")
    here = {"cores": a.cores, "python": "3.12.3", "gil": True, "platform": "Linux", "hostname": "left"}
    said = diff(a, b, a_entry={"machine": here, "version": "0.9"},
                b_entry={"machine": {**here, "hostname": "right", "gil": False}, "version": "1.0"})
    assert "They were measured on different machines: host left in A, right in B; GIL on in A, off in B." in said
    assert "A was measured with version 0.9, B with 1.0." in said
    assert "B drove no event loop in its process." not in " ".join(said)       # b has one, a has none
    assert "A's event loop" not in " ".join(said)
    assert any(s.startswith(f"B's event loop lagged up to {b.loop_lag_max_ms:.0f} ms; A drove no event loop")
               for s in said)
    same = diff(a, b, a_entry={"machine": here, "version": "1.0"}, b_entry={"machine": here, "version": "1.0"})
    assert f"Both were measured on the same machine (left, {a.cores} cores)." in same
    assert not any("version" in s for s in same)


def test_a_pipelines_dependencies_are_arrows_in_the_trace_and_columns_in_the_csv():
    turn = agent_core.pipeline("rag_answer", {"lookups": 2}, {"embed": {"latency_ms": 10}, "vector_lookup": {
        "latency_ms": 10}, "llm_call": {"ttft_ms": 10, "tokens": 4}, "rerank": {"candidates": 20}})
    r = agent_core.run(turn, "hybrid")
    trace = perfetto(r)["traceEvents"]
    slices = {e["name"]: e for e in trace if e["ph"] == "X"}
    starts = {e["id"]: e for e in trace if e["ph"] == "s"}
    ends = {e["id"]: e for e in trace if e["ph"] == "f"}
    assert set(starts) == set(ends) and len(starts) == sum(len(t.deps) for t in r.tasks) == 5
    arrows = set()
    for i, s in starts.items():
        f = ends[i]
        dep = next(n for n, e in slices.items() if (e["pid"], e["tid"]) == (s["pid"], s["tid"])
                   and e["ts"] <= s["ts"] <= e["ts"] + e["dur"])
        call = next(n for n, e in slices.items() if (e["pid"], e["tid"]) == (f["pid"], f["tid"]) and e["ts"] == f["ts"])
        arrows.add((dep, call))
    assert arrows == {(d, t.id) for t in r.tasks for d in t.deps}
    rows = list(csv.reader(io.StringIO(csv_text(r))))
    by_id = {row[1]: dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_id["rerank"]["deps"] == "lookup#1 lookup#2" and by_id["rerank"]["stage"] == "rerank"
