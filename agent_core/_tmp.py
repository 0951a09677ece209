"""Where the engine writes to disk: one temp root per process, removed at exit, and swept if its owner died.

::

    <tempdir>/agent-core-<pid>-<random>/     this process's root, made on first use (mode 0700)
        .owner                               who owns it: pid, start time, boot id, pid namespace
        run-XXXX/memory.db                   a run's files (:func:`run_dir`), removed when the run is released
        host-XXXX/                           a child's own temp dir (:func:`child_tmp`), removed once it is reaped
        pymp-XXXX/                           multiprocessing's temp dir (:func:`steer_multiprocessing`)

The root goes at exit (``atexit``), or earlier through :func:`cleanup_root` (a SIGTERM path may call it).
A process killed before that leaves its root behind: the next process to make a root removes every root
whose owner is dead. "Dead" is checked, not guessed: the owner's pid must be gone, or now belong to a
process that started at another time (a reused pid), or the machine must have booted since. A root whose
owner lives in another pid namespace (a container sharing /tmp) is left alone: its pid means nothing here.

A child process started with ``AGENT_CORE_TMP=<dir>`` (and ``TMPDIR=<dir>``, so that ``tempfile`` and
multiprocessing in it write there too) uses ``<dir>`` as its root: it never removes or sweeps it, its
parent does. :func:`child_env` and :func:`child_tmp` give the variables to pass.

Light on purpose (no engine imports): any process may import it.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator

ENV = "AGENT_CORE_TMP"          # a child's root, set by its parent
PREFIX = "agent-core-"
MARKER = ".owner"
STAGING = ".agent-core-new-"    # a root is made under this name and renamed once its marker is in place
_ROOT_NAME = re.compile(r"agent-core-(\d+)-[0-9a-f]+")
_MAX_SOCKET_PATH = 100          # AF_UNIX paths hold 107 bytes on Linux: multiprocessing puts its sockets in its dir
_NO_MARKER_GRACE_S = 3600.0     # a root without a marker (not ours to judge) is swept only when this old

_lock = threading.RLock()
_root: str | None = None
_owned = False
_pid: int | None = None         # the process that set _root (a forked child must make its own)
_registered = False


# -- who owns a root ---------------------------------------------------------------------------------------

def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """Process ``pid``'s start time (clock ticks since boot, /proc/<pid>/stat field 22), or None if no such process."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]      # fields after "(comm)": state is field 3, starttime 22


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _identity(pid: int) -> dict:
    return {"pid": pid, "start": _start_time(pid), "boot": _read("/proc/sys/kernel/random/boot_id"),
            "pidns": _pid_namespace()}


def owner_alive(owner: dict) -> bool | None:
    """Is the process described by a marker still running? None when it cannot be told from here."""
    try:
        pid = int(owner["pid"])
    except (KeyError, TypeError, ValueError):
        return None
    if owner.get("pidns") != _pid_namespace():
        return None                              # another pid namespace: its pids are not ours to look up
    boot = _read("/proc/sys/kernel/random/boot_id")
    if owner.get("boot") and boot and owner["boot"] != boot:
        return False                             # the machine booted since: nothing of then is running
    if owner.get("start") is None or not os.path.isdir("/proc/self"):
        try:                                     # no /proc to compare start times: existence is all we know
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return _start_time(pid) == owner["start"]    # gone (None), or the pid now names a later process


def _stale(path: str) -> bool:
    marker = _read(os.path.join(path, MARKER))
    if marker is None:
        try:                                     # being made right now, or not ours: only when long abandoned
            return time.time() - os.stat(path).st_mtime > _NO_MARKER_GRACE_S
        except OSError:
            return False
    try:
        owner = json.loads(marker)
    except ValueError:
        return False
    return owner_alive(owner) is False


def sweep(base: str | None = None) -> list[str]:
    """Remove the roots under ``base`` (the temp dir) whose owner is dead; returns what was removed."""
    base = base or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        if not (_ROOT_NAME.fullmatch(entry.name) or entry.name.startswith(STAGING)):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        if entry.path != _root and _stale(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.exists(entry.path):
                removed.append(entry.path)
    return removed


# -- this process's root ----------------------------------------------------------------------------------

def run_root() -> str:
    """This process's temp root, made (and stale roots swept) on first use; made again if it was removed."""
    global _root, _owned, _pid, _registered
    with _lock:
        if _root is not None and _pid == os.getpid() and os.path.isdir(_root):
            return _root
        given = os.environ.get(ENV, "").strip()
        if given:                                # a parent's: use it, never remove or sweep it
            os.makedirs(given, mode=0o700, exist_ok=True)
            _root, _owned, _pid = os.path.abspath(given), False, os.getpid()
            return _root
        base = tempfile.gettempdir()
        sweep(base)
        staging = tempfile.mkdtemp(prefix=STAGING, dir=base)
        try:
            with open(os.path.join(staging, MARKER), "w", encoding="utf-8") as f:
                json.dump(_identity(os.getpid()), f)
            root = os.path.join(base, f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
            os.rename(staging, root)             # appears whole: a sweeper never sees a root without its marker
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _root, _owned, _pid = root, True, os.getpid()
        if not _registered:
            atexit.register(cleanup_root)
            _registered = True
        return root


def cleanup_root() -> None:
    """Remove this process's root with everything in it (at exit; a SIGTERM handler may call it too).
    Takes no lock, so a signal handler cannot deadlock on it; a later :func:`run_root` makes a new root."""
    global _root
    root, owned, pid = _root, _owned, _pid
    _root = None
    if root is not None and owned and pid == os.getpid():
        shutil.rmtree(root, ignore_errors=True)


def run_dir(prefix: str = "run-") -> str:
    """A new private directory for one run's files, under the root. Remove it with :func:`remove`."""
    return tempfile.mkdtemp(prefix=prefix, dir=run_root())


def remove(path: str | None) -> None:
    """Remove a directory made by :func:`run_dir` (or anything under the root); missing is fine."""
    if path:
        shutil.rmtree(path, ignore_errors=True)


# -- children ----------------------------------------------------------------------------------------------

def child_env(path: str | None = None) -> dict[str, str]:
    """Variables that put a child's temp files under ``path`` (default: our root): merge them into its env.
    ``TMPDIR`` steers ``tempfile`` and multiprocessing's ``pymp-*`` dir in the child; ``AGENT_CORE_TMP``
    makes the engine in the child use that directory as its root and leave its removal to us."""
    path = path or run_root()
    return {ENV: path, "TMPDIR": path}


@contextlib.contextmanager
def child_tmp(prefix: str = "host-") -> Iterator[dict[str, str]]:
    """A directory of its own for a child that may die leaving files (a sacrificial host): yields the
    variables for its env; the directory is removed when the block ends (after the child is reaped)."""
    path = run_dir(prefix)
    try:
        yield child_env(path)
    finally:
        remove(path)


def steer_multiprocessing() -> str | None:
    """Put this process's multiprocessing temp dir (the fork server's socket, listeners) under our root, so
    that a killed process's ``pymp-*`` dir goes with its root instead of staying in /tmp. Call before the first
    pool or fork server starts; once multiprocessing has made its own dir, that one stays (returned as is).
    Returns None, steering nothing, when the root's path is too long for the Unix sockets made in it.

    multiprocessing keeps the dir in ``current_process()._config["tempdir"]`` and makes it on first need with
    ``tempfile.mkdtemp(prefix="pymp-")`` (removed by its own exit hook). Setting that entry first is the one
    way to steer it without changing ``tempfile.tempdir`` for the whole process."""
    from multiprocessing import process
    config = process.current_process()._config
    with _lock:
        if config.get("tempdir") is None:
            root = run_root()
            if len(os.fsencode(root)) + len("/pymp-XXXXXXXX/listener-XXXXXXXX") > _MAX_SOCKET_PATH:
                return None
            config["tempdir"] = tempfile.mkdtemp(prefix="pymp-", dir=root)
        return config["tempdir"]
