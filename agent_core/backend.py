"""The embedded backend's life cycle: started lazily once per Python process, stopped at exit.

The server runs in its own process (:mod:`agent_core._server`) because a "remote" service inside the
measured interpreter would share its GIL: a CPU tool would slow the LLM it is waiting for, and every
figure would be distorted. It holds the read end of a pipe from us as its stdin and exits on EOF,
so it goes when we stop it, when we exit, and when we are killed.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import threading
from dataclasses import dataclass

from ._spawn import NoAnnouncement, announcement, child_env, kill_group, python_argv
from .errors import BackendError

START_TIMEOUT_S = 30.0
BACKEND_URL_ENV = "AGENT_CORE_BACKEND_URL"    # set for a sacrificial host: use its parent's backend


@dataclass
class Backend:
    proc: subprocess.Popen | None      # None: a backend another process started (see BACKEND_URL_ENV)
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def stop(self, timeout: float = 3.0) -> None:
        """Close its stdin (it exits at once on EOF); kill its process group if it lingers."""
        if self.proc is None:
            return
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.proc.pid)
            self.proc.wait()


_lock = threading.Lock()
_backend: Backend | None = None


def _start() -> Backend:
    proc = subprocess.Popen(python_argv("agent_core._server:main"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            start_new_session=True, env=child_env())
    try:
        announced = announcement(proc, START_TIMEOUT_S, "the embedded backend")
        return Backend(proc, int(announced["port"]))
    except (NoAnnouncement, KeyError, TypeError, ValueError) as exc:
        kill_group(proc.pid)
        proc.wait()
        raise BackendError(str(exc) if isinstance(exc, NoAnnouncement) else
                           "the embedded backend announced no port") from None


def ensure_backend() -> Backend:
    """The process's backend, started on first use (and again if it died). Thread-safe."""
    global _backend
    with _lock:
        if _backend is None or not _backend.alive():
            shared = os.environ.get(BACKEND_URL_ENV, "")
            _backend = Backend(None, int(shared.rsplit(":", 1)[1])) if shared else _start()
        return _backend


def stop_backend() -> None:
    global _backend
    with _lock:
        if _backend is not None:
            _backend.stop()
            _backend = None


atexit.register(stop_backend)
