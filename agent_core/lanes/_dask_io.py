"""The Dask lane's io path: an ``io`` call is a coroutine on a worker's event loop, sent straight to that
worker's ``agent_io`` handler (one comm round trip, no scheduler) to the run's worker with the fewest io
calls in flight. Many overlap on each worker, and they take none of its thread slots (why they are not
Dask tasks: :mod:`agent_core.lanes._dask_worker`).

TIMEOUT: ``asyncio.timeout`` cancels the coroutine on the worker's loop (``timeout``, nothing left
running). A worker that does not answer ``BACKSTOP_S`` later has a frozen loop: ``timeout``, and the worker
is restarted. CANCEL: ``agent_io_cancel`` cancels the coroutine on its worker. A worker that dies under a
call makes it ``crashed``; an io call is never run again elsewhere.
"""
from __future__ import annotations

import asyncio
import time

from .._execute import Outcome
from ..workload import DEFAULT_HTTP
from ._dask_book import ClusterBook, DaskCall

BACKSTOP_S = 3.0            # past its timeout, a call whose worker says nothing: the worker is frozen
CONNECT_TIMEOUT_S = 1.0     # a worker that is gone refuses at once, but distributed retries until this
RETRY_S = 0.05              # before sending again a call no worker got


class _NotSent(Exception):
    """An io call never reached a worker (it could not be connected to, or it closed before the request)."""


class IoPath:
    """Sends io calls to the workers a run may use (``names``; None: every worker of the cluster)."""

    def __init__(self, book: ClusterBook, names: set[str] | None, http: str = DEFAULT_HTTP) -> None:
        self.book, self.names = book, names
        self.http = http                # the async HTTP transport the workers await the run's io calls over

    async def run(self, call: DaskCall) -> Outcome:
        """Send the call to a worker and wait for its answer (bounded by the call's timeout plus
        ``BACKSTOP_S``). A worker that could not be reached, or whose plugin is not installed yet (it has
        just restarted), never got the call: another is tried."""
        book = self.book
        unreachable: set[str] = set()
        while True:
            if call.cancelled:
                return Outcome("cancelled", error="cancelled before it was sent")
            addr = await self._pick(call, unreachable)
            if addr is None:
                return Outcome("error", error="no Dask worker of this run is connected")
            call.addr = addr
            book.io_inflight[addr] = book.io_inflight.get(addr, 0) + 1
            try:
                reply = await asyncio.wait_for(self._send(call, addr), call.ctx.timeout_s + BACKSTOP_S)
            except _NotSent:
                unreachable.add(addr)
                if time.perf_counter() > call.submitted + call.ctx.timeout_s:
                    return Outcome("timeout", {"unreachable": sorted(book.label(a) for a in unreachable)},
                                   f"no worker of this run could be reached within {call.ctx.timeout_s:g} s")
                await asyncio.sleep(RETRY_S)
                await book.try_refresh()
                continue
            except TimeoutError:
                restart = await book.restart(addr, f"{call.ctx.call_id} froze its event loop")
                return Outcome("timeout", {"frozen_loop": True, **restart},
                               f"no answer within {call.ctx.timeout_s + BACKSTOP_S:g} s: the event loop of "
                               f"{book.label(addr)} stopped answering, so the worker was restarted", worker=addr)
            except OSError as exc:          # CommClosedError: the worker died before it answered
                await book.try_refresh()
                return await book.lost(call, addr, exc)
            finally:
                book.io_inflight[addr] -= 1
            if reply is None:               # no agent_io handler: a worker still setting up after a restart
                await asyncio.sleep(RETRY_S)
                continue
            return Outcome(reply["status"], {**(reply["detail"] or {}), "pid": reply["pid"]}, reply["error"],
                           reply["cpu_s"], addr, reply["elapsed"], reply["t"])

    async def cancel(self, call: DaskCall) -> None:
        """Cancel the call's coroutine on its worker (if it was sent)."""
        if call.addr is not None:
            try:
                await self.book.client.rpc(call.addr).agent_io_cancel(token=call.token)
            except OSError:
                pass

    async def _pick(self, call: DaskCall, avoid: set[str]) -> str | None:
        """The run's connected worker with the fewest io calls in flight (one that could not be reached for
        this call only if there is no other); after a worker died or restarted, wait (up to the call's
        timeout) for one to be back."""
        book = self.book
        deadline = call.submitted + max(call.ctx.timeout_s, 1.0)
        while True:
            candidates = [a for n, a in book.addr_by_name.items() if self.names is None or n in self.names]
            candidates = [a for a in candidates if a not in avoid] or candidates
            if candidates:
                return min(candidates, key=lambda a: book.io_inflight.get(a, 0))
            if time.perf_counter() > deadline or call.cancelled:
                return None
            await asyncio.sleep(RETRY_S)
            await book.try_refresh()

    async def _send(self, call: DaskCall, addr: str) -> dict | None:
        """One request on a pooled connection: a failure before the request is written is :class:`_NotSent`."""
        pool = self.book.client.rpc
        try:
            comm = await pool.connect(addr, timeout=CONNECT_TIMEOUT_S)    # refused is retried until then
        except OSError as exc:
            raise _NotSent from exc
        try:
            try:
                await comm.write({"op": "agent_io", "reply": True, "token": call.token, "tool": call.tool,
                                  "params": call.params, "ctx": call.ctx.to_dict(), "http": self.http})
            except OSError as exc:
                raise _NotSent from exc
            reply = await comm.read()
        except BaseException:
            comm.abort()
            raise
        finally:
            pool.reuse(addr, comm)
        if isinstance(reply, dict) and reply.get("status") == "uncaught-error":
            raise RuntimeError(f"the worker's agent_io handler failed: {reply.get('text') or reply}")
        return reply
