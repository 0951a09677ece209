"""The difference between two measured runs, in sentences computed from their numbers.

Like :mod:`agent_core.explain`, every sentence is derived from the two reports' figures (and, when given,
their history entries' machine and version): which run finished first and by what ratio of the two walls,
what their calls added up to, the CPU they used, true speedups, the event loop's lag, each tool's median
call, the calls' statuses, and where and when each was measured.
"""
from __future__ import annotations

import dataclasses
from statistics import median

from ..explain import LOOP_STALL_MS
from ..modes import said_s as _s
from ..records import RunReport

SAME_WITHIN = 0.05          # walls within 5% of each other: "about the same"
TOOL_SAME_WITHIN = 0.10     # per-tool medians within 10%: no ratio named
MACHINE_FIELDS = (("hostname", "host"), ("cores", "cores"), ("python", "Python"), ("gil", "GIL"),
                  ("platform", "platform"))


def ratio_text(ratio: float) -> str:
    """A ratio as the sentences say it: ``×1.35`` under 2, ``×4.2`` from 2 on."""
    return f"×{ratio:.2f}" if ratio < 2 else f"×{ratio:.1f}"


def _field(entry, name: str):
    if entry is None:
        return None
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        entry = dataclasses.asdict(entry)
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def _statuses(r: RunReport) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(r.statuses.items(), key=lambda kv: -kv[1]))


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _what(a: RunReport, b: RunReport, an: str, bn: str) -> list[str]:
    sa, sb = a.options.get("spec"), b.options.get("spec")
    line = (f"{an} ran {sa or 'an unnamed workload'} in {a.mode} mode ({len(a.tasks)} calls); "
            f"{bn} ran {sb or 'an unnamed workload'} in {b.mode} mode ({len(b.tasks)} calls).")
    out = [line]
    if sa != sb or a.options.get("params") != b.options.get("params"):
        out.append("They ran different workloads (or parameters), so their times compare different work.")
    ha, hb = a.options.get("http"), b.options.get("http")
    if ha and hb and ha != hb:              # the async HTTP transport (run option http); older reports have none
        out.append(f"{an}'s async HTTP clients ran over {ha}, {bn}'s over {hb}.")
    return out


def _wall(a: RunReport, b: RunReport, an: str, bn: str) -> str:
    if a.wall_s <= 0 or b.wall_s <= 0:
        zero = an if a.wall_s <= 0 else bn
        return f"{zero}'s wall-clock time is {max(a.wall_s, 0):.0f} s, so no ratio of the two can be computed."
    (fast, fn), (slow, sn) = sorted([(a, an), (b, bn)], key=lambda x: x[0].wall_s)
    ratio = slow.wall_s / fast.wall_s
    if ratio - 1 < SAME_WITHIN:
        return (f"{an} and {bn} took about the same wall-clock time: {_s(a.wall_s)} and {_s(b.wall_s)} "
                f"(within {100 * (ratio - 1):.0f}%).")
    return (f"{fn} finished first, {ratio_text(ratio)} faster than {sn}: {_s(fast.wall_s)} of wall-clock "
            f"against {_s(slow.wall_s)}.")


def _work(a: RunReport, b: RunReport, an: str, bn: str) -> list[str]:
    out = [f"Their calls add up to {_s(a.sum_task_s)} in {an} and {_s(b.sum_task_s)} in {bn}, with up to "
           f"{a.peak_concurrency} and {b.peak_concurrency} calls at once (apparent speedup ×{a.speedup:.1f} "
           f"and ×{b.speedup:.1f})."]
    ca, cb = a.sum_cpu_s, b.sum_cpu_s
    line = f"The calls used {_s(ca)} of CPU in {an} and {_s(cb)} in {bn}"
    if min(ca, cb) > 0 and max(ca, cb) / min(ca, cb) >= 1.5:
        more = an if ca > cb else bn
        line += f": {ratio_text(max(ca, cb) / min(ca, cb))} more in {more}"
    out.append(line + ".")
    ta, tb = a.true_speedup, b.true_speedup
    if ta is not None and tb is not None:
        out.append(f"Against their sequential baselines the true speedup is ×{ta:.1f} for {an} and ×{tb:.1f} "
                   f"for {bn}.")
    elif ta is not None or tb is not None:
        who, t = (an, ta) if ta is not None else (bn, tb)
        out.append(f"Only {who} was measured against a sequential baseline: a true speedup of ×{t:.1f}.")
    return out


def _loop(a: RunReport, b: RunReport, an: str, bn: str) -> list[str]:
    la, lb = a.loop_lag_max_ms, b.loop_lag_max_ms
    if la is None and lb is None:
        return []
    if la is None or lb is None:
        who, lag, other = (an, la, bn) if la is not None else (bn, lb, an)
        return [f"{who}'s event loop lagged up to {lag:.0f} ms; {other} drove no event loop in its process."]
    line = f"The event loop lagged up to {la:.0f} ms in {an} and {lb:.0f} ms in {bn}"
    if (la >= LOOP_STALL_MS) != (lb >= LOOP_STALL_MS):
        stalled, free = (an, bn) if la >= LOOP_STALL_MS else (bn, an)
        line += f": {stalled}'s loop stalled (at least {LOOP_STALL_MS:.0f} ms), {free}'s did not"
    return [line + "."]


def tool_medians(r: RunReport) -> dict[str, float]:
    """Each tool's median call duration, in the order the tools first appear."""
    by_tool: dict[str, list[float]] = {}
    for t in r.tasks:
        by_tool.setdefault(t.tool, []).append(t.duration_s)
    return {tool: median(ds) for tool, ds in by_tool.items()}


def _tools(a: RunReport, b: RunReport, an: str, bn: str) -> list[str]:
    ma, mb = tool_medians(a), tool_medians(b)
    out = []
    for tool in list(dict.fromkeys([*ma, *mb])):
        if tool not in mb or tool not in ma:
            who, r = (an, a) if tool in ma else (bn, b)
            n = sum(t.tool == tool for t in r.tasks)
            out.append(f"{tool} ran only in {who} ({n} call{'s' * (n != 1)}).")
            continue
        x, y = ma[tool], mb[tool]
        line = f"{tool}'s median call took {_s(x)} in {an} and {_s(y)} in {bn}"
        if min(x, y) > 0 and max(x, y) / min(x, y) - 1 >= TOOL_SAME_WITHIN:
            line += f" ({ratio_text(max(x, y) / min(x, y))} longer in {an if x > y else bn})"
        out.append(line + ".")
    return out


def _status(a: RunReport, b: RunReport, an: str, bn: str) -> str:
    if a.ok and b.ok:
        if len(a.tasks) == len(b.tasks):
            return f"All {len(a.tasks)} calls finished ok in both."
        return f"All calls finished ok: {len(a.tasks)} in {an}, {len(b.tasks)} in {bn}."
    return f"Not every call finished ok: {an} {_statuses(a) or 'no calls'}; {bn} {_statuses(b) or 'no calls'}."


def _where(a: RunReport, b: RunReport, an: str, bn: str, a_entry, b_entry) -> list[str]:
    out = []
    ma, mb = _field(a_entry, "machine"), _field(b_entry, "machine")
    if isinstance(ma, dict) and isinstance(mb, dict):
        differ = [(words, ma.get(key), mb.get(key)) for key, words in MACHINE_FIELDS if ma.get(key) != mb.get(key)]
        if differ:
            out.append("They were measured on different machines: " + "; ".join(
                f"{words} {_on_off(x)} in {an}, {_on_off(y)} in {bn}" for words, x, y in differ) + ".")
        else:
            out.append(f"Both were measured on the same machine ({ma.get('hostname') or 'unnamed'}, "
                       f"{ma.get('cores')} cores).")
    elif a.cores != b.cores:
        out.append(f"{an}'s machine had {a.cores} usable cores, {bn}'s {b.cores}.")
    va, vb = _field(a_entry, "version"), _field(b_entry, "version")
    if va is not None and vb is not None and va != vb:
        out.append(f"{an} was measured with version {va}, {bn} with {vb}.")
    if a.started_at > 0 and b.started_at > 0:
        gap = b.started_at - a.started_at
        if abs(gap) >= 1:
            out.append(f"{bn} was measured {_span(gap)} {'after' if gap > 0 else 'before'} {an}.")
    return out


def _on_off(value) -> str:
    return {True: "on", False: "off"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def diff(a: RunReport, b: RunReport, a_name: str = "A", b_name: str = "B", a_entry=None, b_entry=None) -> list[str]:
    """Sentences on how run ``b`` differs from run ``a``, each computed from their numbers. ``a_entry`` and
    ``b_entry``: their history entries (an ``Entry`` or its dict), for the machine and version."""
    an, bn = a_name, b_name
    out = _what(a, b, an, bn)
    out.append(_wall(a, b, an, bn))
    out += _work(a, b, an, bn)
    out += _loop(a, b, an, bn)
    out += _tools(a, b, an, bn)
    out.append(_status(a, b, an, bn))
    out += _where(a, b, an, bn, a_entry, b_entry)
    return out
