"""The event-loop heartbeat: a task that asks to wake every few milliseconds and notes how late it woke.

Lateness is time the loop could not run anything: a blocking call or CPU work on the loop's thread,
or a wait for the GIL. ``asyncio.sleep`` overshoots ~0.35 ms here by itself, so sub-millisecond lag
is noise.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

INTERVAL_S = 0.005
MAX_SAMPLES = 40_000          # 200 s of beats: more than any bounded run lasts


class Heartbeat:
    def __init__(self, clock: Callable[[], float], interval_s: float = INTERVAL_S) -> None:
        self.clock = clock
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []   # (when it woke, seconds late), on the run's clock
        self._task: asyncio.Task | None = None

    async def _beat(self) -> None:
        while len(self.samples) < MAX_SAMPLES:
            due = self.clock() + self.interval_s
            await asyncio.sleep(self.interval_s)
            woke = self.clock()
            self.samples.append((woke, max(0.0, woke - due)))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._beat(), name="heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def since(self, t0: float) -> list[tuple[float, float]]:
        """Samples from ``t0`` on, as (seconds since t0, lag in ms)."""
        return [(round(t - t0, 6), round(lag * 1000, 3)) for t, lag in self.samples if t >= t0]
