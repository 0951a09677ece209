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

from . import api, pipeline_study
from . import modes as registry
from .catalog import CATALOG, KINDS, shown, to_number
from .errors import AgentCoreError, BadInput
from .explain import explain_compare, explain_run
from .faults import FAULT_KINDS
from .history._model import HISTORY_ENV  # the store itself (aiosqlite) is imported only when it is used
from .modes import BASELINE, get_mode
from .pipelines import PIPELINES, get_pipeline, pipeline
from .records import RunReport
from .workload import MAX_CALLS, ON_ERROR, TIMEOUT_RANGE, Workload, parse_faults, parse_param_assignments

EXPORT_FORMATS = ("perfetto", "csv", "json")

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


def _http_arg(q: argparse.ArgumentParser, bench: bool = False) -> None:
    """``--http``: the async HTTP transport, its choices and their descriptions from ``HTTP_CLIENTS``."""
    from .workload import DEFAULT_HTTP, HTTP_CLIENTS
    what = (f"P2 and P3 over this async HTTP transport only, and every other run over it (default: P2 and P3 "
            f"over each, the rest over {DEFAULT_HTTP})") if bench else (
            f"the transport of io calls awaited on an event loop (modes "
            f"{', '.join(m for m in registry.MODES if registry.uses_http(m))}; default {DEFAULT_HTTP}); "
            "elsewhere io calls use a sync httpx client")
    q.add_argument("--http", choices=HTTP_CLIENTS, default=None if bench else DEFAULT_HTTP,
                   metavar="|".join(HTTP_CLIENTS),
                   help=f"{what}. " + "; ".join(f"{k}: {v}" for k, v in HTTP_CLIENTS.items()))


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

    pipes = sub.add_parser("pipelines", help="list the pipelines (agent turns as graphs) and their parameters")
    pipes.add_argument("--json", action="store_true", help="print the pipelines as JSON")
    tools = sub.add_parser("tools", help="list the tools, their kinds, parameters and bounds")
    tools.add_argument("--json", action="store_true", help="print the catalog as JSON")
    tools_from(tools)

    def workload_args(q: argparse.ArgumentParser) -> None:
        shape = q.add_mutually_exclusive_group(required=True)
        shape.add_argument("--tools", metavar="SPEC",
                           help=f"tool:count,... e.g. llm_call:4,web_search:4 "
                                f"(≤ {MAX_CALLS} calls; each tool has its own cap, see `tools`)")
        shape.add_argument("--pipeline", metavar="NAME",
                           help="an agent turn as a graph of calls: " + ", ".join(PIPELINES)
                                + " (see `pipelines`; its parameters: --param NAME=VALUE)")
        q.add_argument("--barrier", action="store_true",
                       help="with --pipeline: each call waits for the whole previous stage (supersteps), not only "
                            "for the calls it needs")
        q.add_argument("--json", action="store_true", help="print the report as one JSON object")
        q.add_argument("--workers", type=_int, help="pool size / concurrency cap (default: the mode's own)")
        q.add_argument("--timeout-s", type=_float, default=30.0,
                       help=f"per-call timeout in seconds ({TIMEOUT_RANGE[0]:g}..{TIMEOUT_RANGE[1]:g}, default 30)")
        q.add_argument("--seed", type=_int, default=0, help="seed for latency jitter and generated text")
        q.add_argument("--param", action="append", metavar="TOOL.NAME=VALUE",
                       help="override a tool parameter, e.g. llm_call.tokens=64, or with --pipeline one of the "
                            "pipeline's, e.g. k=3 (repeatable; see `tools` and `pipelines`)")
        q.add_argument("--fault", action="append", metavar="TOOL:KIND[:SECONDS]",
                       help=f"inject a fault into the tool's first call; kinds: {', '.join(FAULT_KINDS)} "
                            "(hang and spin last SECONDS, default 60; repeatable)")
        q.add_argument("--on-error", choices=ON_ERROR, default="keep-going",
                       help="keep-going (gather with return_exceptions) or cancel-siblings (TaskGroup)")
        q.add_argument("--async-twins", action="store_true",
                       help="asyncio mode: await a blocking tool's async twin where it has one (aiosqlite)")
        _http_arg(q)
        q.add_argument("--save", action="store_true",
                       help=f"save the run (a comparison: all its runs) in the history ({HISTORY_ENV})")
        q.add_argument("--label", metavar="L", help="with --save: a name to find it by (history show/diff/export L)")
        tools_from(q)

    described = {"epilog": _modes_help(), "formatter_class": argparse.RawDescriptionHelpFormatter}
    run = sub.add_parser("run", help="run a workload in one mode", **described)
    run.add_argument("--mode", required=True, choices=modes, metavar="MODE", help="one of " + " ".join(modes))
    workload_args(run)
    bench = sub.add_parser("bench", help="measure how close the engine gets to this machine's limits (P1-P7)")
    bench.add_argument("--quick", action="store_true", help="small N, one repetition: proves it works, in seconds")
    bench.add_argument("--json", action="store_true", help="print {machine, figures} as JSON")
    bench.add_argument("--markdown", metavar="PATH", help="also write the results as Markdown (BENCHMARKS.md)")
    _http_arg(bench, bench=True)
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
    claims = sub.add_parser("claims", help="re-measure what the article and its blog series claim (docs/CLAIMS.md), "
                                           "each with a verdict computed from the figures")
    claims.add_argument("--only", metavar="ID,ID", help="these claims only, by number (default: every claim)")
    claims.add_argument("--json", action="store_true",
                        help='print {"claims": [{id, claim, source, measured, verdict, reason, page, ...}]}')
    _history_parser(sub)
    return p


def _history_parser(sub) -> None:
    h = sub.add_parser("history", help=f"saved runs: list, show, diff, export, import, delete (the store is "
                                       f"{HISTORY_ENV}: a path, or off)",
                       description="Runs saved with --save (and imported ones). REF is a run's id, or a label: a "
                                   "label names everything saved with it (one run, or a comparison's runs).")
    hs = h.add_subparsers(dest="history", required=True, parser_class=_Parser)
    ls = hs.add_parser("list", help="saved runs, newest first")
    ls.add_argument("--mode", choices=registry.MODES, metavar="MODE", help="only this mode")
    ls.add_argument("--label", help="only runs with this label")
    ls.add_argument("--spec", metavar="SPEC", help="only this workload, e.g. web_search:5")
    ls.add_argument("--machine", metavar="HOST", help="only runs measured on this host")
    ls.add_argument("--limit", type=_int, default=50, help="at most this many (default 50)")
    ls.add_argument("--json", action="store_true", help='print {"runs": [entry, ...]}')
    show = hs.add_parser("show", help="one saved run (or a label's comparison) as run/compare print it")
    show.add_argument("ref", metavar="REF")
    show.add_argument("--json", action="store_true", help="print the report(s) as run/compare --json, with 'history'")
    diff = hs.add_parser("diff", help="compare two saved runs, in sentences computed from their numbers")
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    export = hs.add_parser("export", help="write a saved run (or a label's comparison) to stdout")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                        help="perfetto (a trace ui.perfetto.dev opens), csv (one row per call) or json")
    export.add_argument("ref", metavar="REF")
    imp = hs.add_parser("import", help="save a JSON report downloaded elsewhere (run/compare --json, export json)")
    imp.add_argument("file", metavar="FILE", help="the JSON file, or - for stdin")
    imp.add_argument("--label", metavar="L", help="a name to find it by")
    delete = hs.add_parser("delete", help="delete saved runs")
    delete.add_argument("ids", metavar="ID", type=_int, nargs="+")


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


def _by_stage(rep: RunReport) -> str:
    rows = [["stage", "calls", "tools", "wall s", "Σ task s", "Σ cpu s", "on the critical path"]]
    for s in pipeline_study.stages(rep):
        rows.append([s["stage"], str(s["calls"]), ",".join(s["tools"]), f"{s['wall_s']:.3f}", f"{s['sum_task_s']:.3f}",
                     f"{s['sum_cpu_s']:.3f}", "yes" if s["critical"] else ""])
    return _table(rows, right={1, 3, 4, 5})


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
    http = f" · async HTTP over {o['http']}" if o.get("http") and rep.mode in registry.MODES and (
        registry.uses_http(rep.mode)) else ""
    print(f"{rep.mode} · {o['spec']} · {len(rep.tasks)} calls · workers {rep.workers or '—'} · "
          f"timeout {o['timeout_s']:g} s · seed {o['seed']}{http}")
    print(_headline(rep))
    print()
    print(_by_stage(rep) if rep.pipeline else _by_tool(rep))
    if rep.pipeline and (tokens := pipeline_study.first_tokens(rep)):
        print("first token: " + ", ".join(f"{f['call']} {f['ttft_ms']:.0f} ms (at {f['first_token_at_s']:.2f} s)"
                                          for f in tokens))
    if not rep.ok:
        print("\nnot ok:")
        print(_failures(rep))
    for line in _boundaries(rep):
        print(line)
    print()
    print(textwrap.fill(" ".join(explain_run(rep)), 110))


def _print_compare(reports: list[RunReport]) -> None:
    o = reports[0].options
    http = f" · async HTTP over {o['http']}" if o.get("http") else ""
    print(f"{o['spec']} · {len(reports[0].tasks)} calls · timeout {o['timeout_s']:g} s · seed {o['seed']}{http}"
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


def _workload(args: argparse.Namespace) -> Workload:
    """The workload the flags name: a spec (--tools) or a pipeline (--pipeline, its parameters as NAME=VALUE)."""
    items = args.param or []
    own = [i for i in items if "." not in i.partition("=")[0]]
    tool_params = parse_param_assignments([i for i in items if i not in own])
    faults = parse_faults(args.fault)
    if args.tools is not None:
        if args.barrier:
            raise BadInput("--barrier needs --pipeline: a workload of independent calls has no stages to wait for")
        parse_param_assignments(own)            # refuses NAME=VALUE: a flat workload has only tools' parameters
        return Workload.parse(args.tools, tool_params, faults)
    params = {}
    for item in own:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"--param {shown(item, quote=True)} is not NAME=VALUE (for example k=3) or "
                           "TOOL.NAME=VALUE (for example llm_call.tokens=64)")
        get_pipeline(args.pipeline).param(name.strip())
        params[name.strip()] = value.strip()
    return pipeline(args.pipeline, params, tool_params, faults)


def _print_pipelines(as_json: bool) -> None:
    if as_json:
        print(json.dumps({"pipelines": [p.to_dict() for p in PIPELINES.values()]}, indent=1))
        return
    for spec in PIPELINES.values():
        calls = pipeline(spec.name).calls()
        print(f"{spec.name}  [{len(calls)} calls by default]")
        print(f"    {spec.summary}")
        for p in spec.params:
            print(f"    {p.name} = {p.default}{' ' + p.unit if p.unit else ''}   allowed {p.allowed()}   {p.help}")


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


def _claims(args: argparse.Namespace) -> int:
    from . import claims
    chosen = claims.parse_only(args.only)
    api.warm_up()                       # the backend and the pool start before the first claim, not inside it
    results = []
    for claim_id in chosen:
        if not args.json:
            print(f"claim {claim_id}: {claims.CLAIMS[claim_id].how}", file=sys.stderr)
        results.append(claims.measure_claim(claim_id))
    if args.json:
        print(json.dumps({"claims": [r.to_dict() for r in results]}))
        return 0
    print(f"measured on {claims.machine_note(results)}")
    rows = [["#", "source", "verdict", "measured here"]]
    rows += [[str(r.id), r.source, r.verdict, r.summary or "—"] for r in results]
    print(_table(rows, right={0}))
    print()
    for r in results:
        print(textwrap.fill(f"{r.id}. {r.claim} — {r.verdict}: {r.reason}", 110, subsequent_indent="   "))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from . import bench
    markdown = _writable(args.markdown, "--markdown") if args.markdown is not None else None
    started = time.perf_counter()
    result = bench.run_bench(args.quick, progress=None if args.json else lambda s: print(s, file=sys.stderr),
                             http=args.http)
    print(json.dumps(result, indent=1) if args.json else bench.table(result), flush=True)
    if markdown:
        try:
            _write(markdown, bench.markdown(result, time.perf_counter() - started))
        except OSError as exc:          # checked before the work, yet the disk filled or the directory went since
            print(f"python -m agent_core: error: --markdown {shown(args.markdown, quote=True)} could not be "
                  f"written: {shown(exc.strerror or exc)}", file=sys.stderr)
            return 1
    return 0


# -- history -----------------------------------------------------------------------------------------------

def _store():
    """The history store, or BadInput when it is off; a file set aside on opening is said once, on stderr."""
    from .history.store import default_store
    store = default_store()
    if store is None:
        raise BadInput(f"history is off ({HISTORY_ENV}=off)")
    _say_warning(store)
    return store


def _say_warning(store) -> None:
    if store.warning:
        print(f"python -m agent_core: warning: {store.warning}", file=sys.stderr)
        store.warning = None


def _ids(ids: list[int]) -> str:
    return f"run {ids[0]}" if len(ids) == 1 else f"runs {ids[0]}–{ids[-1]} (one comparison)"


def _save(store, reports: RunReport | list[RunReport], label: str | None) -> None:
    """After the run is shown: save it; a failure is one line and the command still succeeds."""
    from .history.store import StoreError
    try:
        ids = store.save(reports, label)
    except StoreError as exc:
        print(f"python -m agent_core: the run is shown but not saved: {shown(exc, MAX_ERROR_CHARS)}", file=sys.stderr)
    else:
        print(f"saved as {_ids(ids)}" + (f" with label {shown(label, quote=True)}" if label else ""), file=sys.stderr)
    _say_warning(store)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _machine(m: dict) -> str:
    if not m.get("hostname"):
        return f"{m.get('cores') or '?'} cores (imported)"
    gil = "" if m.get("gil") is not False else " · no GIL"
    return f"{m['hostname']} · {m.get('cores')} cores · Python {m.get('python')}{gil}"


def _print_entries(entries) -> None:
    if not entries:
        print("no saved runs (save one with run --save, or history import FILE)")
        return
    rows = [["id", "saved", "label", "mode", "workload", "wall s", "ok", "machine", "version", "source"]]
    for e in entries:
        rows.append([str(e.id), _when(e.saved_at), shown(e.label or "—", 30), e.mode, shown(e.spec, 40),
                     f"{e.wall_s:.3f}", f"{e.ok_calls}/{e.n_calls}", _machine(e.machine), shown(e.version, 20),
                     e.source + (f" · cmp {e.group[:6]}" if e.group else "")])
    print(_table(rows, right={0, 5, 6}))


def _saved_line(e) -> str:
    label = f" · label {shown(e.label, quote=True)}" if e.label else ""
    return (f"run {e.id}{label} · saved {_when(e.saved_at)} · {_machine(e.machine)} · agent_core {e.version} · "
            f"{e.source}")


def _one_run(store, ref: str):
    saved = store.get_saved(ref)
    if len(saved) > 1:
        raise BadInput(f"{shown(ref, quote=True)} names a comparison of {len(saved)} runs (ids {saved[0][0].id}.."
                       f"{saved[-1][0].id}): give one run's id")
    return saved[0]


def _read_import(path: str) -> bytes:
    from .history._importing import MAX_IMPORT_BYTES
    where = shown(path, quote=True)
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
        else:
            if not os.path.isfile(path):
                raise BadInput(f"FILE {where} is not a file: give a JSON report saved with run/compare --json")
            with open(path, "rb") as f:
                data = f.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"FILE {where} cannot be read: {shown(exc.strerror or exc)}") from None
    return data


def _history(args: argparse.Namespace) -> int:
    store = _store()
    if args.history == "list":
        entries = store.list(mode=args.mode, spec=args.spec, label=args.label, machine=args.machine,
                             limit=args.limit)
        if args.json:
            print(json.dumps({"runs": [e.to_dict() for e in entries]}))
        else:
            _print_entries(entries)
    elif args.history == "show":
        saved = store.get_saved(args.ref)
        if args.json:
            runs = [{**r.to_dict(), "history": e.to_dict()} for e, r in saved]
            print(json.dumps(runs[0] if len(runs) == 1 else {"runs": runs}))
        else:
            for e, _ in saved:
                print(_saved_line(e))
            print()
            _print_run(saved[0][1]) if len(saved) == 1 else _print_compare([r for _, r in saved])
    elif args.history == "diff":
        from .history.diff import diff
        (ea, a), (eb, b) = _one_run(store, args.a), _one_run(store, args.b)
        names = [e.label if e.label and ea.label != eb.label else f"run {e.id}" for e in (ea, eb)]
        print(f"A = {_saved_line(ea)}\nB = {_saved_line(eb)}\n")
        for sentence in diff(a, b, *names, a_entry=ea.to_dict(), b_entry=eb.to_dict()):
            print(textwrap.fill(sentence, 110, subsequent_indent="  "))
    elif args.history == "export":
        from .history import export
        reports = [r for _, r in store.get_saved(args.ref)]
        what = reports[0] if len(reports) == 1 else reports
        text = {"perfetto": lambda: json.dumps(export.perfetto(what)), "csv": lambda: export.csv_text(what),
                "json": lambda: export.json_text(what)}[args.format]()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    elif args.history == "import":
        ids = store.import_json(_read_import(args.file), args.label)
        print(f"imported as {_ids(ids)}" + (f" with label {shown(args.label, quote=True)}" if args.label else ""))
    else:
        for run_id in args.ids:             # all there, or nothing deleted: BadInput names the missing id
            store.get(run_id)
        n = store.delete(args.ids)
        print(f"deleted {n} run{'s' if n != 1 else ''}")
    _say_warning(store)
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
        if args.command == "claims":
            return _claims(args)
        if args.command == "history":
            return _history(args)
        if args.command == "pipelines":
            _print_pipelines(args.json)
            return 0
        workload = _workload(args)
        store = None
        if args.label is not None and not args.save:
            raise BadInput(f"--label {shown(args.label, quote=True)} needs --save (nothing is saved without it)")
        if args.save:                   # refused before the run, not after it
            from .history.store import check_label
            check_label(args.label)
            store = _store()
        common = {"workers": args.workers, "timeout_s": args.timeout_s, "seed": args.seed, "on_error": args.on_error,
                  "async_twins": args.async_twins, "barrier": args.barrier,
                  "http": args.http}
        if args.command == "run":
            report = api.run(workload, args.mode, **common)
            print(json.dumps(report.to_dict()), flush=True) if args.json else _print_run(report)
            if store:
                _save(store, report, args.label)
        else:
            allowed = ", ".join(registry.MODES)
            modes = [m.strip() for m in args.modes.split(",") if m.strip()]
            if not modes:
                raise BadInput(f"--modes {shown(args.modes, quote=True)} names no mode: allowed are {allowed}")
            for m in modes:
                if m not in registry.MODES:
                    raise BadInput(f"unknown mode {shown(m, quote=True)} in --modes: allowed are {allowed}")
            reports = api.compare(workload, modes, **common)
            print(json.dumps({"runs": [r.to_dict() for r in reports]}), flush=True) if args.json else (
                _print_compare(reports))
            if store:
                _save(store, reports, args.label)
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
