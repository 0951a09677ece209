"""The modes: one module each, and :data:`MODES`, the one list of them.

A mode only decides *where* each kind of call runs: it names a lane per kind (``ROUTES``). It never reads
a clock: the engine stamps every call. Each module declares:

- ``SUMMARY``: one line for users; ``COLOUR``: its colour in every chart; ``SNIPPET``: the file in
  ``snippets/`` that shows its minimal code (executed by the tests);
- ``ROUTES``: tool kind -> lane name (:data:`agent_core.lanes.LANES`);
- ``LOOP``: the run is driven from an event loop in this process (its lag is measured);
- ``MAX_WORKERS``: the bound on ``workers`` for this mode;
- ``plan(workload, workers) -> Plan``: lane sizes and limits, decided before the clock starts.

To add a mode: write its module and its snippet, and add its name to ``MODES`` (see docs/ARCHITECTURE.md).
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


@dataclass(frozen=True)
class Plan:
    workers: int | None                             # the figure reported as the run's "workers"
    sizes: dict[str, int] = field(default_factory=dict)   # lane name -> its size (threads, processes, children)
    limit: int | None = None                        # at most this many calls in flight (loop modes)
    stagger: bool = False                           # loop modes: yield to the loop after starting each call


def get_mode(name: str) -> ModuleType:
    if name not in _MODULES:
        raise BadInput(f"unknown mode {str(name)[:40]!r}: allowed are {', '.join(MODES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")


def in_process_kinds(name: str) -> frozenset[str]:
    """The kinds whose calls this mode runs in the calling process: a crash there takes the caller down."""
    from ..lanes import lane_class
    routes = get_mode(name).ROUTES
    return frozenset(kind for kind, lane in routes.items() if lane_class(lane).in_process)


def has_loop(name: str) -> bool:
    """The mode drives its calls from an event loop in this process (the heartbeat measures its lag)."""
    return bool(get_mode(name).LOOP)
