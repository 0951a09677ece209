"""Reading a report that was downloaded elsewhere: what ``run --json`` prints, ``{"runs": [...]}`` as ``compare
--json`` prints (and the exports of format json), or ``history show --json``. Anything else is one BadInput line
naming what is wrong and where, before anything is saved."""
from __future__ import annotations

import json
import math

from .._execute import STATUSES as _STATUSES
from ..catalog import shown
from ..errors import BadInput
from ..records import RunReport

MAX_IMPORT_BYTES = 64 * 2**20
MAX_RUNS_PER_FILE = 100
_EXPECTED = ("expected a report as `run --json` prints it, or {\"runs\": [...]} as `compare --json` and "
             "`history export --format json` print")


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise BadInput(f"{where} is {shown(value, 40, quote=True)}: it must be a number ≥ 0")
    return float(value)


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadInput(f"{where} is {shown(value, 40, quote=True)}: it must be non-empty text")
    return value


def _check_report(data, where: str) -> RunReport:
    from ..modes import MODES
    if not isinstance(data, dict):
        raise BadInput(f"{where} is not an object: {_EXPECTED}")
    for key in ("mode", "wall_s", "tasks"):
        if key not in data:
            raise BadInput(f"{where} has no {key!r}: {_EXPECTED}")
    if data["mode"] not in MODES:
        raise BadInput(f"{where}.mode is {shown(data['mode'], 40, quote=True)}: allowed are {', '.join(MODES)}")
    _number(data["wall_s"], f"{where}.wall_s")
    if not isinstance(data["tasks"], list):
        raise BadInput(f"{where}.tasks is not a list of calls")
    for i, task in enumerate(data["tasks"]):
        at = f"{where}.tasks[{i}]"
        if not isinstance(task, dict):
            raise BadInput(f"{at} is not an object with id, tool, kind, worker, start_s, end_s, cpu_s, status")
        for key in ("id", "tool", "kind", "worker"):
            _text(task.get(key), f"{at}.{key}")
        for key in ("start_s", "end_s", "cpu_s"):
            _number(task.get(key), f"{at}.{key}")
        if task["end_s"] < task["start_s"]:
            raise BadInput(f"{at} ends ({task['end_s']}) before it starts ({task['start_s']})")
        if task.get("status") not in _STATUSES:
            raise BadInput(f"{at}.status is {shown(task.get('status'), 40, quote=True)}: "
                           f"allowed are {', '.join(_STATUSES)}")
        if not isinstance(task.get("detail", {}), dict) or not isinstance(task.get("error") or "", str):
            raise BadInput(f"{at}: detail must be an object and error text or null")
    for key, kind in (("options", dict), ("loop_lag_samples", list), ("faults", list), ("abandoned", list),
                      ("host", dict)):
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise BadInput(f"{where}.{key} must be {'an object' if kind is dict else 'a list'} or absent")
    for j, sample in enumerate(data.get("loop_lag_samples") or ()):
        if not (isinstance(sample, list) and len(sample) == 2):
            raise BadInput(f"{where}.loop_lag_samples[{j}] is not a pair [seconds, lag ms]")
        _number(sample[0], f"{where}.loop_lag_samples[{j}][0]")
        _number(sample[1], f"{where}.loop_lag_samples[{j}][1]")
    try:
        report = RunReport.from_dict(data)
        report.to_dict()
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadInput(f"{where} could not be read as a report: {shown(exc, 120)}") from None
    return report


def parse(text: str | bytes) -> list[tuple[RunReport, dict]]:
    """The reports in an imported file, each with what ``history show --json`` said of it ({} if nothing)."""
    if len(text) > MAX_IMPORT_BYTES:
        raise BadInput(f"the file is {len(text) / 2**20:.0f} MB: at most {MAX_IMPORT_BYTES // 2**20} MB "
                       "can be imported")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"the file is not UTF-8 text (byte {exc.start}): {_EXPECTED}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"the file is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): "
                       f"{_EXPECTED}") from None
    except RecursionError:
        raise BadInput(f"the file's JSON is nested too deeply: {_EXPECTED}") from None
    if isinstance(data, dict) and "runs" in data:
        runs, where = data["runs"], "runs[{}]"
        if not isinstance(runs, list) or not runs:
            raise BadInput(f"the file's 'runs' is {'empty' if runs == [] else 'not a list'}: {_EXPECTED}")
        if len(runs) > MAX_RUNS_PER_FILE:
            raise BadInput(f"the file has {len(runs)} runs: at most {MAX_RUNS_PER_FILE} can be imported at once")
    elif isinstance(data, dict):
        runs, where = [data], "the report"
    else:
        raise BadInput(f"the file is JSON but not a report (a {type(data).__name__}): {_EXPECTED}")
    out = []
    for i, run in enumerate(runs):
        report = _check_report(run, where.format(i))
        saved = run.get("history") if isinstance(run.get("history"), dict) else {}
        out.append((report, saved))
    return out
