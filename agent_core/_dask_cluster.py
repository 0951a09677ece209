"""The Dask cluster behind the ``distributed`` mode: started once per Python process, or found by address.

Two cases, chosen by Dask's own convention:

- ``DASK_SCHEDULER_ADDRESS`` set: connect a client to that cluster. Nothing is started, and nothing of
  that cluster is ever stopped by us (its workers may restart: that is their nanny's business).
- unset (the default): an **embedded** ``LocalCluster`` (``processes=True``: a scheduler, one nanny and
  one worker process per usable core, ``THREADS_PER_WORKER`` threads each for blocking calls, each worker
  declaring one ``agent-cpu`` resource, dashboard off, 127.0.0.1 only).

The embedded cluster lives in a *host* child process of its own (``python -I -S``, like the embedded
backend), not in this one, for three reasons that were each checked:

- its scheduler's and nannies' event loops would otherwise share the measured GIL with the app;
- ``LocalCluster`` workers are spawned by ``multiprocessing`` and inherit ``os.environ`` whole: there
  is no way to hand them a scrubbed environment, and scrubbing ``os.environ`` of a threaded app in
  place is unsafe. The host starts with :func:`agent_core._spawn.child_env` (no variable whose name
  holds KEY, SECRET, TOKEN or PASSWORD), so neither it nor any worker it spawns ever carries one;
- supervision is a chain, each link watching its parent: the host reads a pipe from us (and holds a
  pidfd on us) and, when we are gone, even by SIGKILL, closes the cluster and SIGKILLs its own
  process group; each worker holds ``distributed``'s "parent alive" pipe from its nanny (in the host)
  and calls ``os._exit`` when it closes (``distributed.process.AsyncProcess``), so workers die with
  the host even when the host itself is SIGKILLed.

Start-up (~1.5-3 s here: an interpreter, ``distributed``'s imports, two spawned workers) is set-up work:
:func:`warm_up_cluster` begins it in a background thread (``agent_core.warm_up(cluster=True)`` calls it);
:func:`ensure_cluster`, safe from any thread, waits for it (or does it): a distributed run's set-up, never
its wall. :func:`stop_cluster` (also run at exit) closes clients and stops the host. Memory: the embedded
cluster's processes hold about 200-240 MiB together (:meth:`Cluster.rss_mb`), and this process's client
about 35 more, so nothing starts it before it is asked for.
"""
from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import select
import selectors
import signal
import subprocess
import sys
import threading
import time

from ._spawn import NoAnnouncement, announcement, child_env, kill_group, python_argv
from .errors import AgentCoreError
from .machine import default_processes

ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
CPU_RESOURCE = "agent-cpu"       # one per worker process: a cpu call takes it, so two never share a GIL
THREADS_PER_WORKER = 16          # worker threads, for blocking calls (io calls do not take one)
WORKER_MEMORY = "1GiB"           # the nanny terminates a worker above 95% of this
ALLOWED_FAILURES = 0             # a task whose worker dies is not silently run again elsewhere
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class ClusterError(AgentCoreError, RuntimeError):
    """The cluster could not be started or reached, or has no worker."""


class Cluster:
    """A connected cluster: its client (this process's, one per cluster) and, when embedded, its host."""

    def __init__(self, client, address: str, host: subprocess.Popen | None, start_s: float,
                 expected_workers: int = 1) -> None:
        self.client = client
        self.address = address              # the scheduler's address
        self.expected_workers = expected_workers    # an embedded cluster's size; 1 for an outside one
        self.host = host                    # the embedded cluster's host process; None for an outside one
        self.start_s = start_s              # seconds from asking to a connected client with workers
        self.extras: dict = {}              # per-cluster state of its users (the lane's plugin, topics)
        self.lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        return self.host is not None

    def alive(self) -> bool:
        if self.host is not None and self.host.poll() is not None:
            return False
        return self.client.status == "running"

    def rss_mb(self) -> float | None:
        """The resident memory of an embedded cluster's processes, summed (its host, which runs the scheduler
        and the nannies, the workers and their helpers), in MiB; None for an outside cluster."""
        if self.host is None:
            return None
        return round(sum(_rss_kib(pid) for pid in _process_tree(self.host.pid)) / 1024, 1)

    def close(self) -> None:
        """Close our client; stop the host of an embedded cluster (never an outside cluster)."""
        try:
            self.client.close(timeout=3)
        except Exception:  # noqa: BLE001 - a client of a dead cluster may fail to close: nothing to save
            pass
        if self.host is not None:
            _stop_host(self.host)


def _process_tree(root: int) -> list[int]:
    """``root`` and every live process descended from it (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
    except (OSError, ValueError):
        return 0


_lock = threading.Lock()
_clusters: dict[str, concurrent.futures.Future] = {}     # "" (embedded) or an address -> a Cluster


def _key() -> str:
    return os.environ.get(ADDRESS_ENV, "").strip()


def warm_up_cluster(n_workers: int | None = None, threads_per_worker: int | None = None) -> None:
    """Begin starting (or connecting to) the cluster in the background and return at once."""
    _future(n_workers, threads_per_worker)


def ensure_cluster(n_workers: int | None = None, threads_per_worker: int | None = None,
                   timeout: float = START_TIMEOUT_S) -> Cluster:
    """The process's cluster, started or connected on first use (again if it died). Blocks until it is
    ready; safe from any thread, any number of times. ``n_workers``/``threads_per_worker`` size an
    embedded cluster when it starts (later calls get the one already running, whatever they ask)."""
    future = _future(n_workers, threads_per_worker)
    try:
        return future.result(timeout + 5)          # the start's own deadline says more, and comes first
    except concurrent.futures.TimeoutError:
        raise ClusterError(f"the Dask cluster was not ready within {timeout:g} s") from None


def _future(n_workers: int | None, threads_per_worker: int | None) -> concurrent.futures.Future:
    key = _key()
    with _lock:
        future = _clusters.get(key)
        stale = future is not None and future.done() and (future.exception() is not None
                                                          or not future.result().alive())
        if stale:
            if future.exception() is None:
                future.result().close()
            future = None
        if future is None:
            future = concurrent.futures.Future()
            _clusters[key] = future
            threading.Thread(target=_start, args=(future, key, n_workers, threads_per_worker),
                             name="dask-cluster-start", daemon=True).start()
        return future


def _start(future: concurrent.futures.Future, address: str, n_workers: int | None,
           threads_per_worker: int | None) -> None:
    """In its own thread (a sync ``Client`` must not be built on a running event loop)."""
    t = time.perf_counter()
    host = None
    try:
        from distributed import Client
        expected = 1
        if not address:
            expected = n_workers or default_processes()
            host, address = _start_host(expected, threads_per_worker or THREADS_PER_WORKER)
        deadline = time.monotonic() + START_TIMEOUT_S - (time.perf_counter() - t)
        try:
            client = Client(address, set_as_default=False, timeout=max(1.0, deadline - time.monotonic()))
        except OSError as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            client.wait_for_workers(expected, timeout=max(1.0, deadline - time.monotonic()))
        except TimeoutError:
            have = len(client.scheduler_info(n_workers=-1)["workers"])
            client.close(timeout=3)
            raise ClusterError(f"the Dask cluster at {address} has {have} worker{'s' if have != 1 else ''}; "
                               f"waited {START_TIMEOUT_S:g} s for {expected}") from None
        future.set_result(Cluster(client, address, host, time.perf_counter() - t, expected))
    except BaseException as exc:  # noqa: BLE001 - handed to every waiter
        if host is not None:
            _stop_host(host)
        future.set_exception(exc if isinstance(exc, Exception) else ClusterError(repr(exc)))


def stop_cluster(address: str | None = None) -> None:
    """Close every cluster client this process holds and stop the embedded cluster's host (and with it
    its scheduler, nannies and workers). The next :func:`ensure_cluster` starts afresh. ``address``: only
    the client of that outside cluster (``""``: only the embedded cluster)."""
    with _lock:
        keys = list(_clusters) if address is None else [k for k in _clusters if k == address]
        futures = [_clusters.pop(k) for k in keys]
    for future in futures:
        try:
            cluster = future.result(START_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a start that failed left nothing behind
            continue
        cluster.close()


atexit.register(stop_cluster)


# -- the embedded cluster's host process ----------------------------------------------------------------

def _start_host(n_workers: int, threads_per_worker: int) -> tuple[subprocess.Popen, str]:
    options = {"n_workers": n_workers, "threads_per_worker": threads_per_worker, "owner": os.getpid()}
    proc = subprocess.Popen(python_argv("agent_core._dask_cluster:host_main") + [json.dumps(options)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
                            env=child_env())
    try:
        return proc, str(announcement(proc, START_TIMEOUT_S, "the embedded Dask cluster")["scheduler"])
    except (NoAnnouncement, KeyError) as exc:
        _stop_host(proc, 0)
        raise ClusterError(str(exc) if isinstance(exc, NoAnnouncement) else
                           "the embedded Dask cluster announced no scheduler address") from None


def _stop_host(proc: subprocess.Popen, grace: float = STOP_TIMEOUT_S) -> None:
    """Close the host's stdin (it closes its cluster and kills its group); kill the group if it lingers."""
    if proc.stdin and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:
            pass
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    kill_group(proc.pid)            # the group outlives its leader only if a worker lingers: none may
    if proc.returncode is None:
        proc.wait()


def _wait_for_owner(owner: int) -> str:
    """Block until our owner closes our stdin or dies (a pidfd: even by SIGKILL, even if the pipe leaked)."""
    watched = [sys.stdin.fileno()]
    pidfd = None
    try:
        pidfd = os.pidfd_open(owner)
        watched.append(pidfd)
    except (AttributeError, OSError):       # no pidfd (old kernel), or the owner is already gone
        if os.getppid() != owner:
            return "owner gone"
    while True:
        ready = selectors.DefaultSelector()
        for fd in watched:
            ready.register(fd, selectors.EVENT_READ)
        for key, _ in ready.select():
            if key.fd == pidfd:
                return "owner exited"
            if not os.read(key.fd, 4096):
                # closed by stop_cluster(), or by the owner's death: its pidfd says which
                dead = pidfd is not None and bool(select.select([pidfd], [], [], 0.05)[0])
                return "owner exited" if dead else "stdin closed"
        ready.close()


def host_main() -> None:
    """Entry point of the embedded cluster's host (see the module docstring): start a LocalCluster,
    announce its scheduler's address on stdout, and live exactly as long as the owner wants it."""
    options = json.loads(sys.argv[-1])
    if os.getpgrp() == os.getpid():
        signal.signal(signal.SIGTERM, lambda *_: os.killpg(os.getpgrp(), signal.SIGKILL))
    import logging

    import dask
    from distributed import LocalCluster

    dask.config.set({
        "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
        "distributed.worker.daemon": True,                 # workers may still start call children (Popen)
        "distributed.worker.memory.target": False,         # nothing to spill: calls return small results
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": False,
        "distributed.worker.memory.terminate": 0.95,
        "distributed.scheduler.worker-ttl": "30s",         # a frozen worker is dropped, its calls reported lost
        # LocalCluster closes a worker's nanny for good if, 15 s (the default) after that worker was removed,
        # no worker of its name is registered at that instant: a nanny restarting its worker at that moment
        # (a crash, the memory limit, the lane's restart of a stuck thread) lost it forever, and a run of
        # faults left the cluster with no worker at all. Our nannies restart their own workers: never.
        "distributed.deploy.lost-worker-timeout": "36500d",
    })
    cluster = LocalCluster(n_workers=options["n_workers"], threads_per_worker=options["threads_per_worker"],
                           processes=True, host="127.0.0.1", scheduler_port=0, dashboard_address=None,
                           resources={CPU_RESOURCE: 1}, memory_limit=WORKER_MEMORY,
                           silence_logs=logging.ERROR,
                           # the scheduler's HTTP server (health, metrics) would take 8787, or warn
                           scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    sys.stdout.write(json.dumps({"scheduler": cluster.scheduler_address, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    if _wait_for_owner(options["owner"]) == "stdin closed":      # stopped: close politely (its workers' files)
        closer = threading.Thread(target=cluster.close, kwargs={"timeout": 5}, daemon=True)
        closer.start()
        closer.join(6)
    # the owner died (even by SIGKILL): nobody waits for a polite close, so everything goes at once
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)         # whatever lingers, and this process last
    os._exit(0)
