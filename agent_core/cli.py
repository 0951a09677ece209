"""Command line: ``python -m agent_core tools | run | compare`` (the contract in DESIGN.md).

Bad input exits with status 2 and one line naming the value and what is allowed; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import textwrap
import time

from . import api
from . import modes as registry
from .catalog import CATALOG, KINDS, shown, to_number
from .errors import AgentCoreError, BadInput
from .explain import explain_compare, explain_run
from .faults import FAULT_KINDS
from .modes import BASELINE, get_mode
from .records import RunReport
from .workload import MAX_CALLS, ON_ERROR, TIMEOUT_RANGE, Workload, parse_faults, parse_param_assignments

MAX_ERROR_CHARS = 400          # an error line is one short line, whatever the input it names
_LONG_QUOTED = re.compile(r"'([^']{80,})'")       # a value argparse quotes in its message: cut like ours
_LONG_WORD = re.compile(r"[^\s']{80,}")              # and one it does not quote ("unrecognized arguments: ...")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:          # one line, not usage + message; long values it quotes cut short
        message = _LONG_QUOTED.sub(lambda m: shown(m.group(1), quote=True), message)
        message = _LONG_WORD.sub(lambda m: shown(m.group(0)), message)
        self.exit(2, f"{self.prog}: error: {shown(message, MAX_ERROR_CHARS)}\n")


def _int(text: str) -> int:
    """An integer option, ASCII digits only (``int()`` would take '٣'); argparse words its error as for ``int``."""
    value = to_number(text, integer=True)
    if not isinstance(value, int):          # ±inf: more than 20 digits
        raise ValueError(text)
    return value


def _float(text: str) -> float:
    """A number option, ASCII digits only; NaN and infinities pass, for the engine's range check to name them."""
    return float(to_number(text))


_int.__name__, _float.__name__ = "int", "float"      # "invalid int value: '٣'", as argparse says for int


def _writable(path: str, flag: str) -> str:
    """An output file written at the end of a long command: refuse it now, before any work, if it cannot be."""
    where = shown(path, quote=True)
    full = os.path.abspath(path) if path else ""
    if not path or os.path.isdir(full):
        raise BadInput(f"{flag} {where} is not a file path: give one such as BENCHMARKS.md")
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        raise BadInput(f"{flag} {where}: its directory {shown(parent, quote=True)} does not exist")
    try:                                # the real test: root passes os.access, a read-only or full disk does not
        fd, probe = tempfile.mkstemp(prefix=".agent-core-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
        if os.path.exists(full) and not os.access(full, os.W_OK):
            raise PermissionError("the file is read-only")
    except OSError as exc:
        raise BadInput(f"{flag} {where} cannot be written: {shown(exc.strerror or exc)}") from None
    return full


def _write(path: str, text: str) -> None:
    """Write a whole file: a regular file is replaced at once (a failed write leaves the old one intact)."""
    if os.path.exists(path) and not os.path.isfile(path):       # /dev/stdout and the like
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    fd, tmp = tempfile.mkstemp(prefix=".agent-core-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _modes_help() -> str:
    """The modes and their one-line summaries, from the registry, for ``run`` and ``compare`` help."""
    width = max(len(m) for m in registry.MODES)
    return "modes:\n" + "\n".join(f"  {m.ljust(width)}  {get_mode(m).SUMMARY}" for m in registry.MODES)


def _parser() -> argparse.ArgumentParser:
    modes = registry.MODES
    p = _Parser(prog="python -m agent_core",
                description=f"Measure where an agent's tool calls should run, in {len(modes)} modes "
                            f"({', '.join(modes)}), on real agent work.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    def tools_from(q: argparse.ArgumentParser) -> None:
        q.add_argument("--tools-from", action="append", metavar="FILE",
                       help="a Python file of your own tools (see README: Measure your own agent's tools); "
                            "repeatable")

    tools = sub.add_parser("tools", help="list the tools, their kinds, parameters and bounds")
    tools.add_argument("--json", action="store_true", help="print the catalog as JSON")
    tools_from(tools)

    def workload_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--tools", required=True, metavar="SPEC",
                       help=f"tool:count,... e.g. llm_call:4,web_search:4 "
                            f"(≤ {MAX_CALLS} calls; each tool has its own cap, see `tools`)")
        q.add_argument("--json", action="store_true", help="print the report as one JSON object")
        q.add_argument("--workers", type=_int, help="pool size / concurrency cap (default: the mode's own)")
        q.add_argument("--timeout-s", type=_float, default=30.0,
                       help=f"per-call timeout in seconds ({TIMEOUT_RANGE[0]:g}..{TIMEOUT_RANGE[1]:g}, default 30)")
        q.add_argument("--seed", type=_int, default=0, help="seed for latency jitter and generated text")
        q.add_argument("--param", action="append", metavar="TOOL.NAME=VALUE",
                       help="override a tool parameter, e.g. llm_call.tokens=64 (repeatable; see `tools`)")
        q.add_argument("--fault", action="append", metavar="TOOL:KIND[:SECONDS]",
                       help=f"inject a fault into the tool's first call; kinds: {', '.join(FAULT_KINDS)} "
                            "(hang and spin last SECONDS, default 60; repeatable)")
        q.add_argument("--on-error", choices=ON_ERROR, default="keep-going",
                       help="keep-going (gather with return_exceptions) or cancel-siblings (TaskGroup)")
        q.add_argument("--async-twins", action="store_true",
                       help="asyncio mode: await a blocking tool's async twin where it has one (aiosqlite)")
        tools_from(q)

    described = {"epilog": _modes_help(), "formatter_class": argparse.RawDescriptionHelpFormatter}
    run = sub.add_parser("run", help="run a workload in one mode", **described)
    run.add_argument("--mode", required=True, choices=modes, metavar="MODE", help="one of " + " ".join(modes))
    workload_args(run)
    bench = sub.add_parser("bench", help="measure how close the engine gets to this machine's limits (P1-P7)")
    bench.add_argument("--quick", action="store_true", help="small N, one repetition: proves it works, in seconds")
    bench.add_argument("--json", action="store_true", help="print {machine, figures} as JSON")
    bench.add_argument("--markdown", metavar="PATH", help="also write the results as Markdown (BENCHMARKS.md)")
    compare = sub.add_parser("compare", help="run a workload in every mode, one after another", **described)
    compare.add_argument("--modes", default=",".join(modes),
                         help=f"comma-separated modes ({BASELINE} always runs first)")
    workload_args(compare)
    classify = sub.add_parser("classify", help="measure each tool alone, in two threads and on an event loop, and "
                                               "recommend its kind (io, blocking, cpu) with the evidence")
    tools_from(classify)
    classify.add_argument("--only", metavar="TOOL,TOOL", help="these tools only (default: the file's tools, "
                                                              "else the built-in ones)")
    classify.add_argument("--runs", type=_int, default=3, help="runs of each tool alone (1..10, default 3)")
    classify.add_argument("--param", action="append", metavar="TOOL.NAME=VALUE", help="override a tool parameter")
    classify.add_argument("--json", action="store_true", help='print {"tools": [{name, kind, declared, evidence}]}')
    return p


# -- human output ------------------------------------------------------------------------------------------

def _table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    def line(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  " + "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(cells))
    return "\n".join(line(r).rstrip() for r in rows)


def _x(value: float | None) -> str:
    return "—" if value is None else f"×{value:.2f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _headline(rep: RunReport) -> str:
    head = ["wall s", "Σ task s", "Σ cpu s", "critical path s", "speedup", "true speedup", "peak", "loop lag ms"]
    return _table([head,
                   [f"{rep.wall_s:.3f}", f"{rep.sum_task_s:.3f}", f"{rep.sum_cpu_s:.3f}", f"{rep.critical_path_s:.3f}",
                    _x(rep.speedup), _x(rep.true_speedup), str(rep.peak_concurrency), _ms(rep.loop_lag_max_ms)]],
                  right=set(range(8)))


def _by_tool(rep: RunReport) -> str:
    rows = [["tool", "kind", "calls", "ok", "failed", "mean ms", "max ms", "cpu ms", "where"]]
    for tool in dict.fromkeys(t.tool for t in rep.tasks):
        ts = [t for t in rep.tasks if t.tool == tool]
        ok = sum(t.status == "ok" for t in ts)
        lanes = sorted({t.worker for t in ts})
        where = lanes[0] if len(lanes) == 1 else f"{len(lanes)} lanes ({lanes[0]}, …)"
        durations = [t.duration_s for t in ts]
        rows.append([tool, ts[0].kind, str(len(ts)), str(ok), str(len(ts) - ok),
                     f"{1000 * sum(durations) / len(ts):.1f}", f"{1000 * max(durations):.1f}",
                     f"{1000 * sum(t.cpu_s for t in ts):.1f}", where])
    return _table(rows, right={2, 3, 4, 5, 6, 7})


def _failures(rep: RunReport) -> str:
    bad = [t for t in rep.tasks if t.status != "ok"]
    return "\n".join(f"  {t.id}: {t.status}: {t.error}" for t in bad[:20]) + (
        f"\n  … and {len(bad) - 20} more" if len(bad) > 20 else "")


def _boundaries(rep: RunReport) -> list[str]:
    """What the failure boundary did: the host that died, threads left running, a pool replaced."""
    out = []
    if rep.host and not rep.host["survived"]:
        out.append(f"\nthe run's process died ({rep.host['exit']}) {rep.wall_s:.3f} s in: all {len(rep.tasks)} "
                   f"calls' results were lost with it ({rep.host['results_lost']} had finished); "
                   "this command survived")
    elif rep.host:
        out.append(f"\nhosted in a sacrificial child (pid {rep.host['pid']}), which survived")
    if rep.abandoned:
        out.append(f"still running after the run: {len(rep.abandoned)} abandoned thread(s) "
                   f"({', '.join(rep.abandoned[:5])})")
    if rep.pool_replaced:
        out.append("the process pool broke or had to be killed: it is replaced")
    return out


def _print_run(rep: RunReport) -> None:
    o = rep.options
    print(f"{rep.mode} · {o['spec']} · {len(rep.tasks)} calls · workers {rep.workers or '—'} · "
          f"timeout {o['timeout_s']:g} s · seed {o['seed']}")
    print(_headline(rep))
    print()
    print(_by_tool(rep))
    if not rep.ok:
        print("\nnot ok:")
        print(_failures(rep))
    for line in _boundaries(rep):
        print(line)
    print()
    print(textwrap.fill(" ".join(explain_run(rep)), 110))


def _print_compare(reports: list[RunReport]) -> None:
    o = reports[0].options
    print(f"{o['spec']} · {len(reports[0].tasks)} calls · timeout {o['timeout_s']:g} s · seed {o['seed']}"
          f" · one mode at a time, {BASELINE} first")
    rows = [["mode", "wall s", "Σ task s", "Σ cpu s", "critical s", "speedup", "true speedup", "peak", "loop lag ms",
             "ok"]]
    for r in reports:
        rows.append([r.mode, f"{r.wall_s:.3f}", f"{r.sum_task_s:.3f}", f"{r.sum_cpu_s:.3f}", f"{r.critical_path_s:.3f}",
                     _x(r.speedup), _x(r.true_speedup), str(r.peak_concurrency), _ms(r.loop_lag_max_ms),
                     f"{r.statuses.get('ok', 0)}/{len(r.tasks)}"])
    print(_table(rows, right=set(range(1, 10))))
    print()
    for line in explain_compare(reports):
        print(textwrap.fill(line, 110, subsequent_indent="  "))


def _print_tools() -> None:
    for spec in CATALOG.values():
        print(f"{spec.name}  [{spec.kind}: {KINDS[spec.kind]}]  at most {spec.max_calls} calls")
        print(f"    {spec.summary}")
        for p in spec.params:
            unit = f" {p.unit}" if p.unit else ""
            print(f"    {spec.name}.{p.name} = {p.default}{unit}   allowed {p.allowed()}   {p.help}")
        print()


def _classify(args: argparse.Namespace) -> int:
    from .classifier import classify
    only = [t.strip() for t in args.only.split(",") if t.strip()] if args.only else None
    if args.only is not None and not only:
        raise BadInput(f"--only {shown(args.only, quote=True)} names no tool")
    verdicts = classify(only, runs=args.runs, params=parse_param_assignments(args.param),
                        progress=None if args.json else lambda s: print(s, file=sys.stderr))
    if args.json:
        print(json.dumps({"tools": [v.to_dict() for v in verdicts]}))
        return 0
    rows = [["tool", "declared", "measured", "CPU share", "2 in threads", "loop lag ms", "wall ms"]]
    for v in verdicts:
        e = v.evidence
        rows.append([v.name, v.declared or "-", v.kind + (" (!)" if v.contradicts else ""), f"{e['cpu_share']:.0%}",
                     f"{e['two_in_threads_x']:g}×" if e["two_in_threads_x"] is not None else "-",
                     _ms(e["loop_lag_ms"]), f"{e['wall_ms']:.1f}"])
    print(_table(rows, right={3, 4, 5, 6}))
    print()
    for v in verdicts:
        print(textwrap.fill(v.reason, 110, subsequent_indent="  "))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from . import bench
    markdown = _writable(args.markdown, "--markdown") if args.markdown is not None else None
    started = time.perf_counter()
    result = bench.run_bench(args.quick, progress=None if args.json else lambda s: print(s, file=sys.stderr))
    print(json.dumps(result, indent=1) if args.json else bench.table(result), flush=True)
    if markdown:
        try:
            _write(markdown, bench.markdown(result, time.perf_counter() - started))
        except OSError as exc:          # checked before the work, yet the disk filled or the directory went since
            print(f"python -m agent_core: error: --markdown {shown(args.markdown, quote=True)} could not be "
                  f"written: {shown(exc.strerror or exc)}", file=sys.stderr)
            return 1
    return 0


# -- entry point -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        for path in getattr(args, "tools_from", None) or ():
            from .usertools import load_tools
            load_tools(path)
        if args.command == "classify":
            return _classify(args)
        if args.command == "tools":
            if args.json:
                print(json.dumps({"tools": [s.to_dict() for s in CATALOG.values()], "kinds": KINDS}, indent=1))
            else:
                _print_tools()
            return 0
        if args.command == "bench":
            return _bench(args)
        workload = Workload.parse(args.tools, parse_param_assignments(args.param), parse_faults(args.fault))
        common = {"workers": args.workers, "timeout_s": args.timeout_s, "seed": args.seed, "on_error": args.on_error,
                  "async_twins": args.async_twins}
        if args.command == "run":
            report = api.run(workload, args.mode, **common)
            print(json.dumps(report.to_dict())) if args.json else _print_run(report)
        else:
            allowed = ", ".join(registry.MODES)
            modes = [m.strip() for m in args.modes.split(",") if m.strip()]
            if not modes:
                raise BadInput(f"--modes {shown(args.modes, quote=True)} names no mode: allowed are {allowed}")
            for m in modes:
                if m not in registry.MODES:
                    raise BadInput(f"unknown mode {shown(m, quote=True)} in --modes: allowed are {allowed}")
            reports = api.compare(workload, modes, **common)
            print(json.dumps({"runs": [r.to_dict() for r in reports]})) if args.json else _print_compare(reports)
        return 0
    except BadInput as exc:             # one short line, even from a message that echoes a long value
        print(f"python -m agent_core: error: {shown(exc, MAX_ERROR_CHARS)}", file=sys.stderr)
        return 2
    except AgentCoreError as exc:
        print(f"python -m agent_core: {type(exc).__name__}: {shown(exc, MAX_ERROR_CHARS)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
