"""Facts about the machine the engine measures on."""
from __future__ import annotations

import os

MAX_DEFAULT_PROCESSES = 4   # a pool's default size: every usable core, but no more than this


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_processes() -> int:
    """The default process-pool size: one worker per usable core, capped (public containers are small)."""
    return min(usable_cores(), MAX_DEFAULT_PROCESSES)
