"""Workloads (which tools, how many, with which parameters) and run options, checked against bounds.

Every bound a public demo relies on is enforced here, in the engine, whatever a widget or flag allows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .catalog import CATALOG, get_tool, resolve_params
from .errors import BadInput
from .faults import FAULT_KINDS, MAX_FAULT_S

MAX_CALLS = 1000         # per workload; each tool has its own cap too (catalog: max_calls)
TIMEOUT_RANGE = (0.1, 60.0)
MAX_RUN_S = 300.0          # a whole run never lasts longer: calls still pending then are cancelled
ON_ERROR = ("keep-going", "cancel-siblings")
MAX_SEED = 2**31 - 1
_SPEC_ITEM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*(\S*)\s*)?$")


@dataclass(frozen=True)
class Call:
    id: str            # "web_search#3"
    tool: str
    kind: str
    params: dict
    index: int         # position in the workload
    fault: str | None = None     # an injected fault (agent_core.faults) carried by this call
    fault_s: float = 0.0


@dataclass(frozen=True)
class Workload:
    counts: dict[str, int]                                  # tool -> calls, in spec order
    params: dict[str, dict] = field(default_factory=dict)   # tool -> resolved parameters
    faults: dict[str, tuple[str, float]] = field(default_factory=dict)  # tool -> (kind, seconds): its first call

    @classmethod
    def of(cls, counts: dict[str, int], params: dict[str, dict] | None = None,
           faults: dict[str, tuple[str, float]] | None = None) -> Workload:
        """Check counts, parameters and faults; anything out of bounds raises BadInput."""
        params = params or {}
        for tool in params:
            get_tool(tool)
        checked: dict[str, int] = {}
        for tool, count in counts.items():
            cap = get_tool(tool).max_calls
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= cap:
                raise BadInput(f"{tool}:{count} is not allowed: {tool}'s count must be 1..{cap}")
            checked[tool] = count
        if not checked:
            raise BadInput("the workload is empty: give tool:count pairs such as web_search:4,analysis:2")
        if (total := sum(checked.values())) > MAX_CALLS:
            raise BadInput(f"the workload has {total} calls: allowed at most {MAX_CALLS} in one run")
        for tool, (kind, seconds) in (faults or {}).items():
            if tool not in checked:
                raise BadInput(f"the fault {tool}:{kind} names a tool with no calls in this workload "
                               f"({', '.join(checked)})")
            check_fault(tool, kind, seconds)
        return cls(checked, {tool: resolve_params(tool, params.get(tool)) for tool in checked},
                   {tool: (kind, float(seconds)) for tool, (kind, seconds) in (faults or {}).items()})

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
                raise BadInput(f"{item.strip()!r} is not tool:count (for example web_search:4); "
                               f"tools are {', '.join(CATALOG)}")
            tool, raw = match.group(1), match.group(2)
            get_tool(tool)
            if tool in counts:
                raise BadInput(f"{tool} appears twice in the spec {spec!r}: give each tool once")
            if raw is None or raw == "":
                counts[tool] = 1
            elif raw.isdigit():
                counts[tool] = int(raw)
            else:
                raise BadInput(f"{tool}:{raw} is not allowed: {tool}'s count must be a whole number "
                               f"1..{get_tool(tool).max_calls}")
        return cls.of(counts, params, faults)

    @property
    def spec(self) -> str:
        return ",".join(f"{tool}:{n}" for tool, n in self.counts.items())

    @property
    def n_calls(self) -> int:
        return sum(self.counts.values())

    @property
    def network(self) -> bool:
        """Some call talks to the backend (or a real LLM server)."""
        return any(CATALOG[tool].module.endswith("http_tools") for tool in self.counts)

    def kinds(self) -> set[str]:
        return {CATALOG[tool].kind for tool in self.counts}

    def count_kind(self, kind: str) -> int:
        return sum(n for tool, n in self.counts.items() if CATALOG[tool].kind == kind)

    def calls(self) -> list[Call]:
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
    if kind not in FAULT_KINDS:
        raise BadInput(f"fault {tool}:{kind} is not allowed: the kind must be one of {', '.join(FAULT_KINDS)}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0.1 <= seconds <= MAX_FAULT_S:
        raise BadInput(f"fault {tool}:{kind}:{seconds} is out of range: seconds must be 0.1..{MAX_FAULT_S:g}")


def parse_faults(items: list[str] | None) -> dict[str, tuple[str, float]]:
    """``["legacy_sdk:hang", "analysis:spin:5"]`` -> ``{"legacy_sdk": ("hang", 60.0), "analysis": ("spin", 5.0)}``."""
    from .faults import DEFAULT_FAULT_S
    out: dict[str, tuple[str, float]] = {}
    for item in items or ():
        parts = [p.strip() for p in item.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise BadInput(f"--fault {item!r} is not TOOL:KIND[:SECONDS] (for example legacy_sdk:hang:5); "
                           f"kinds are {', '.join(FAULT_KINDS)}")
        tool, kind = parts[0], parts[1]
        try:
            seconds = float(parts[2]) if len(parts) == 3 else DEFAULT_FAULT_S
        except ValueError:
            raise BadInput(f"--fault {item!r}: {parts[2]!r} is not a number of seconds "
                           f"(0.1..{MAX_FAULT_S:g})") from None
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
            raise BadInput(f"--param {item!r} is not TOOL.NAME=VALUE (for example llm_call.tokens=64)")
        get_tool(tool).param(param)
        out.setdefault(tool, {})[param] = value.strip()
    return out


@dataclass(frozen=True)
class Options:
    workers: int | None = None     # pool size / concurrency cap; None: the mode's default
    timeout_s: float = 30.0        # per call
    seed: int = 0
    on_error: str = "keep-going"   # or "cancel-siblings": the first failed call cancels the others
    async_twins: bool = False      # asyncio mode: await a blocking tool's async twin (aiosqlite) where it has one

    def checked(self, mode: str, max_workers: int) -> Options:
        lo, hi = TIMEOUT_RANGE
        try:
            timeout = float(self.timeout_s)
        except (TypeError, ValueError):
            raise BadInput(f"timeout_s={self.timeout_s!r} is not a number: allowed {lo:g}..{hi:g} s") from None
        if not lo <= timeout <= hi:
            raise BadInput(f"timeout_s={self.timeout_s} is out of range: allowed {lo:g}..{hi:g} s")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise BadInput(f"seed={self.seed!r} is out of range: allowed 0..{MAX_SEED}")
        workers = self.workers
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or not 1 <= workers <= max_workers):
            raise BadInput(f"workers={workers!r} is out of range for {mode}: allowed 1..{max_workers}")
        if self.on_error not in ON_ERROR:
            raise BadInput(f"on_error={self.on_error!r} is not allowed: one of {', '.join(ON_ERROR)}")
        return Options(workers, timeout, self.seed, self.on_error, bool(self.async_twins))
