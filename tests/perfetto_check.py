"""A validator for the Perfetto / Chrome trace-event JSON that ``agent_core.history.export.perfetto`` writes.

``check_trace(obj)`` asserts, event by event, what Perfetto needs to draw the trace as we mean it: the JSON
object format (``traceEvents``, ``displayTimeUnit``); ``ph`` one of X (a call), M (a name), C (a counter);
integer ``pid``/``tid`` that fit Perfetto's 32 bits; finite ``ts``/``dur`` ≥ 0; a name on every event; a
``process_name`` for every pid and a ``thread_name`` for every tid that an X or C event uses, each tid named
in one process only; and no two X events overlapping on one (pid, tid) (Perfetto does not draw
overlapping slices on a thread). ``obj`` may be the parsed object or the JSON text.
"""
from __future__ import annotations

import json
import math

PHASES = {"X", "M", "C"}
META = {"process_name", "thread_name", "process_sort_index", "thread_sort_index"}
UINT32 = 2**32


def _int_id(ev: dict, key: str, where: str) -> int:
    value = ev.get(key)
    assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {key} {value!r} is not an integer"
    assert 0 <= value < UINT32, f"{where}: {key} {value} does not fit 32 bits"
    return value


def _number(ev: dict, key: str, where: str) -> float:
    value = ev.get(key)
    assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {key} {value!r} not a number"
    assert math.isfinite(value) and value >= 0, f"{where}: {key} {value} is not a finite number ≥ 0"
    return float(value)


def check_trace(obj) -> None:
    if isinstance(obj, (str, bytes)):
        obj = json.loads(obj)
    assert isinstance(obj, dict), "a trace is a JSON object"
    json.dumps(obj, allow_nan=False)                     # NaN or Infinity would not be JSON
    assert obj.get("displayTimeUnit") in (None, "ms", "ns"), f"displayTimeUnit {obj.get('displayTimeUnit')!r}"
    events = obj.get("traceEvents")
    assert isinstance(events, list) and events, "traceEvents is a non-empty list"

    process_names: dict[int, str] = {}
    thread_names: dict[int, tuple[int, str]] = {}        # tid -> (pid, name)
    used: set[tuple[int, int]] = set()
    spans: dict[tuple[int, int], list[tuple[float, float, str]]] = {}
    for i, ev in enumerate(events):
        where = f"event {i}"
        assert isinstance(ev, dict), f"{where} is not an object"
        ph = ev.get("ph")
        assert ph in PHASES, f"{where}: ph {ph!r} is not one of {sorted(PHASES)}"
        name = ev.get("name")
        assert isinstance(name, str) and name, f"{where}: no name"
        where = f"event {i} ({ph} {name!r})"
        pid = _int_id(ev, "pid", where)
        if ph == "M":
            assert name in META, f"{where}: unknown metadata"
            args = ev.get("args")
            assert isinstance(args, dict), f"{where}: no args"
            if name == "process_name":
                assert isinstance(args.get("name"), str) and args["name"], f"{where}: empty process name"
                assert pid not in process_names, f"{where}: pid {pid} named twice"
                process_names[pid] = args["name"]
            elif name == "thread_name":
                tid = _int_id(ev, "tid", where)
                assert isinstance(args.get("name"), str) and args["name"], f"{where}: empty thread name"
                assert tid not in thread_names, f"{where}: tid {tid} named twice"
                thread_names[tid] = (pid, args["name"])
            else:
                assert isinstance(args.get("sort_index"), int), f"{where}: sort_index not an integer"
            continue
        tid = _int_id(ev, "tid", where)
        ts = _number(ev, "ts", where)
        used.add((pid, tid))
        if ph == "X":
            dur = _number(ev, "dur", where)
            spans.setdefault((pid, tid), []).append((ts, dur, name))
        else:
            args = ev.get("args")
            assert isinstance(args, dict) and args, f"{where}: a counter needs args"
            for key, value in args.items():
                assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), \
                    f"{where}: counter series {key!r} value {value!r} is not a finite number"

    for pid, tid in sorted(used):
        assert pid in process_names, f"pid {pid} has no process_name"
        assert tid in thread_names, f"tid {tid} (pid {pid}) has no thread_name"
        assert thread_names[tid][0] == pid, f"tid {tid} is named in pid {thread_names[tid][0]} but used in pid {pid}"
    for (pid, tid), items in spans.items():
        items.sort(key=lambda s: (s[0], s[1]))
        for (ts0, dur0, n0), (ts1, _, n1) in zip(items, items[1:], strict=False):
            assert ts1 >= ts0 + dur0, (f"{n0!r} [{ts0}, {ts0 + dur0}] and {n1!r} (from {ts1}) overlap on pid {pid} "
                                       f"tid {tid} ({thread_names[tid][1]!r})")
