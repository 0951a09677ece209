"""Facts about the machine the engine measures on."""
from __future__ import annotations

import os
import platform
import sys
import sysconfig
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Gil:
    """Whether this interpreter runs with the GIL, and how that was found out (never assumed)."""

    enabled: bool
    free_threaded_build: bool   # built with Py_GIL_DISABLED: the GIL can be off (3.13t, 3.14t)
    how: str                    # where ``enabled`` comes from

    @property
    def line(self) -> str:
        """One line for the app's machine line: ``GIL: enabled (...)`` or ``GIL: disabled (...)``."""
        return f"GIL: {'enabled' if self.enabled else 'disabled'} ({self.how})"


def gil() -> Gil:
    """The GIL of this process: ``sys._is_gil_enabled()`` where it exists (3.13+: on a free-threaded build the
    GIL can still be on, turned back on by ``PYTHON_GIL=1`` or by an extension module that needs it); on an
    older Python there is no free-threaded build, so the GIL is on. Whether the build is free-threaded comes
    from its configuration (``Py_GIL_DISABLED``)."""
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    check = getattr(sys, "_is_gil_enabled", None)
    version = platform.python_version()
    if check is None:
        short = ".".join(version.split(".")[:2])          # sys._is_gil_enabled() and free-threading: 3.13+
        return Gil(True, free, f"Python {short} has no free-threaded build")
    enabled = bool(check())
    if not free:
        how = f"sys._is_gil_enabled() is True: Python {version} is a standard build, not a free-threaded one"
    elif enabled:
        how = (f"sys._is_gil_enabled() is True on a free-threaded build of Python {version}: turned back on by "
               "PYTHON_GIL=1 or by an extension module that needs it")
    else:
        how = f"sys._is_gil_enabled() is False: a free-threaded build of Python {version}"
    return Gil(enabled, free, how)


def describe() -> str:
    """The machine line the app shows: usable cores, the Python, and its GIL."""
    cores = usable_cores()
    return (f"{cores} usable core{'s' * (cores != 1)} · {platform.python_implementation()} "
            f"{platform.python_version()} · {gil().line}")
