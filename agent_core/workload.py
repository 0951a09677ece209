"""Workloads (which tools, how many, with which parameters) and run options, checked against bounds.

Every bound a public demo relies on is enforced here, in the engine, whatever a widget or flag allows.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalog import CATALOG, KINDS, get_tool, resolve_params, shown, to_number
from .errors import BadInput
from .faults import FAULT_KINDS, MAX_FAULT_S

MAX_CALLS = 1000         # per workload; each tool has its own cap too (catalog: max_calls)
TIMEOUT_RANGE = (0.1, 60.0)
MAX_RUN_S = 300.0          # a whole run never lasts longer: calls still pending then are cancelled
ON_ERROR = ("keep-going", "cancel-siblings")
MAX_SEED = 2**31 - 1
# The HTTP transport under every ``httpx.AsyncClient`` a run builds: io calls awaited on an event loop (the modes
# for which ``modes.uses_http`` is true: asyncio, hybrid's io calls, distributed's on its workers' loops). Tools keep
# httpx's API either way; sync clients (threads, pool workers, children) are always plain httpx. The default is
# chosen from BENCHMARKS.md's P2 and P3, measured over each.
HTTP_CLIENTS = {
    "httpx": "httpx's own transport (httpcore, h11): pure Python, its client CPU per request shows at high fan-out",
    "aiohttp": "the same httpx.AsyncClient API over aiohttp (httpx-aiohttp): a C-accelerated HTTP parser and pool, "
               "less client CPU per request",
}
DEFAULT_HTTP = "aiohttp"
# Disk: every memory_write call of a run writes into one SQLite file in the run's temp dir. Measured here: 260 bytes
# on disk a row (the row, its index entry, page overhead), so this bound keeps one run's file under about 260 MB
# (a default workload, 5,000 rows a call, reaches it only at 200 calls).
MAX_WRITE_ROWS = 1_000_000
WRITE_BYTES_PER_ROW = 260
_SPEC_ITEM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*(\S*)\s*)?$")
_COUNT = re.compile(r"[0-9]{1,9}")      # ASCII digits: '²' passes str.isdigit and int() then raises ValueError


@dataclass(frozen=True)
class Call:
    id: str            # "web_search#3"
    tool: str
    kind: str
    params: dict
    index: int         # position in the workload
    fault: str | None = None     # an injected fault (agent_core.faults) carried by this call
    fault_s: float = 0.0
    # a pipeline's call (agent_core.pipelines); a flat workload's calls have none of these
    deps: tuple[int, ...] = ()   # indices of the calls it needs done first
    stage: str = ""              # the step of the pipeline it belongs to ("search", "fetch", ...)
    resolve: str = ""            # "" or how the engine fills it in from its deps' results when they are done
    offer: tuple[str, ...] = ()  # resolve == "tool_call": the tools the model may ask for in this slot
    slot: int = 0                # resolve == "tool_call": which of the model's tool calls this call runs


@dataclass(frozen=True)
class Workload:
    counts: dict[str, int]                                  # tool -> calls, in spec order
    params: dict[str, dict] = field(default_factory=dict)   # tool -> resolved parameters
    faults: dict[str, tuple[str, float]] = field(default_factory=dict)  # tool -> (kind, seconds): its first call
    # a pipeline (agent_core.pipelines): its name and checked parameters, and its calls with their dependencies
    pipeline: tuple[str, dict, dict] | None = None     # (name, its parameters, tool parameters given)
    graph: tuple[Call, ...] = ()

    @classmethod
    def of(cls, counts: dict[str, int], params: dict[str, dict] | None = None,
           faults: dict[str, tuple[str, float]] | None = None) -> Workload:
        """Check counts, parameters and faults; anything out of bounds raises BadInput."""
        if not isinstance(counts, Mapping):
            raise BadInput(f"the workload {shown(counts, quote=True)} is not {{tool: count}}: for example "
                           "{'web_search': 4, 'analysis': 2}")
        params = {} if params is None else params
        if not isinstance(params, Mapping):
            raise BadInput(f"params {shown(params, quote=True)} is not {{tool: {{name: value}}}}: for example "
                           "{'web_search': {'latency_ms': 100}}")
        for tool in params:
            get_tool(tool)
        faults = {} if faults is None else faults
        if not isinstance(faults, Mapping):
            raise BadInput(f"faults {shown(faults, quote=True)} is not {{tool: (kind, seconds)}}: for example "
                           "{'legacy_sdk': ('hang', 5)}")
        checked: dict[str, int] = {}
        for tool, count in counts.items():
            cap = get_tool(tool).max_calls
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= cap:
                raise BadInput(f"{tool}:{shown(count)} is not allowed: {tool}'s count must be 1..{cap}")
            checked[tool] = count
        if not checked:
            raise BadInput("the workload is empty: give tool:count pairs such as web_search:4,analysis:2")
        if (total := sum(checked.values())) > MAX_CALLS:
            raise BadInput(f"the workload has {total} calls: allowed at most {MAX_CALLS} in one run")
        pairs: dict[str, tuple[str, float]] = {}
        for tool, fault in faults.items():
            get_tool(tool)
            if isinstance(fault, str) or not isinstance(fault, (tuple, list)) or len(fault) != 2:
                raise BadInput(f"the fault for {tool}, {shown(fault, quote=True)}, is not (kind, seconds): for "
                               "example ('hang', 5)")
            kind, seconds = fault
            if tool not in checked:
                raise BadInput(f"the fault {tool}:{shown(kind)} names a tool with no calls in this workload "
                               f"({', '.join(checked)})")
            check_fault(tool, kind, seconds)
            pairs[tool] = (kind, float(seconds))
        resolved = {tool: resolve_params(tool, params.get(tool)) for tool in checked}
        for tool in params:             # a tool with no calls here: its values are still checked, then unused
            if tool not in checked:
                spec, given = get_tool(tool), params[tool]
                if not isinstance(given, Mapping):
                    resolve_params(tool, given)         # raises: not {name: value}
                for name, raw in given.items():
                    spec.param(name).check(tool, raw)
        check_disk(checked, resolved)
        return cls(checked, resolved, pairs)

    @classmethod
    def parse(cls, spec: str, params: dict[str, dict] | None = None,
              faults: dict[str, tuple[str, float]] | None = None) -> Workload:
        """``"llm_call:4,web_search:4"`` (a bare name means one call)."""
        counts: dict[str, int] = {}
        for item in str(spec).split(","):
            if not item.strip():
                continue
            match = _SPEC_ITEM.match(item)
            if not match:
                raise BadInput(f"{shown(item.strip(), quote=True)} is not tool:count (for example web_search:4); "
                               f"tools are {', '.join(CATALOG)}")
            tool, raw = match.group(1), match.group(2)
            get_tool(tool)
            if tool in counts:
                raise BadInput(f"{tool} appears twice in the spec {shown(spec, quote=True)}: give each tool once")
            if raw is None or raw == "":
                counts[tool] = 1
            elif _COUNT.fullmatch(raw):
                counts[tool] = int(raw)
            else:
                cap = get_tool(tool).max_calls
                what = "out of range" if re.fullmatch(r"[0-9]+", raw) else "not allowed"
                raise BadInput(f"{tool}:{shown(raw)} is {what}: {tool}'s count must be a whole number 1..{cap} "
                               "(ASCII digits)")
        return cls.of(counts, params, faults)

    @property
    def spec(self) -> str:
        if self.pipeline is not None:
            name, params, _ = self.pipeline
            return f"{name}({','.join(f'{k}={v}' for k, v in params.items())})"
        return ",".join(f"{tool}:{n}" for tool, n in self.counts.items())

    @property
    def n_calls(self) -> int:
        return sum(self.counts.values())

    @property
    def network(self) -> bool:
        """Some call talks to the backend (or a real LLM server); a user's tool may, so it is given its address."""
        return any(CATALOG[tool].module.endswith("http_tools") or CATALOG[tool].origin for tool in self.counts)

    def kinds(self) -> set[str]:
        return {kind for kind in KINDS if self.count_kind(kind)}

    def count_kind(self, kind: str) -> int:
        """Calls that may be of this kind: a slot the model fills in counts for each kind it may pick."""
        if self.graph:
            return sum(kind in ({CATALOG[t].kind for t in c.offer} if c.offer else {c.kind}) for c in self.graph)
        return sum(n for tool, n in self.counts.items() if CATALOG[tool].kind == kind)

    def dep_ids(self, call: Call) -> list[str]:
        return [self.graph[d].id for d in call.deps]

    def calls(self) -> list[Call]:
        if self.graph:
            return list(self.graph)
        out: list[Call] = []
        for tool, n in self.counts.items():
            kind, base = CATALOG[tool].kind, len(out)
            out.extend([Call(f"{tool}#{k}", tool, kind, self.params[tool], base + k - 1) for k in range(1, n + 1)])
            if tool in self.faults:          # the tool's first call carries its fault
                fault, seconds = self.faults[tool]
                out[base] = Call(f"{tool}#1", tool, kind, self.params[tool], base, fault, seconds)
        return out


def check_fault(tool: str, kind: str, seconds: float) -> None:
    get_tool(tool)
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise BadInput(f"fault {tool}:{shown(kind)} is not allowed: the kind must be one of {', '.join(FAULT_KINDS)}")
    if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
            or not 0.1 <= seconds <= MAX_FAULT_S):          # NaN fails the comparison too
        raise BadInput(f"fault {tool}:{kind}:{shown(seconds)} is out of range: seconds must be 0.1..{MAX_FAULT_S:g}")


def check_disk(counts: Mapping[str, int], params: Mapping[str, dict]) -> None:
    """What a run may write to disk is bounded: ``memory_write``'s rows × calls ≤ MAX_WRITE_ROWS."""
    if "memory_write" not in counts:
        return
    calls, rows = counts["memory_write"], params["memory_write"]["rows"]
    if calls * rows > MAX_WRITE_ROWS:
        raise BadInput(f"memory_write:{calls} with rows={rows} writes {calls * rows:,} rows: allowed at most "
                       f"{MAX_WRITE_ROWS:,} rows in one run (about {MAX_WRITE_ROWS * WRITE_BYTES_PER_ROW / 1e6:.0f} "
                       "MB of SQLite on disk); lower memory_write.rows or its count")


def parse_faults(items: list[str] | None) -> dict[str, tuple[str, float]]:
    """``["legacy_sdk:hang", "analysis:spin:5"]`` -> ``{"legacy_sdk": ("hang", 60.0), "analysis": ("spin", 5.0)}``."""
    from .faults import DEFAULT_FAULT_S
    out: dict[str, tuple[str, float]] = {}
    for item in items or ():
        parts = [p.strip() for p in item.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise BadInput(f"--fault {shown(item, quote=True)} is not TOOL:KIND[:SECONDS] (for example "
                           f"legacy_sdk:hang:5); kinds are {', '.join(FAULT_KINDS)}")
        tool, kind = parts[0], parts[1]
        try:
            seconds = float(to_number(parts[2])) if len(parts) == 3 else DEFAULT_FAULT_S
        except ValueError:
            raise BadInput(f"--fault {shown(item, quote=True)}: {shown(parts[2], quote=True)} is not a number of "
                           f"seconds (0.1..{MAX_FAULT_S:g}, ASCII digits)") from None
        if tool in out:
            raise BadInput(f"--fault names {tool} twice: give each tool one fault")
        check_fault(tool, kind, seconds)
        out[tool] = (kind, seconds)
    return out


def parse_param_assignments(items: list[str] | None) -> dict[str, dict]:
    """``["llm_call.tokens=64", ...]`` -> ``{"llm_call": {"tokens": "64"}}`` (values checked later)."""
    out: dict[str, dict] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        tool, dot, param = name.strip().partition(".")
        if not sep or not dot or not tool or not param:
            raise BadInput(f"--param {shown(item, quote=True)} is not TOOL.NAME=VALUE (for example llm_call.tokens=64)")
        get_tool(tool.strip()).param(param.strip())
        out.setdefault(tool.strip(), {})[param.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Options:
    workers: int | None = None     # pool size / concurrency cap; None: the mode's default
    timeout_s: float = 30.0        # per call
    seed: int = 0
    on_error: str = "keep-going"   # or "cancel-siblings": the first failed call cancels the others
    async_twins: bool = False      # asyncio mode: await a blocking tool's async twin (aiosqlite) where it has one
    barrier: bool = False          # a pipeline's call waits for the whole previous stage, not only its own deps
    http: str = DEFAULT_HTTP       # the transport of the run's async HTTP clients: a key of HTTP_CLIENTS

    def to_dict(self) -> dict:
        """The one serialisation of options (a report's ``options``, a sacrificial host's request)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Options:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    def checked(self, mode: str, max_workers: int) -> Options:
        lo, hi = TIMEOUT_RANGE
        try:
            timeout = to_number(self.timeout_s)
        except ValueError:
            raise BadInput(f"timeout_s={shown(self.timeout_s)} is not a number: allowed {lo:g}..{hi:g} s") from None
        if not lo <= timeout <= hi:                     # NaN fails too; a huge int is compared, never converted
            raise BadInput(f"timeout_s={shown(self.timeout_s)} is out of range: allowed {lo:g}..{hi:g} s")
        timeout = float(timeout)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise BadInput(f"seed={shown(self.seed)} is out of range: allowed 0..{MAX_SEED}")
        workers = self.workers
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or not 1 <= workers <= max_workers):
            raise BadInput(f"workers={shown(workers)} is out of range for {mode}: allowed 1..{max_workers}")
        if not isinstance(self.on_error, str) or self.on_error not in ON_ERROR:
            raise BadInput(f"on_error={shown(self.on_error, quote=True)} is not allowed: one of {', '.join(ON_ERROR)}")
        for name in ("async_twins", "barrier"):
            value = getattr(self, name)
            if not isinstance(value, bool) and value not in (0, 1):
                raise BadInput(f"{name}={shown(value, quote=True)} is not allowed: True or False")
        if not isinstance(self.http, str) or self.http not in HTTP_CLIENTS:
            raise BadInput(f"http={shown(self.http, quote=True)} is not allowed: one of {', '.join(HTTP_CLIENTS)}")
        return Options(workers, timeout, self.seed, self.on_error, bool(self.async_twins), bool(self.barrier),
                       self.http)


def as_workload(workload: Any, params: Any = None, faults: Any = None) -> Workload:
    """What the public API accepts as a workload (a spec, ``{tool: count}`` or a :class:`Workload`), checked;
    anything else raises BadInput naming it."""
    if isinstance(workload, str):
        return Workload.parse(workload, params, faults)
    if isinstance(workload, Mapping):
        return Workload.of(workload, params, faults)
    if isinstance(workload, Workload):
        if not params and not faults:
            return workload
        if workload.pipeline is not None:       # agent_core.pipelines.rebuilt, which api.py calls first
            raise BadInput("a pipeline's own parameters and faults are given to agent_core.pipeline(...)")
        merged: Any = params
        if isinstance(params, Mapping):     # given parameters override the workload's own, one by one
            merged = {tool: dict(values) for tool, values in workload.params.items()}
            for tool, values in params.items():
                merged[tool] = {**merged.get(tool, {}), **values} if isinstance(values, Mapping) else values
        return Workload.of(workload.counts, merged, faults or workload.faults)
    raise BadInput(f"the workload {shown(workload, quote=True)} is not a spec such as 'web_search:4,analysis:2', "
                   "a {tool: count} dict or a Workload")


def check_variant(variant: Any) -> tuple[str, dict]:
    """A ``run_many`` variant, ``{"mode": ..., **run options}``, as (mode, options); BadInput names what is wrong.
    The mode's name and the options' values are checked by ``get_mode`` and :meth:`Options.checked`."""
    if not isinstance(variant, Mapping) or not isinstance(variant.get("mode"), str):
        raise BadInput(f"the variant {shown(variant, quote=True)} is not {{'mode': MODE, **options}}: for example "
                       "{'mode': 'asyncio', 'async_twins': True}")
    options = [f.name for f in dataclasses.fields(Options)]
    unknown = [k for k in variant if k != "mode" and k not in options]
    if unknown:
        raise BadInput(f"the variant for {shown(variant['mode'])} has unknown option {shown(unknown[0], quote=True)}: "
                       f"allowed are mode, {', '.join(options)}")
    return variant["mode"], {k: v for k, v in variant.items() if k != "mode"}
