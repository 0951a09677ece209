"""The Dask lane's task path: a ``blocking``, ``cpu`` or ``isolated`` call is a Dask task
(:func:`agent_core.lanes._dask_worker.run_task`), handed to the scheduler from the caller's thread as any
client code would (``Client.submit`` is thread-safe); the client's loop only waits for its result.

- ``cpu`` tasks need one ``agent-cpu`` resource: each worker *process* has one, so two cpu calls never
  share a GIL (on a cluster whose workers do not declare it, Dask's placement decides:
  ``detail["gil_exclusive"]`` says which).
- TIMEOUT: the worker thread stops waiting at the call's timeout (``detail["stuck_thread"]``); a thread
  cannot be killed, so its worker is restarted through its nanny before the call resolves. A worker
  silent ``BACKSTOP_S`` past the timeout of a call's latest attempt is frozen: restarted too.
- CANCEL: a task that has not started is dropped from the cluster and never runs; one already running
  runs on, its result discarded.
- A worker that dies: its task is ``crashed`` (``KilledWorker``), or ran again elsewhere where the cluster
  allows retries, and then says so (``detail["attempts"]``, ``["retried_on"]``, ``["earlier_workers"]``).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import time

from .._execute import Outcome, classify
from ._dask_book import ClusterBook, DaskCall
from ._dask_io import BACKSTOP_S


class TaskPath:
    """Sends task calls to the workers a run may use (``names``; None: every worker of the cluster);
    ``cpu_resource``: every one of them declares the ``agent-cpu`` resource."""

    def __init__(self, book: ClusterBook, names: set[str] | None, cpu_resource: bool) -> None:
        self.book, self.names, self.cpu_resource = book, names, cpu_resource

    def send(self, call: DaskCall) -> None:
        """Submit the call's task (from the caller's thread)."""
        from .._dask_cluster import CPU_RESOURCE
        from ._dask_worker import run_task
        book = self.book
        call.started = asyncio.Event()
        book.by_key[call.key] = call
        options = {"key": call.key, "pure": False, "retries": 0}
        if call.kind == "cpu" and self.cpu_resource:
            options["resources"] = {CPU_RESOURCE: 1}
        if self.names is not None:
            options["workers"] = [a for n, a in list(book.addr_by_name.items()) if n in self.names]
            options["allow_other_workers"] = False
        call.dask_future = book.client.submit(run_task, call.tool, call.kind, call.params, call.ctx, **options)

    async def run(self, call: DaskCall) -> Outcome:
        """Wait for the task's outcome (on the client's loop) and say where and how often it ran."""
        book = self.book
        result = asyncio.ensure_future(call.dask_future.result())
        try:
            outcome = await self._watch(call, result)
        finally:
            if not result.done():
                result.cancel()
        if any(a not in book.name_by_addr for a in [outcome.worker, *(a for a, _ in call.attempts)] if a):
            await book.try_refresh()        # a worker that joined since (a restart): learn its name
        if call.kind == "cpu":
            outcome.detail = {**outcome.detail, "gil_exclusive": self.cpu_resource}
        if len(call.attempts) > 1:
            outcome.detail = {**outcome.detail, "attempts": len(call.attempts),
                              "earlier_workers": [book.label(a) for a, _ in call.attempts[:-1]]}
            if outcome.status != "crashed":
                outcome.detail["retried_on"] = book.label(outcome.worker or call.attempts[-1][0])
        elif call.attempts:
            outcome.detail = {**outcome.detail, "attempts": 1}
        if outcome.detail.get("stuck_thread") and outcome.worker:
            outcome.detail.update(await book.restart(outcome.worker, f"{call.ctx.call_id} hung in its thread"))
        return outcome

    async def cancel(self, call: DaskCall) -> None:
        """A task that has not started never will; one already started runs on, its result discarded."""
        if call.dask_future is not None and not call.attempts:
            await self._drop(call)

    async def _watch(self, call: DaskCall, result: asyncio.Future) -> Outcome:
        """Wait for a task's result; a worker silent ``BACKSTOP_S`` past the timeout of the call's latest
        attempt is frozen: restart it and report the call ``timeout``."""
        from distributed import KilledWorker
        book = self.book
        while True:
            limit = None
            if call.seen is not None:
                limit = max(0.0, call.seen + call.ctx.timeout_s + BACKSTOP_S - time.perf_counter())
            waiter = asyncio.ensure_future(call.started.wait())
            done, _ = await asyncio.wait({result, waiter}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if result in done:
                break
            if waiter in done:
                call.started.clear()
                call.seen = time.perf_counter()
                continue
            addr = call.addr
            restart = await book.restart(addr, f"{call.ctx.call_id} froze its worker")
            await self._drop(call)
            return Outcome("timeout", {"frozen_worker": True, **restart},
                           f"no word from {book.label(addr)} {BACKSTOP_S:g} s past the call's "
                           f"{call.ctx.timeout_s:g} s timeout: the worker was restarted", worker=addr)
        try:
            return result.result()
        except KilledWorker as exc:
            await book.try_refresh()            # no io call goes to the dead worker's address
            addr = getattr(exc.last_worker, "address", None) or call.addr
            outcome = await book.lost(call, addr, exc)
            outcome.detail["dask"] = f"KilledWorker after {exc.allowed_failures + 1} worker death(s)"
            return outcome
        except (asyncio.CancelledError, concurrent.futures.CancelledError):    # Dask's FutureCancelledError
            return Outcome("cancelled", error="cancelled")
        except Exception as exc:  # noqa: BLE001 - e.g. a result that could not be unpickled
            status, message = classify(exc)
            return Outcome(status, error=message, worker=call.addr)

    async def _drop(self, call: DaskCall) -> None:
        """Release a task's key on the cluster (on this loop, ``Client.cancel`` must be awaited)."""
        await self.book.client.cancel([call.dask_future], asynchronous=True)
