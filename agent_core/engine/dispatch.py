"""Dispatch: sends each call to its lane and records what comes back, stamped on the run's one clock.

Three ways through a lane, one stamping rule for all: a call's start is when its lane began it here
(``job.begin``), or, for a call that ran in another process, where it ran (mapped onto our clock and
clamped between when it was sent and when its result came back); its end is when its result came back.
A call that came back after its timeout from a lane that could not interrupt it is a late ``timeout``.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import Future

from .._execute import Outcome
from ..lanes import Job, Lane
from ..records import TaskRecord
from ..workload import Call


class Dispatch:
    def __init__(self, run) -> None:
        self.run = run
        self.handles: dict[int, tuple[Lane, Future]] = {}      # submitted calls: their lane and its future

    def job(self, call: Call, lane: Lane) -> Job:
        run, ledger = self.run, self.run.ledger

        def begin(worker: str) -> float:
            start = run.now()
            ledger.begin(call, start, worker)
            return start

        def abandon(status: str) -> None:
            now, start = run.now(), ledger.started[call.index]
            if status == "timeout":
                error = (f"no answer within {run.options.timeout_s:g} s: abandoned; a thread cannot be killed, "
                         "so it is still running")
            else:
                error = f"{run.cancel.reason or 'cancelled'}; a thread cannot be stopped, so it is still running"
            ledger.abandon(call, now if start is None else start, now, Outcome(status, {"abandoned": True}, error))

        return Job(call, run.resources.ctx(call, lane.remote), run.options.timeout_s, begin, abandon,
                   lambda: ledger.came_back(call))

    def cancelled(self, call: Call) -> TaskRecord | None:
        ledger, t = self.run.ledger, self.run.now()
        start = ledger.started[call.index]
        return ledger.record(call, t if start is None else start, t,
                             Outcome("cancelled", error=self.run.cancel.reason or "cancelled"),
                             ledger.lanes[call.index] or "not started")

    # -- the three ways ---------------------------------------------------------------------------------------
    def inline(self, call: Call) -> TaskRecord | None:
        """In this thread, through the lane's ``run``."""
        if self.run.cancel.cancelled():
            return self.cancelled(call)
        lane = self.run.lane_for(call)
        outcome = lane.run(self.job(call, lane))
        return self._finish(call, lane, outcome, None, self.run.now())

    async def awaited(self, call: Call) -> TaskRecord | None:
        """On the run's loop, through the lane's ``call``; a cancelled task is recorded as such."""
        if self.run.cancel.cancelled():
            return self.cancelled(call)
        lane = self.run.lane_for(call)
        job = self.job(call, lane)
        sent = self.run.now()
        try:
            outcome = await lane.call(job)
        except asyncio.CancelledError:
            self.cancelled(call)
            raise
        return self._finish(call, lane, outcome, sent, self.run.now())

    def submit(self, call: Call) -> Future:
        """Through the lane's ``submit``; the future returned resolves to the call's record."""
        record: Future = Future()
        if self.run.cancel.cancelled():
            record.set_result(self.cancelled(call))
            return record
        lane = self.run.lane_for(call)
        job = self.job(call, lane)
        sent = self.run.now()
        out = lane.submit(job)
        self.handles[call.index] = (lane, out)

        def settle(done: Future) -> None:
            received = self.run.now()
            try:
                record.set_result(self.cancelled(call) if done.cancelled()
                                  else self._finish(call, lane, done.result(), sent, received))
            except BaseException as exc:  # noqa: BLE001 - a bug in a lane or here: the driver re-raises it
                record.set_exception(exc)

        out.add_done_callback(settle)
        return record

    def drop(self, call: Call) -> None:
        """Cancel a submitted call that has not started (one already running ends as its lane says)."""
        if call.index in self.handles and self.run.ledger.started[call.index] is None:
            lane, out = self.handles[call.index]
            lane.cancel(out)

    def give_up(self, call: Call) -> None:
        """The run's bound passed with this call still out: record it, and let its lane know."""
        run = self.run
        start = run.ledger.started[call.index]
        run.ledger.record(call, run.now() if start is None else start, run.now(),
                          Outcome("timeout", error=run.cancel.reason), run.lane_for(call).name)
        lane = run.lane_for(call)
        if hasattr(lane, "give_up"):
            lane.give_up()

    # -- stamping ---------------------------------------------------------------------------------------------
    def _finish(self, call: Call, lane: Lane, outcome: Outcome, sent: float | None, received: float):
        run = self.run
        if outcome.status == "cancelled":
            return self.cancelled(call)
        begun = run.ledger.started[call.index]
        start = begun if begun is not None else (received if sent is None else sent)
        end = received
        if begun is None and outcome.elapsed_s is not None and sent is not None:
            if outcome.started_at is not None and run.real_clock:
                start = max(sent, outcome.started_at - run.t0)
                end = min(received, start + outcome.elapsed_s)
            else:
                start = max(sent, received - outcome.elapsed_s)
        if lane.where is not None:
            outcome = _overran(outcome, end - start, run.options.timeout_s, lane.where)
        return run.ledger.record(call, start, end, outcome, run.ledger.lanes[call.index] or lane.name)


def _overran(outcome: Outcome, duration: float, timeout_s: float, where: str) -> Outcome:
    """A call that could not be interrupted and came back after its timeout: late, so a timeout."""
    if outcome.status == "ok" and duration > timeout_s:
        return Outcome("timeout", {**outcome.detail, "overran_s": round(duration, 3)},
                       f"came back after {duration:.2f} s, past its {timeout_s:g} s timeout: "
                       f"nothing could interrupt it {where}", outcome.cpu_s, outcome.worker)
    return outcome
