"""The modes: one module each, and :data:`MODES`, the one list of them.

A mode only decides *where* each kind of call runs: it names a lane per kind (``ROUTES``). It never reads
a clock: the engine stamps every call. A mode module is the one place its facts live; pages, charts,
scaling, explanations, the Guide, the CLI and the tests read them from here. Each module declares:

- ``SUMMARY``: one line for users; ``COLOUR``: its colour in every chart; ``SNIPPET``: the file in
  ``snippets/`` that shows its minimal code (executed by the tests);
- ``ROUTES``: tool kind -> lane name (:data:`agent_core.lanes.LANES`);
- ``LOOP``: the run is driven from an event loop in this process (its lag is measured);
- ``MAX_WORKERS``: the bound on ``workers`` for this mode;
- ``plan(workload, workers) -> Plan``: lane sizes and limits, decided before the clock starts;
- ``CAUSES``: sweep workload (``io``, ``cpu``) -> what the scaling analysis names where this mode bends
  (``{workers}`` in it is replaced by the run's workers).

And, optionally, its own sentences in explanations, computed from a run's numbers:

- ``notes(report) -> list[str]``: sentences about one run of this mode;
- ``reason(report) -> str | None``: why this mode lost time in a comparison (None: nothing of its own).

To add a mode: write its module and its snippet, and add its name to ``_MODULES`` (see docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from ..errors import BadInput

# name -> module; the order is the order pages, tables and comparisons show them (the baseline first)
_MODULES = {"sequential": "sequential", "asyncio": "asyncio_loop", "threads": "threads",
            "process-pool": "process_pool", "subprocess": "subprocess_children", "hybrid": "hybrid",
            "distributed": "distributed"}
MODES = tuple(_MODULES)
BASELINE = "sequential"
ALL_KINDS = ("io", "blocking", "cpu", "isolated")
SWEPT = ("io", "cpu")               # the workloads of the scaling sweep: every mode names its CAUSES for them
REQUIRED = ("SUMMARY", "COLOUR", "SNIPPET", "ROUTES", "LOOP", "MAX_WORKERS", "plan", "CAUSES")


@dataclass(frozen=True)
class Plan:
    workers: int | None                             # the figure reported as the run's "workers"
    sizes: dict[str, int] = field(default_factory=dict)   # lane name -> its size (threads, processes, children)
    limit: int | None = None                        # at most this many calls in flight (loop modes)
    stagger: bool = False                           # loop modes: yield to the loop after starting each call


def get_mode(name: str) -> ModuleType:
    if not isinstance(name, str) or name not in _MODULES:
        raise BadInput(f"unknown mode {str(name)[:40]!r}: allowed are {', '.join(_MODULES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")


def in_process_kinds(name: str) -> frozenset[str]:
    """The kinds whose calls this mode runs in the calling process: a crash there takes the caller down."""
    from ..lanes import lane_class
    routes = get_mode(name).ROUTES
    return frozenset(kind for kind, lane in routes.items() if lane_class(lane).in_process)


def has_loop(name: str) -> bool:
    """The mode drives its calls from an event loop in this process (the heartbeat measures its lag)."""
    return bool(get_mode(name).LOOP)


def uses_http(name: str) -> bool:
    """The run option ``http`` (the async HTTP transport) changes this mode's io calls: they go to a lane that
    awaits them through async clients it builds (``async_http``). Elsewhere io calls use a sync httpx client."""
    from ..lanes import lane_class
    return bool(getattr(lane_class(get_mode(name).ROUTES["io"]), "async_http", False))


def uses_workers(name: str, workload) -> bool:
    """``workers`` changes how this mode runs ``workload`` (a pool's size, a cap on calls in flight): its
    plan differs between one worker and its most. False for a mode bound to one worker, or whose plan
    ignores them for this workload (hybrid sizes only its threads, and only for blocking calls)."""
    mode = get_mode(name)
    return mode.MAX_WORKERS > 1 and mode.plan(workload, 1) != mode.plan(workload, mode.MAX_WORKERS)


def missing_facts(module: ModuleType) -> list[str]:
    """What a mode module lacks of :data:`REQUIRED`, or of its ROUTES (every kind, to a known lane that its
    drive can use) and CAUSES (every swept workload): empty when the module is a complete mode."""
    from ..lanes import LANES
    missing = [name for name in REQUIRED if not hasattr(module, name)]
    routes, causes = getattr(module, "ROUTES", {}), getattr(module, "CAUSES", {})
    for kind in ALL_KINDS:
        if routes.get(kind) not in LANES:
            missing.append(f"ROUTES[{kind!r}]")
        elif (needs := _drive_needs(routes[kind], bool(getattr(module, "LOOP", False)))) is not None:
            missing.append(f"ROUTES[{kind!r}]: the {routes[kind]} lane needs LOOP = {needs}")
    missing += [f"CAUSES[{kind!r}]" for kind in SWEPT if not causes.get(kind)]
    return missing


def _drive_needs(lane: str, loop: bool) -> bool | None:
    """A run without a loop calls a lane's ``run`` or ``submit``; a run on a loop awaits its ``call`` (which,
    unless the lane has its own, awaits ``submit``). The LOOP a lane needs, or None if it can take either."""
    from ..lanes import Lane, lane_class
    cls = lane_class(lane)
    submits = cls.submit is not Lane.submit
    if loop and not (submits or cls.call is not Lane.call):
        return False
    if not loop and not (submits or hasattr(cls, "run")):
        return True
    return None


def said_s(x: float) -> str:
    """Seconds as explanations say them: ``0.42 s``, or ``85 ms`` under a tenth of a second."""
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.0f} ms"


def notes(report) -> list[str]:
    """The mode's own sentences about ``report`` (none for a mode that has nothing of its own to say)."""
    fn = getattr(_module_of(report), "notes", None)
    return list(fn(report)) if fn is not None else []


def reason(report) -> str | None:
    """Why the mode lost time in ``report``, in its own words (None: nothing of its own)."""
    fn = getattr(_module_of(report), "reason", None)
    return fn(report) if fn is not None else None


def _module_of(report) -> ModuleType | None:
    try:
        return get_mode(report.mode)
    except BadInput:                    # a report of a mode this process does not know (loaded from a file)
        return None
