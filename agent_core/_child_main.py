"""Entry point of a call's child process (see :mod:`agent_core.childproc`). Imports only what the tool needs.

Protocol: one ``marshal``-ed request on stdin, one ``marshal``-ed reply on stdout (``marshal`` is built
in: ``json`` alone would add ~6 ms to every child's start). Before the tool runs, the child sets its own
limits: no core dumps, CPU seconds, address space, and an alarm so that even an orphaned child cannot
outlive its wall-clock bound.
"""
from __future__ import annotations

import importlib
import marshal
import resource
import sys

try:
    from _signal import alarm  # the C module: ``signal`` itself costs ~4 ms to import (enum)
except ImportError:  # pragma: no cover
    from signal import alarm


def _cap(which: int, soft: int, hard: int) -> None:
    """Lower a limit (an unprivileged process may lower, never raise, its hard limit)."""
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _reply(status: str, detail: dict, error: str | None) -> None:
    try:
        data = marshal.dumps({"status": status, "detail": detail, "error": error})
    except ValueError:           # a detail marshal cannot carry: send its text instead
        data = marshal.dumps({"status": status, "detail": {k: repr(v) for k, v in detail.items()}, "error": error})
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def main() -> None:
    request = marshal.loads(sys.stdin.buffer.read())
    from agent_core._supervise import die_with
    die_with(request["owner"], group=True)       # we lead our own group: it all goes if our parent dies
    limits = request["limits"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _cap(resource.RLIMIT_CPU, limits["cpu_s"], limits["cpu_s"] + 1)     # SIGXCPU, then SIGKILL
    alarm(limits["wall_s"])

    from agent_core._execute import run_tool
    from agent_core.tools import ToolContext

    # Our own modules load before the memory cap: under a small one (64 MiB) a C extension's import could fail
    # to map its segments ("ImportError: … failed to map segment"), which is the limit too, but not the
    # MemoryError the tool's own work meets. What the call then does runs under the cap.
    impl = getattr(importlib.import_module(request["module"]), request["function"])
    for module in request.get("preload", ()):
        importlib.import_module(module)
    _cap(resource.RLIMIT_AS, limits["mem_mb"] << 20, limits["mem_mb"] << 20)
    outcome = run_tool(impl, request["params"], ToolContext(**request["ctx"]))
    _reply(outcome.status, outcome.detail, outcome.error)
