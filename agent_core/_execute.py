"""Running one call's tool in this thread or on this loop, and mapping what it raised to a status.

This is the only place foreign errors (httpx, sqlite3, OS) become statuses. It never touches the
run's clock: :mod:`agent_core.engine` stamps start and end around these functions. Child processes
import it, so it stays free of heavy imports (no asyncio, dataclasses, typing, json).
"""
from __future__ import annotations

import time

from .errors import ToolTimeout
from .faults import inject

STATUSES = ("ok", "error", "timeout", "crashed", "cancelled")


class Outcome:
    """What running a call produced, before the runner stamps it into a record."""

    __slots__ = ("status", "detail", "error", "cpu_s", "worker", "elapsed_s", "started_at")

    def __init__(self, status: str, detail: dict | None = None, error: str | None = None, cpu_s: float = 0.0,
                 worker: str | None = None, elapsed_s: float | None = None, started_at: float | None = None) -> None:
        self.status = status            # one of STATUSES
        self.detail = detail or {}
        self.error = error
        self.cpu_s = cpu_s
        self.worker = worker            # where it ran, when not the stamping thread (e.g. "pid 4242")
        self.elapsed_s = elapsed_s      # measured where it ran (pool worker, child), for remote stamping
        self.started_at = started_at    # time.perf_counter() where it ran, when it started (pool workers)

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"Outcome({self.status!r}, error={self.error!r}, cpu_s={self.cpu_s:.4f}, worker={self.worker!r})"


def classify(exc: BaseException) -> tuple[str, str]:
    """(status, one-line error) for an exception a tool raised."""
    names = {c.__name__ for c in type(exc).__mro__}
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, (ToolTimeout, TimeoutError)) or "TimeoutException" in names:   # httpx's timeouts
        return "timeout", message
    if "CancelledError" in names:
        return "cancelled", "cancelled"
    return "error", message


def run_tool(impl, params: dict, ctx) -> Outcome:
    """Run a tool's blocking implementation in this thread; CPU is this thread's CPU time."""
    t = time.thread_time()
    try:
        inject(ctx.fault, ctx.fault_s, network=impl.__module__.endswith("http_tools"))
        detail = impl(params, ctx)
    except Exception as exc:
        status, message = classify(exc)
        return Outcome(status, error=message, cpu_s=time.thread_time() - t)
    return Outcome("ok", detail, cpu_s=time.thread_time() - t)


class _Metered:
    """Await a coroutine while adding up the CPU time of its own steps on the loop.

    A task's thread CPU time across an ``await`` would include every other task's work, so each
    ``send``/``throw`` into the coroutine is measured on its own.
    """

    def __init__(self, coro) -> None:
        self.coro = coro.__await__()
        self.cpu_s = 0.0

    def __await__(self):
        value, error = None, None
        while True:
            t = time.thread_time()
            try:
                yielded = self.coro.throw(error) if error is not None else self.coro.send(value)
            except StopIteration as done:
                self.cpu_s += time.thread_time() - t
                return done.value
            except BaseException:
                self.cpu_s += time.thread_time() - t
                raise
            self.cpu_s += time.thread_time() - t
            value, error = None, None
            try:
                value = yield yielded
            except BaseException as exc:  # noqa: BLE001 - forwarded into the coroutine, as a Task would
                error = exc


async def run_tool_async(impl, params: dict, ctx) -> Outcome:
    """Await a tool's async implementation; CPU counts only this call's own steps on the loop.

    On cancel, ``CancelledError`` (a BaseException) propagates to the caller, which records it.
    """
    t = time.thread_time()
    try:
        # on the loop's thread: a spin freezes the loop; a network hang is the server's stall
        inject(ctx.fault, ctx.fault_s, network=impl.__module__.endswith("http_tools"))
        meter = _Metered(impl(params, ctx))
    except Exception as exc:
        status, message = classify(exc)
        return Outcome(status, error=message, cpu_s=time.thread_time() - t)
    meter.cpu_s = time.thread_time() - t        # what ran before the first step; each step adds its own
    try:
        detail = await meter
    except Exception as exc:
        status, message = classify(exc)
        return Outcome(status, error=message, cpu_s=meter.cpu_s)
    return Outcome("ok", detail, cpu_s=meter.cpu_s)
