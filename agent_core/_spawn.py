"""How the engine starts a lean Python child that can still import ``agent_core`` and its dependencies.

``python -I -S`` skips the site machinery and the environment (~6.7 ms to start here instead of ~8.9 ms)
and never puts the working directory on the path; we hand the child our ``sys.path`` instead, so it
imports exactly what this interpreter would, and only what its entry point needs.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

_BOOT = ("import sys;sys.path[:0]=sys.argv[1].split(sys.argv[2]);"
         "import importlib;m,f=sys.argv[3].split(':');getattr(importlib.import_module(m),f)()")
_SECRET_MARKERS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
# Held while os.environ is briefly scrubbed (see environ_without_secrets) and by whoever reads a secret from it.
_ENV_LOCK = threading.RLock()


def python_argv(entry: str) -> list[str]:
    """argv that runs ``entry`` ("package.module:function") in a lean child interpreter."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [root] + [p for p in sys.path if p and os.path.isdir(p) and p != root]
    return [sys.executable, "-I", "-S", "-c", _BOOT, "\n".join(paths), "\n", entry]


def is_secret(name: str) -> bool:
    """A variable whose name looks like a credential's (API keys, tokens, passwords)."""
    return any(m in name.upper() for m in _SECRET_MARKERS)


def child_env() -> dict[str, str]:
    """The environment a child gets: ours, minus anything that looks like a credential, with its temp files
    under this process's temp root (:mod:`agent_core._tmp`)."""
    from . import _tmp
    with _ENV_LOCK:
        env = {k: v for k, v in os.environ.items() if not is_secret(k)}
    return {**env, **_tmp.child_env()}


def read_env(name: str) -> str:
    """One variable of ours (a secret too), read consistently with :func:`environ_without_secrets`."""
    with _ENV_LOCK:
        return os.environ.get(name, "").strip()


@contextlib.contextmanager
def environ_without_secrets() -> Iterator[None]:
    """For code that starts processes with *our* environment and offers no ``env=`` (multiprocessing's fork
    server and resource tracker): credentials are out of ``os.environ`` while it runs, back afterwards."""
    with _ENV_LOCK:
        saved = {k: os.environ.pop(k) for k in list(os.environ) if is_secret(k)}
        try:
            yield
        finally:
            os.environ.update(saved)


# Children the engine started and has not reaped yet (call children, hosts): each leads its own process group
_LIVE: set[int] = set()
_LIVE_LOCK = threading.Lock()


def started(pid: int) -> None:
    """Note a child that leads its own group, so that :func:`kill_live_children` can end it."""
    with _LIVE_LOCK:
        _LIVE.add(pid)


def reaped(pid: int) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(pid)


def kill_live_children() -> None:
    """Kill the group of every child still running: the process is going, and nothing may outlive it."""
    with _LIVE_LOCK:
        pids = list(_LIVE)
    for pid in pids:
        kill_group(pid)


# Runs as the interpreter begins to exit, before it joins threads: a thread still waiting on a child (a
# Streamlit job, an abandoned call) would otherwise hold the exit until that child's own deadline.
threading._register_atexit(kill_live_children)


class NoAnnouncement(RuntimeError):
    """A child did not print its one-line JSON announcement: it hung, exited or printed something else."""


def announcement(proc, timeout_s: float, what: str) -> dict:
    """The one JSON line a service child prints on stdout once it is up (its port, its address). On a
    timeout, an early exit or a bad line, raise :class:`NoAnnouncement` saying which (the caller kills it)."""
    import json
    import selectors
    import time
    line = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise NoAnnouncement(f"{what} did not start within {timeout_s:g} s")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise NoAnnouncement(f"{what} exited during start-up (exit code {proc.poll()})")
            line += chunk
    proc.stdout.close()
    try:
        announced = json.loads(line)
        if isinstance(announced, dict):
            return announced
    except ValueError:
        pass
    raise NoAnnouncement(f"{what} announced {line[:80]!r}")


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group (a child started with ``start_new_session=True`` leads its own)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
