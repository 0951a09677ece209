"""A real Dask cluster for tests, started with Dask's own commands: ``dask scheduler`` and one ``dask worker``
process per worker (``--nworkers 1 --nthreads N``, each with its nanny), all on 127.0.0.1 with ports the OS
picks, each leading its own process group, every group SIGKILLed at the end.

    with DaskCluster(workers=2, nthreads=1) as cluster:
        os.environ["DASK_SCHEDULER_ADDRESS"] = cluster.address
        ...
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from agent_core._spawn import is_secret, kill_group

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


class DaskCluster:
    """``workers`` ``dask worker`` processes with ``nthreads`` threads each, named ``cli-1``, ``cli-2``...
    (a name survives a nanny's restart), each declaring ``resources`` (``"agent-cpu=1"`` by default).
    ``env`` adds variables (for example a test tag, or ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``)."""

    def __init__(self, workers: int = 2, nthreads: int = 1, resources: str | None = "agent-cpu=1",
                 env: dict[str, str] | None = None, start_timeout: float = 60.0) -> None:
        self.n_workers, self.nthreads, self.resources = workers, nthreads, resources
        self.start_timeout = start_timeout
        self.env = {k: v for k, v in os.environ.items() if not is_secret(k)}
        self.env.pop("DASK_SCHEDULER_ADDRESS", None)
        self.env["PYTHONPATH"] = os.pathsep.join([ROOT, self.env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self.env.update(env or {})
        self.procs: list[subprocess.Popen] = []
        self.address = ""
        self._dir = tempfile.mkdtemp(prefix="dask-cluster-")
        self.log_path = os.path.join(self._dir, "cluster.log")
        self._log = None

    # -- life cycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> DaskCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _popen(self, argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
                                stderr=self._log, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        scheduler_file = os.path.join(self._dir, "scheduler.json")
        self._popen([os.path.join(BIN, "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", scheduler_file])
        deadline = time.monotonic() + self.start_timeout
        while not self.address:
            if time.monotonic() > deadline or self.procs[0].poll() is not None:
                raise RuntimeError(f"dask scheduler did not start; log: {self.log()}")
            try:
                with open(scheduler_file) as f:
                    self.address = json.load(f)["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        for i in range(1, self.n_workers + 1):
            argv = [os.path.join(BIN, "dask"), "worker", self.address, "--host", "127.0.0.1", "--nworkers", "1",
                    "--nthreads", str(self.nthreads), "--name", f"cli-{i}", "--no-dashboard"]
            if self.resources:
                argv += ["--resources", self.resources]
            self._popen(argv)
        if self.n_workers:
            self.wait_for_workers(self.n_workers, deadline - time.monotonic())

    def wait_for_workers(self, n: int, timeout: float = 30.0) -> None:
        from distributed import Client
        with Client(self.address, set_as_default=False, timeout=max(timeout, 1.0)) as client:
            client.wait_for_workers(n, timeout=max(timeout, 1.0))

    def stop(self) -> None:
        """SIGKILL every process group this cluster started (scheduler, nannies, the workers they spawned)."""
        for proc in self.procs:
            kill_group(proc.pid)
        for proc in self.procs:
            proc.wait()
        self.procs.clear()
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- looking at it ---------------------------------------------------------------------------------------
    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the worker process (the nanny's child), asked of the workers themselves."""
        from distributed import Client
        with Client(self.address, set_as_default=False, timeout=10) as client:
            return client.run(os.getpid)

    def group_pids(self) -> list[int]:
        """Every live process in the groups this cluster started (from /proc)."""
        leaders = {p.pid for p in self.procs}
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[0] != "Z" and int(fields[2]) in leaders:
                    found.append(int(entry))
        return found

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""
