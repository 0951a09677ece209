"""The six modes (strategies): one module each, one entry point, ``schedule(run)``.

A mode only decides *where* each call goes, using the building blocks on :class:`agent_core.runner.Run`
(``call_here``, ``call_on_loop``, ``call_in_thread``, ``call_in_pool``, ``call_in_child``). It never reads
a clock: the runner stamps every call. Each module declares:

- ``SUMMARY``: one line for users;
- ``LOOP``: ``schedule`` is a coroutine run on an event loop in this process (its lag is measured);
- ``MAX_WORKERS``: the bound on ``workers`` for this mode;
- ``IN_PROCESS_KINDS``: the tool kinds whose calls run in the calling process (a crash there takes
  the caller down, so the runner hosts such runs in a sacrificial child);
- ``plan(workload, workers) -> Plan``: what the runner must prepare before the clock starts.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from ..errors import BadInput

MODES = ("sequential", "asyncio", "threads", "process-pool", "subprocess", "hybrid")
ALL_KINDS = frozenset({"io", "blocking", "cpu", "isolated"})
_MODULES = {"sequential": "sequential", "asyncio": "asyncio_loop", "threads": "threads",
            "process-pool": "process_pool", "subprocess": "subprocess_children", "hybrid": "hybrid"}


@dataclass(frozen=True)
class Plan:
    workers: int | None     # the figure reported as the run's "workers"
    threads: int = 0        # size of the run's thread pool (0: none)
    processes: int = 0      # size of the warm process pool (0: none)
    children: int = 8       # at most this many call children at once
    async_http: bool = False    # io calls are awaited on the loop: the runner builds AsyncClients for them


def get_mode(name: str) -> ModuleType:
    if name not in _MODULES:
        raise BadInput(f"unknown mode {name!r}: allowed are {', '.join(MODES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")
