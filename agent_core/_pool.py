"""The warm process pool: created once per Python process, reused by every run, replaced when broken.

``forkserver`` (never ``fork``: forking a threaded server such as Streamlit risks deadlocks), with the
tool modules preloaded in the fork server, so a new worker starts with them imported. Workers set
their own limits and build their HTTP client in the initializer (:func:`agent_core.calls.init_worker`).
Nothing here is timed: runs get the pool already warm. A pool that broke (a worker died) or may
still be running abandoned work is killed and replaced.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import calls
from ._spawn import environ_without_secrets
from ._tmp import steer_multiprocessing

PRELOAD = ["agent_core.calls", "agent_core.tools.http_tools", "agent_core.tools.memory", "agent_core.tools.analysis",
           "agent_core.tools.retrieval"]
MAX_PROCESSES = 16

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _main_without_a_file_hidden():
    """Workers re-import the parent's ``__main__`` from its file. When that "file" does not exist (code
    piped to ``python -``, a REPL, ``exec``), they would die trying; our tasks never need it, so hide it
    while the workers start. A real script is left alone, as multiprocessing intends."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    hide = path is not None and getattr(main, "__spec__", None) is None and not os.path.isfile(path)
    if hide:
        del main.__file__
    try:
        yield
    finally:
        if hide:
            main.__file__ = path


def _healthy(pool: ProcessPoolExecutor) -> bool:
    try:
        pool.submit(os.getpid).result(timeout=10)
        return True
    except (BrokenProcessPool, RuntimeError, TimeoutError):
        return False


def warm_pool(size: int) -> ProcessPoolExecutor:
    """A pool of ``size`` started, initialised workers (the cached one when it fits and is healthy)."""
    global _pool, _size
    with _lock:
        if _pool is not None and (_size != size or not _healthy(_pool)):
            _kill(_pool)
            _pool = None
        if _pool is None:
            ctx = _context()
            if ctx.get_start_method() == "forkserver":
                # the fork server and the resource tracker take our environment (multiprocessing offers no env=),
                # and every worker is forked from the fork server: start them while no credential is in it
                from multiprocessing import forkserver
                steer_multiprocessing()                 # its socket and pymp-* dir under our temp root
                with environ_without_secrets():
                    forkserver.ensure_running()
            with _main_without_a_file_hidden():         # every worker starts here, up front
                pool = ProcessPoolExecutor(size, mp_context=ctx, initializer=calls.init_worker,
                                           initargs=(os.getpid(),))
                for started in [pool.submit(calls.hello, 0.05) for _ in range(size)]:
                    started.result()
            _pool, _size = pool, size
        return _pool


def discard_pool(pool: ProcessPoolExecutor) -> None:
    """Kill a pool that may still be running abandoned work; the next run gets a fresh one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    _kill(pool)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Kill the workers and close what the executor holds of them (its result pipe, the process handles):
    left to the garbage collector, each discarded pool kept a few file descriptors open."""
    processes = list(getattr(pool, "_processes", {}).values())   # stable private attributes since 3.2-3.9
    manager = getattr(pool, "_executor_manager_thread", None)
    results = getattr(pool, "_result_queue", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.kill()
    for p in processes:
        p.join(5)
    if manager is not None:
        manager.join(5)
    if results is not None:
        results.close()
    for p in processes:
        with contextlib.suppress(ValueError):       # still running: never happens after kill + join
            p.close()


# Registered after concurrent.futures' own exit hook, so it runs first: that hook joins the pool's manager
# thread, which would wait for a stuck task's alarm. Killing the workers first lets it go at once.
def _shutdown() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _kill(_pool)
            _pool = None


threading._register_atexit(_shutdown)
