"""Every process the engine starts dies with the process that started it, however that one ends.

A child leads its own process group (``start_new_session=True``), so a timeout or a dead run kills the
whole group at once. That covers the ends the engine sees. For the end it cannot see (its own process
SIGKILLed, or SIGTERMed past its exit hooks), each child watches its owner itself: :func:`die_with`
opens a *pidfd* of the owner (Linux ≥ 5.3: a file descriptor that becomes readable when that process
exits, with no pid-reuse race once open) and a daemon thread waits on it, then kills the child's own
process group, or just the child. ``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that
started the child ends, and the engine starts children from short-lived threads.

Used by call children, sacrificial hosts and pool workers. Pool workers are forked by multiprocessing's
fork server, so their parent is the fork server, not the engine: they watch the engine's pid, which
they are given. Once they are gone, the fork server (which exits when every holder of its "alive" pipe
has gone) and the resource tracker (which exits at end-of-file on its pipe) follow by themselves.

Light on purpose: a call child imports it, so only built-in modules (``posix``, ``select``, ``_thread``).
"""
from __future__ import annotations

import _thread
import posix
import select

_SIGKILL = 9


def die_with(owner_pid: int, group: bool = False) -> None:
    """Kill this process (its whole group with ``group``) as soon as process ``owner_pid`` exits.

    If the owner is gone already, die now. Safe to call more than once; cheap (one fd, one idle thread).
    """
    try:
        fd = posix.pidfd_open(owner_pid)
    except ProcessLookupError:
        _die(group)
        return
    except (AttributeError, OSError):       # no pidfd here (not Linux ≥ 5.3): the engine's own kills remain
        return
    _thread.start_new_thread(_watch, (fd, group))


def _watch(fd: int, group: bool) -> None:
    while True:
        try:
            if select.select([fd], [], [])[0]:
                break
        except InterruptedError:
            continue
    _die(group)


def _die(group: bool) -> None:
    try:
        if group:
            posix.killpg(posix.getpgid(0), _SIGKILL)
        posix.kill(posix.getpid(), _SIGKILL)
    finally:
        posix._exit(1)


def exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM end this (main) process through ``SystemExit``, so its exit hooks run: the pool, the
    backend and the temp files are cleaned up as on a normal exit. Python's default for SIGTERM is to die
    at once, skipping them. A second SIGTERM during that cleanup kills at once. Call from the main thread."""
    import signal

    def terminate(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
