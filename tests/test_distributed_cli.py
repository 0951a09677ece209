"""The `distributed` mode on a real cluster started by hand, as the README says: `dask scheduler`, two
`dask worker` processes, and DASK_SCHEDULER_ADDRESS for the command line. The calls run on those workers,
and a worker killed mid-run is reported truthfully."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT
from .dask_cluster import DaskCluster


@pytest.fixture(scope="module")
def cluster():
    with DaskCluster(workers=2, nthreads=2) as c:
        yield c


def _cli(cluster: DaskCluster, tools: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": cluster.address}
    return subprocess.Popen([sys.executable, "-m", "agent_core", "run", "--mode", "distributed", "--tools", tools,
                             "--json", *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _report(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=150)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out)


def test_every_call_runs_on_the_workers_of_the_cluster_the_environment_names(cluster):
    report = _report(_cli(cluster, "web_search:8,analysis:2"))
    workers = set(cluster.worker_pids())
    assert [t["status"] for t in report["tasks"]] == ["ok"] * 10
    ran_on = {t["worker"].rsplit(" ", 1)[-1] for t in report["tasks"]}
    assert ran_on <= workers and len(ran_on) == 2, (ran_on, workers)
    assert all(t["worker"].startswith("dask worker ") for t in report["tasks"])


def test_a_worker_killed_mid_run_is_reported_and_nothing_on_it_comes_back_ok(cluster):
    pids = cluster.worker_pids()
    proc = _cli(cluster, "web_search:6,legacy_sdk:4", "--param", "web_search.latency_ms=8000",
                "--param", "legacy_sdk.latency_ms=8000")
    victim = sorted(pids)[0]
    time.sleep(4.0)                                  # the run is up and its calls are out on both workers
    os.kill(pids[victim], signal.SIGKILL)
    report = _report(proc)
    on_victim = [t for t in report["tasks"] if t["worker"].endswith(victim)]
    assert on_victim, "no call was on the killed worker"
    assert all(t["status"] == "crashed" for t in on_victim), [(t["id"], t["status"]) for t in on_victim]
    assert all("died" in t["error"] for t in on_victim)
    cluster.wait_for_workers(2, timeout=60)         # its nanny brings it back for the next test
