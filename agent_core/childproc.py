"""One call in a child process of its own: hard timeout, process-group kill, limits set by the child.

The child (:mod:`agent_core._child_main`) is a lean interpreter (``-I -S``) that reads one request on
stdin, sets its own limits with :mod:`resource` (never ``preexec_fn``, which is unsafe in a threaded
parent), runs the tool and writes one reply on stdout (both ``marshal``: built in, so free to import).
It leads a new session, so on timeout the whole group (the child and anything it started) gets
SIGKILL. Its CPU time comes from ``wait4``, so it is known even for a child that was killed or crashed.

On timeout, and when the awaiting task is cancelled, the group is killed and the child reaped before
control returns: nothing outlives the call.
"""
from __future__ import annotations

import asyncio
import marshal
import math
import os
import selectors
import signal
import subprocess
import time

from ._execute import Outcome
from ._spawn import child_env, kill_group, python_argv, reaped, started
from .catalog import CATALOG
from .tools import ToolContext

MAX_OUTPUT = 1 << 20            # bytes kept of a child's stdout or stderr
DEFAULT_MEM_MB = 1024           # address-space limit for tools that are not ``isolated``
_REAP_POLL_S = 0.0005


class Child:
    """A started child running one call. Finish it with :meth:`wait` (blocking) or :meth:`await_`."""

    def __init__(self, tool: str, params: dict, ctx: ToolContext) -> None:
        spec = CATALOG[tool]
        isolated = spec.kind == "isolated"
        limits = {"cpu_s": math.ceil(ctx.timeout_s) + 1,       # backstops only: the parent's deadline
                  "wall_s": math.ceil(ctx.timeout_s) + 2,      # kills it first
                  "mem_mb": params.get("mem_mb", DEFAULT_MEM_MB) if isolated else DEFAULT_MEM_MB}
        request = marshal.dumps({"module": spec.module, "function": spec.sync, "params": params,
                                 "ctx": ctx.to_dict(), "limits": limits, "owner": os.getpid(),
                                 "preload": list(spec.preload(params)) if spec.preload else []})
        self.timeout_s = ctx.timeout_s
        self.timed_out = False
        self.started = time.monotonic()
        self.deadline = self.started + ctx.timeout_s
        self.proc = subprocess.Popen(python_argv("agent_core._child_main:main"), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                     env=child_env())
        self.pid = self.proc.pid
        started(self.pid)
        self._stdout_fd, self._stderr_fd = self.proc.stdout.fileno(), self.proc.stderr.fileno()
        self._buffers = {self._stdout_fd: bytearray(), self._stderr_fd: bytearray()}
        self._open = set(self._buffers)
        for fd in self._open:
            os.set_blocking(fd, False)
        try:
            self.proc.stdin.write(request)      # a few hundred bytes: never fills the pipe
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait(self) -> Outcome:
        """Block until the child is done, or its deadline passes and its group is killed."""
        with selectors.DefaultSelector() as sel:
            for fd in self._open:
                sel.register(fd, selectors.EVENT_READ)
            while self._open and (left := self.deadline - time.monotonic()) > 0:
                for key, _ in sel.select(left):
                    self._read(key.fd)
                    if key.fd not in self._open:
                        sel.unregister(key.fd)
        while (exited := self._poll_exit()) is None:
            time.sleep(_REAP_POLL_S)
        return self._outcome(*exited)

    async def await_(self) -> Outcome:
        """The same from an event loop, without blocking it. Cancelling kills the group first."""
        loop = asyncio.get_running_loop()
        eof = loop.create_future()

        def readable(fd: int) -> None:
            self._read(fd)
            if fd not in self._open:
                loop.remove_reader(fd)
                if not self._open and not eof.done():
                    eof.set_result(None)

        for fd in self._open:
            loop.add_reader(fd, readable, fd)
        try:
            try:
                await asyncio.wait_for(eof, max(0.0, self.deadline - time.monotonic()))
            except TimeoutError:
                pass                        # past the deadline: _poll_exit kills the group
            while (exited := self._poll_exit()) is None:   # noqa: ASYNC110 - wait4 has no event to await
                await asyncio.sleep(_REAP_POLL_S)
        except BaseException:               # cancelled (or worse): nothing may outlive the call
            self.kill()
            raise
        finally:
            for fd in self._buffers:
                loop.remove_reader(fd)
        return self._outcome(*exited)

    def kill(self) -> None:
        """Kill the whole group now and reap the child."""
        kill_group(self.pid)
        if self.proc.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.proc.returncode = os.waitstatus_to_exitcode(status)
        reaped(self.pid)
        self._close()

    # -- mechanics -----------------------------------------------------------------------------------------
    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._open.discard(fd)
            return
        buf = self._buffers[fd]
        buf += chunk[: max(0, MAX_OUTPUT - len(buf))]

    def _poll_exit(self) -> tuple[int, object] | None:
        """Reap the child if it exited; past the deadline, kill its group first. (status, rusage) once reaped."""
        if not self.timed_out and time.monotonic() >= self.deadline:
            self.timed_out = True
            kill_group(self.pid)
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.proc.returncode = os.waitstatus_to_exitcode(status)    # so Popen never waits for it again
        reaped(self.pid)
        return status, usage

    def _close(self) -> None:
        for stream in (self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()

    def _outcome(self, status: int, usage) -> Outcome:
        kill_group(self.pid)                 # anything the child started goes with it
        for fd in list(self._open):
            self._read(fd)
        self._close()
        code = os.waitstatus_to_exitcode(status)
        common = {"cpu_s": usage.ru_utime + usage.ru_stime, "worker": f"pid {self.pid}",
                  "elapsed_s": time.monotonic() - self.started}
        if self.timed_out:
            return Outcome("timeout", error=f"no answer within {self.timeout_s:g} s: process group killed",
                           **common)
        try:
            reply = marshal.loads(bytes(self._buffers[self._stdout_fd]))
            return Outcome(reply["status"], reply["detail"], reply["error"], **common)
        except (EOFError, ValueError, KeyError, TypeError):
            pass                            # no complete reply: it died before answering
        stderr = [ln for ln in bytes(self._buffers[self._stderr_fd]).decode(errors="replace").splitlines()
                  if ln.strip()]
        if code < 0:
            name = signal.Signals(-code).name
            why = {"SIGXCPU": " (its CPU limit)", "SIGALRM": " (its wall-clock limit)"}.get(name, "")
            error = f"killed by {name}{why}"
        else:
            error = f"exited with code {code} and no result" + (f": {stderr[-1][:200]}" if stderr else "")
        return Outcome("crashed", error=error, **common)


def run_in_child(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    """Run one call in its own child and block until it is done (or killed at its deadline)."""
    return Child(tool, params, ctx).wait()


async def arun_in_child(tool: str, params: dict, ctx: ToolContext) -> Outcome:
    """Run one call in its own child, awaited from the event loop."""
    return await Child(tool, params, ctx).await_()
