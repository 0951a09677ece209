"""The engine's entry points: run, arun, compare, run_many, warm_up — and the decision to host a run in a
sacrificial child (:mod:`agent_core.host`), which sits above both the engine and the host.

A crash or memory fault in a call that would run in *this* process would take the caller down, so such
a run is hosted in a child: the loss is real and measured while the caller lives on.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from .catalog import KINDS
from .engine.drive import execute, in_thread, on_loop
from .engine.ledger import abandoned_calls
from .engine.run import Clock, Run
from .host.parent import run_hosted
from .machine import default_processes
from .modes import BASELINE, MODES, get_mode, in_process_kinds
from .pipelines import rebuilt
from .records import RunReport, TaskRecord
from .workload import DEFAULT_HTTP, Options, Workload, check_variant
from .workload import as_workload as _flat_workload

__all__ = ["run", "arun", "compare", "run_many", "warm_up", "abandoned_calls"]
OnRecord = Callable[[TaskRecord], None]


def warm_up(processes: int | None = None, *, cluster: bool = False) -> None:
    """Do once, ahead of time, what a process's first run would otherwise pay for: start the backend,
    warm the HTTP stack and the process pool. Safe to call from any thread, any number of times.

    ``cluster``: then also begin starting the ``distributed`` mode's embedded Dask cluster, in the
    background (:func:`~agent_core._dask_cluster.warm_up_cluster`), and return without waiting for it.
    Off by default: the cluster holds about 250 MiB (a host, a scheduler, two workers and this process's
    client; measured) and its start-up keeps two cores busy for a few seconds, which would land on any run
    measured meanwhile. Without it, the first distributed run's set-up starts it (set-up, never in a wall)."""
    import threading

    from ._pool import warm_pool
    from .backend import ensure_backend
    from .tools import http_tools
    # the pool (a fork server and its workers) and the backend are separate processes: start them together
    failed: list[BaseException] = []

    def pool() -> None:
        try:
            warm_pool(processes or default_processes())
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            failed.append(exc)

    starting = threading.Thread(target=pool, name="pool-warm-up", daemon=True)
    starting.start()
    try:
        from .workload import HTTP_CLIENTS
        for transport in HTTP_CLIENTS:      # every async transport a run may choose
            http_tools.warm_up(ensure_backend().url, transport)
    finally:
        starting.join()
    if failed:
        raise failed[0]
    if cluster:
        from ._dask_cluster import warm_up_cluster
        warm_up_cluster()               # last: it competes with nothing above, and returns at once


def as_workload(workload, params=None, faults=None) -> Workload:
    """A spec, ``{tool: count}`` or a :class:`Workload` (a pipeline's too: given ``params`` and ``faults`` apply
    to its calls), checked."""
    if isinstance(workload, Workload) and workload.pipeline is not None and (params or faults):
        return rebuilt(workload, params, faults)
    return _flat_workload(workload, params, faults)


def _options(mode: str, **options) -> Options:
    return Options(**options).checked(mode, get_mode(mode).MAX_WORKERS)


def _needs_host(workload: Workload, mode: str) -> bool:
    """A crash or memory fault in a call that would run in this process would take the caller down."""
    kinds = in_process_kinds(mode)
    return any(c.fault in ("crash", "memory") and c.kind in kinds for c in workload.calls())


def _user_tools(workload: Workload, mode: str, hosted: bool) -> list[str]:
    """BadInput if a user's tool that only this process can find would run in another one; else the origins
    of the workload's user tools (what a sacrificial host must load)."""
    from . import usertools
    if not any(usertools.is_user_tool(t) for t in workload.counts):
        return []
    out_of_process = set(KINDS) - in_process_kinds(mode)
    usertools.check_portable(workload.counts, mode, out_of_process, hosted)
    return usertools.origins_of(workload.counts)


def run(workload: Workload | str | dict, mode: str = "hybrid", *, workers: int | None = None,
        timeout_s: float = 30.0, seed: int = 0, params: dict | None = None, faults: dict | None = None,
        on_error: str = "keep-going", async_twins: bool = False, barrier: bool = False,
        http: str = DEFAULT_HTTP,
        on_record: OnRecord | None = None, clock: Clock = time.perf_counter, contained: bool = False) -> RunReport:
    """Run ``workload`` in ``mode`` and return its report. Blocking; call it from any thread without a loop.

    ``workload`` is a :class:`Workload`, a spec (``"llm_call:4,analysis:2"``) or ``{tool: count}``;
    ``params`` is ``{tool: {param: value}}``; ``faults`` is ``{tool: (kind, seconds)}`` (the tool's first
    call carries it). Bad input raises :class:`BadInput` before anything runs. A call that fails, times
    out or crashes does not raise: its record says so. ``contained`` means "already in a sacrificial
    host": never host again. A pipeline (:func:`agent_core.pipeline`) runs each call once the calls it needs are
    done; with ``barrier``, once the whole previous stage is (a graph run in supersteps).
    ``http`` is the transport of the async HTTP clients io calls awaited on an event loop use (a key of
    :data:`~agent_core.workload.HTTP_CLIENTS`).
    """
    get_mode(mode)
    workload = as_workload(workload, params, faults)
    options = _options(mode, workers=workers, timeout_s=timeout_s, seed=seed, on_error=on_error,
                       async_twins=async_twins, barrier=barrier, http=http)
    hosted = not contained and _needs_host(workload, mode)
    tools = _user_tools(workload, mode, hosted)
    if hosted:
        return run_hosted(workload, mode, options, on_record, tools)
    return execute(Run(workload, mode, options, clock, on_record))


async def arun(workload: Workload | str | dict, mode: str = "hybrid", *, workers: int | None = None,
               timeout_s: float = 30.0, seed: int = 0, params: dict | None = None, faults: dict | None = None,
               on_error: str = "keep-going", async_twins: bool = False, barrier: bool = False,
               http: str = DEFAULT_HTTP,
               on_record: OnRecord | None = None, clock: Clock = time.perf_counter) -> RunReport:
    """The async twin of :func:`run`. Loop modes run on the caller's loop (its lag is what gets measured);
    the others, and runs hosted in a sacrificial child, run in a worker thread so the caller's loop stays free."""
    get_mode(mode)
    workload = as_workload(workload, params, faults)
    options = _options(mode, workers=workers, timeout_s=timeout_s, seed=seed, on_error=on_error,
                       async_twins=async_twins, barrier=barrier, http=http)
    hosted = _needs_host(workload, mode)
    tools = _user_tools(workload, mode, hosted)
    if hosted:
        return await asyncio.to_thread(run_hosted, workload, mode, options, on_record, tools)
    r = Run(workload, mode, options, clock, on_record)
    if r.strategy.LOOP:
        return await on_loop(r)
    return await asyncio.to_thread(in_thread, r)


def run_many(workload: Workload | str | dict, variants: Iterable[dict], *, workers: int | None = None,
             timeout_s: float = 30.0, seed: int = 0, params: dict | None = None, faults: dict | None = None,
             on_error: str = "keep-going", async_twins: bool = False, barrier: bool = False,
             http: str = DEFAULT_HTTP,
             on_run: Callable[[RunReport], None] | None = None, on_record: OnRecord | None = None,
             clock: Clock = time.perf_counter) -> list[RunReport]:
    """Run the same workload once per variant, one at a time (never two at once: they would distort each
    other). A variant is ``{"mode": ..., **run options}`` (e.g. ``{"mode": "asyncio", "async_twins": True}``);
    its options override the common ones. ``workers`` is lowered to each mode's bound where it is higher.
    Every variant is checked before anything runs."""
    workload = as_workload(workload, params, faults)
    plans = []
    for variant in variants:
        mode, own = check_variant(variant)
        options = {"workers": workers, "timeout_s": timeout_s, "seed": seed, "on_error": on_error,
                   "async_twins": async_twins, "barrier": barrier, "http": http, **own}
        strategy = get_mode(mode)
        if isinstance(options["workers"], int) and not isinstance(options["workers"], bool):
            options["workers"] = min(options["workers"], strategy.MAX_WORKERS)
        _options(mode, **options)
        _user_tools(workload, mode, _needs_host(workload, mode))
        plans.append((mode, options))
    reports = []
    for mode, options in plans:
        report = run(workload, mode, on_record=on_record, clock=clock, **options)
        reports.append(report)
        if on_run is not None:
            on_run(report)
    return reports


def compare(workload: Workload | str | dict, modes: Iterable[str] = MODES, *, baseline: bool = True,
            on_run: Callable[[RunReport], None] | None = None, **options) -> list[RunReport]:
    """Run the same workload in each mode, one at a time, in the order given (with ``baseline``, sequential
    first, and every report's ``true_speedup`` against it). Takes :func:`run_many`'s options."""
    order = list(dict.fromkeys(modes))
    if baseline:
        order = [BASELINE] + [m for m in order if m != BASELINE]
    reports: list[RunReport] = []

    def measured(report: RunReport) -> None:
        if baseline:
            base = reports[0] if reports else report
            report.baseline_wall_s, report.baseline_cpu_s = base.wall_s, base.sum_cpu_s
        reports.append(report)
        if on_run is not None:
            on_run(report)

    run_many(workload, [{"mode": m} for m in order], on_run=measured, **options)
    return reports
