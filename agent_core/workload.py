"""Workloads (which tools, how many, with which parameters) and run options, checked against bounds.

Every bound a public demo relies on is enforced here, in the engine, whatever a widget or flag allows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .catalog import CATALOG, get_tool, resolve_params
from .errors import BadInput

MAX_PER_TOOL = 200
MAX_CALLS = 500
TIMEOUT_RANGE = (0.1, 60.0)
MAX_SEED = 2**31 - 1
_SPEC_ITEM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*(\S*)\s*)?$")


@dataclass(frozen=True)
class Call:
    id: str            # "web_search#3"
    tool: str
    kind: str
    params: dict
    index: int         # position in the workload


@dataclass(frozen=True)
class Workload:
    counts: dict[str, int]                                  # tool -> calls, in spec order
    params: dict[str, dict] = field(default_factory=dict)   # tool -> resolved parameters

    @classmethod
    def of(cls, counts: dict[str, int], params: dict[str, dict] | None = None) -> Workload:
        """Check counts and parameters; unknown tools, bad counts and out-of-range values raise BadInput."""
        params = params or {}
        for tool in params:
            get_tool(tool)
        checked: dict[str, int] = {}
        for tool, count in counts.items():
            get_tool(tool)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PER_TOOL:
                raise BadInput(f"{tool}:{count} is not allowed: a tool's count must be 1..{MAX_PER_TOOL}")
            checked[tool] = count
        if not checked:
            raise BadInput("the workload is empty: give tool:count pairs such as web_search:4,analysis:2")
        if (total := sum(checked.values())) > MAX_CALLS:
            raise BadInput(f"the workload has {total} calls: allowed at most {MAX_CALLS} in one run")
        return cls(checked, {tool: resolve_params(tool, params.get(tool)) for tool in checked})

    @classmethod
    def parse(cls, spec: str, params: dict[str, dict] | None = None) -> Workload:
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
                raise BadInput(f"{tool}:{raw} is not allowed: a tool's count must be a whole number 1..{MAX_PER_TOOL}")
        return cls.of(counts, params)

    @property
    def spec(self) -> str:
        return ",".join(f"{tool}:{n}" for tool, n in self.counts.items())

    @property
    def n_calls(self) -> int:
        return sum(self.counts.values())

    def kinds(self) -> set[str]:
        return {CATALOG[tool].kind for tool in self.counts}

    def count_kind(self, kind: str) -> int:
        return sum(n for tool, n in self.counts.items() if CATALOG[tool].kind == kind)

    def calls(self) -> list[Call]:
        out: list[Call] = []
        for tool, n in self.counts.items():
            kind, base = CATALOG[tool].kind, len(out)
            out.extend([Call(f"{tool}#{k}", tool, kind, self.params[tool], base + k - 1) for k in range(1, n + 1)])
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
        return Options(workers, timeout, self.seed)
