"""The run store, on real SQLite files and real processes: kill -9 mid-save, corrupt and foreign files, two
processes saving at once, a read-only location, a full disk, the bounds, the migration from an empty file."""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

import agent_core
from agent_core.errors import BadInput
from agent_core.history import DEFAULT_MAX_RUNS, RunStore, StoreError, default_store, machine_info, store_path
from agent_core.history._db import APP_ID, LATEST
from agent_core.records import RunReport

from .conftest import ROOT

SPEC = "web_search:3,analysis:1"
PARAMS = {"web_search": {"latency_ms": 20}, "analysis": {"work": 2000}}


@pytest.fixture(scope="module")
def real() -> RunReport:
    report = agent_core.run(SPEC, "threads", params=PARAMS)
    assert report.ok, report.statuses
    return report


@pytest.fixture(scope="module")
def comparison() -> list[RunReport]:
    return agent_core.compare(SPEC, ["sequential", "asyncio"], params=PARAMS)


def grown(report: RunReport, n: int) -> RunReport:
    """The real run's calls repeated to ``n`` (the records of a big run, for size and timing)."""
    tasks = [dataclasses.replace(report.tasks[i % len(report.tasks)], id=f"call#{i}") for i in range(n)]
    return dataclasses.replace(report, tasks=tasks)


@pytest.fixture
def path(tmp_path) -> str:
    return str(tmp_path / "history.sqlite3")


def child(script: str, *args: str, **kw) -> subprocess.Popen:
    """A real Python process running ``script`` with the worktree's agent_core."""
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


DERIVED = ("sum_task_s", "sum_cpu_s", "critical_path_s", "speedup", "true_speedup")


def same(a: RunReport, b: RunReport) -> bool:
    """The same run, every record and field exact; only the figures to_dict derives from the calls' times are left
    out (they are summed from times already rounded to the µs, so their last digit may differ)."""
    da, db = a.to_dict(), b.to_dict()
    return da.keys() == db.keys() and {k: v for k, v in da.items() if k not in DERIVED} == {
        k: v for k, v in db.items() if k not in DERIVED}


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def raw_ids(path: str) -> list[int]:
    """The ids in the file, read with plain sqlite3 (not through the store)."""
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
        return [r[0] for r in db.execute("SELECT id FROM runs ORDER BY id")]


# -- saving and reading --------------------------------------------------------------------------------------

def test_a_saved_run_and_comparison_come_back_whole(path, real, comparison):
    store = RunStore(path)
    assert store.warning is None
    [one] = store.save(real, label="first")
    group = store.save(comparison, label="cmp")
    assert group == [one + 1, one + 2]
    entry, back = store.get(one)
    assert same(back, real)
    assert (entry.label, entry.mode, entry.spec, entry.n_calls, entry.ok_calls, entry.source, entry.group) == (
        "first", "threads", SPEC, 4, 4, "local", None)
    assert entry.wall_s == real.wall_s and entry.machine == machine_info() and entry.version
    assert set(entry.machine) == {"cores", "python", "gil", "platform", "hostname"}
    saved = store.get_saved("cmp")                       # a label names the whole comparison, in order
    assert [e.mode for e, _ in saved] == ["sequential", "asyncio"] and len({e.group for e, _ in saved}) == 1
    assert all(same(r, c) for (_, r), c in zip(saved, comparison, strict=True))
    assert store.get("cmp")[0].id == group[-1] and len(store.get_saved(str(group[0]))) == 1
    assert [e.id for e in store.list()] == [*reversed(group), one]
    assert [e.id for e in store.list(mode="asyncio")] == [group[1]]
    assert [e.id for e in store.list(label="first", spec=SPEC, machine=machine_info()["hostname"])] == [one]
    assert store.list(machine="elsewhere") == [] and len(store.list(limit=1)) == 1
    store.close()
    assert raw_ids(path) == [one, *group]


def test_a_missing_run_and_a_bad_label_are_one_line_each(path, real):
    store = RunStore(path)
    store.save(real, label="x")
    for ref, fragment in ((7, "no saved run has id 7: the history holds 1 runs (ids 1..1)"),
                          ("nope", "no saved run has id or label 'nope'")):
        with pytest.raises(BadInput, match="^" + re.escape(fragment)):
            store.get(ref)
    for label in ("", "12", "a\nb", "x" * 81):
        with pytest.raises(BadInput, match="label .* (is not allowed|is a number)"):
            store.save(real, label=label)
    assert [e.id for e in store.list()] == [1]


def test_ids_are_never_reused_after_a_delete(path, real):
    store = RunStore(path)
    ids = [store.save(real)[0] for _ in range(3)]
    assert store.delete([ids[-1], 999]) == 1
    assert store.save(real) == [ids[-1] + 1], "a link to a deleted run never shows another one"


def test_an_empty_file_is_migrated_from_version_0(path, real):
    open(path, "wb").close()
    store = RunStore(path)
    assert store.warning is None
    store.save(real)
    store.close()
    with sqlite3.connect(path) as db:
        pragmas = {p: db.execute(f"PRAGMA {p}").fetchone()[0]
                   for p in ("user_version", "application_id", "journal_mode", "auto_vacuum")}
    assert pragmas == {"user_version": LATEST, "application_id": APP_ID, "journal_mode": "wal", "auto_vacuum": 2}


def test_a_store_from_a_newer_version_is_refused_and_left_alone(path, real):
    RunStore(path).save(real)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={LATEST + 1}")
    before = read(path)
    store = RunStore(path)
    with pytest.raises(StoreError, match=f"schema version {LATEST + 1}, written by a newer agent_core"):
        store.save(real)
    assert read(path) == before and not glob.glob(path + ".corrupt-*")


# -- bounds ---------------------------------------------------------------------------------------------------

def test_the_newest_runs_are_kept(path, real, comparison):
    store = RunStore(path, max_runs=3)
    ids = [store.save(real, label=f"r{i}")[0] for i in range(5)]
    assert [e.id for e in store.list()] == ids[:1:-1]
    group = store.save(comparison * 2)                  # 4 runs saved at once: all kept, every older one out
    assert [e.id for e in store.list()] == group[::-1]


def test_the_size_cap_evicts_the_oldest_and_the_file_shrinks(path, real):
    big = grown(real, 800)                              # ~170 KB of records each
    cap = 600 * 2**10
    store = RunStore(path, max_bytes=cap)
    ids = [store.save(big)[0] for _ in range(12)]
    kept = [e.id for e in store.list()]
    assert 2 <= len(kept) < 12 and kept == ids[::-1][:len(kept)], "the newest runs, and only they"
    store.close()
    assert os.path.getsize(path) <= cap + 64 * 2**10, "freed pages go back to the file system"
    assert len(raw_ids(path)) == len(kept)


# -- the caller's thread ----------------------------------------------------------------------------------------

def test_save_in_background_returns_before_the_save_is_written(path, real):
    store = RunStore(path)
    store.save(real)
    big = grown(real, 1000)
    idle = []
    for _ in range(10):                                 # the page's case: the store has nothing else to do
        started = time.perf_counter()
        future = store.save_in_background(big)
        idle.append(time.perf_counter() - started)
        future.result(timeout=30)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")                  # another writer holds the file: no save can finish
    handoff = []
    futures = []
    for _ in range(20):
        started = time.perf_counter()
        futures.append(store.save_in_background(big, label="bg"))
        handoff.append(time.perf_counter() - started)
    assert not any(f.done() for f in futures), "the caller never waited for the disk"
    blocker.execute("COMMIT")
    blocker.close()
    ids = sorted(i for f in futures for i in f.result(timeout=30))
    assert ids == list(range(12, 32))
    print(f"\nsave_in_background on the caller's thread, 1000-call reports: idle store median "
          f"{sorted(idle)[5] * 1e3:.3f} ms, max {max(idle) * 1e3:.2f} ms; 20 at once while busy median "
          f"{sorted(handoff)[10] * 1e3:.3f} ms, max {max(handoff) * 1e3:.2f} ms")


def test_exceptions_of_a_background_save_land_in_its_future(path, real):
    store = RunStore(path)
    future = store.save_in_background(real, label="7")
    with pytest.raises(BadInput, match="is a number"):
        future.result(timeout=10)


def test_many_threads_saving_at_once_keep_every_run(path, real):
    store = RunStore(path)
    barrier = threading.Barrier(4)
    futures = []

    def saver(n: int) -> None:
        barrier.wait()
        futures.extend(store.save_in_background(real, label=f"t{n}-{i}") for i in range(10))
    threads = [threading.Thread(target=saver, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for f in futures for i in f.result(timeout=30)) == list(range(1, 41))
    assert {e.label for e in store.list()} == {f"t{n}-{i}" for n in range(4) for i in range(10)}


def test_default_store_is_one_per_path_and_none_when_off(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_CORE_HISTORY", "off")
    assert store_path() is None and default_store() is None
    monkeypatch.setenv("AGENT_CORE_HISTORY", str(tmp_path))    # a directory holds the file
    assert store_path() == str(tmp_path / "history.sqlite3")
    got = []
    threads = [threading.Thread(target=lambda: got.append(default_store())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in got}) == 1 and got[0].path == str(tmp_path / "history.sqlite3")
    monkeypatch.delenv("AGENT_CORE_HISTORY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert store_path() == str(tmp_path / "data" / "agent-core" / "history.sqlite3")
    assert DEFAULT_MAX_RUNS == 500


# -- corrupt and foreign files ------------------------------------------------------------------------------

def _set_aside(path: str) -> list[str]:
    return sorted(p for p in glob.glob(path + ".corrupt-*") if not p.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("kind", ["garbage", "foreign", "damaged"])
def test_a_bad_file_is_set_aside_with_one_message_and_a_fresh_store_works(path, real, kind):
    if kind == "garbage":
        with open(path, "wb") as f:
            f.write(b"this is somebody's notes, not a database\n" * 200)
    elif kind == "foreign":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE customers (name TEXT)")
            db.execute("INSERT INTO customers VALUES ('Ada')")
    else:                                               # ours, with pages overwritten in the middle
        store = RunStore(path)
        for _ in range(3):
            store.save(grown(real, 300))
        store.close()
        with open(path, "r+b") as f:
            f.seek(4096 * 3)
            f.write(b"\xff" * 4096 * 4)
    before = read(path)
    store = RunStore(path)
    assert store.warning and "\n" not in store.warning, store.warning
    [aside] = _set_aside(path)
    assert f"the file at {path} was " in store.warning and f"set aside as {aside}" in store.warning
    assert {"garbage": "not an SQLite file", "foreign": "another program's SQLite file",
            "damaged": "corrupt"}[kind] in store.warning
    assert read(aside) == before, "never overwritten"
    assert store.save(real, label="fresh") == [1]
    assert [e.label for e in store.list()] == ["fresh"]


def test_a_file_corrupted_while_the_store_is_open_is_set_aside_at_the_next_save(path, real):
    store = RunStore(path)
    store.save(real)
    with open(path, "wb") as f:
        f.write(b"\0garbage" * 1000)
    assert store.save(real, label="after") == [1]
    assert "set aside" in store.warning and len(_set_aside(path)) == 1


OPEN_AND_SAVE = """
import json, os, sys, time
from agent_core.history import RunStore
from agent_core.records import RunReport
path, report, go = sys.argv[1:4]
rep = RunReport.from_dict(json.load(open(report)))
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
store = RunStore(path)
ids = store.save(rep, label=sys.argv[4])
print(json.dumps({"ids": ids, "warning": store.warning}), flush=True)
"""


def test_two_processes_opening_one_corrupt_file_set_it_aside_once(tmp_path, path, real):
    with open(path, "wb") as f:
        f.write(b"not a database" * 500)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(real.to_dict()))
    go = str(tmp_path / "go")
    procs = [child(OPEN_AND_SAVE, path, str(report), go, f"p{n}") for n in range(2)]
    assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]
    open(go, "w").close()
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(r["warning"] is not None for r in results) == 1
    assert len(_set_aside(path)) == 1
    assert sorted(i for r in results for i in r["ids"]) == [1, 2] and raw_ids(path) == [1, 2]


# -- processes: two at once, kill -9 mid-save -------------------------------------------------------------------

SAVE_MANY = """
import json, os, sys, time
from agent_core.history import RunStore
from agent_core.records import RunReport
path, report, go, name, n = sys.argv[1:6]
rep = RunReport.from_dict(json.load(open(report)))
store = RunStore(path)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(int(n)):
    print(store.save(rep, label=f"{name}-{i}")[0], flush=True)
"""


def test_two_processes_saving_at_once_keep_both_runs(tmp_path, path, real):
    report = tmp_path / "report.json"
    report.write_text(json.dumps(grown(real, 200).to_dict()))
    go = str(tmp_path / "go")
    procs = [child(SAVE_MANY, path, str(report), go, name, "25") for name in ("a", "b")]
    assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]
    open(go, "w").close()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    printed = sorted(int(x) for out, _ in outs for x in out.split())
    assert printed == list(range(1, 51)) and raw_ids(path) == printed
    labels = {e.label for e in RunStore(path).list(limit=100)}
    assert labels == {f"{name}-{i}" for name in "ab" for i in range(25)}


def test_kill_9_in_the_middle_of_saving_loses_no_earlier_run(tmp_path, path, real):
    report = tmp_path / "report.json"
    report.write_text(json.dumps(grown(real, 1000).to_dict()))      # each save takes a few ms: a kill lands in one
    go = str(tmp_path / "go")
    open(go, "w").close()
    confirmed: list[int] = []
    for round_ in range(3):
        p = child(SAVE_MANY, path, str(report), go, f"k{round_}", "100000")
        assert p.stdout.readline().strip() == "ready"
        for _ in range(8):
            confirmed.append(int(p.stdout.readline()))
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)
        assert p.returncode == -signal.SIGKILL
        stored = raw_ids(path)                      # readable, quick_check ok
        assert set(confirmed) <= set(stored), "every save that returned is still there"
    store = RunStore(path)
    assert store.warning is None
    for run_id in confirmed:
        assert len(store.get(run_id)[1].tasks) == 1000
    assert store.save(real, label="after")[0] > max(confirmed)


# -- a location that cannot take a save ---------------------------------------------------------------------

SAVE_ONE = """
import json, sys
from agent_core.history import RunStore, StoreError
from agent_core.records import RunReport
path, report = sys.argv[1:3]
store = RunStore(path)
try:
    store.save(RunReport.from_dict(json.load(open(report))))
    saved = None
except StoreError as exc:
    saved = str(exc)
print(json.dumps({"error": saved, "listed": [e.id for e in store.list()], "warning": store.warning}))
"""


def _read_only_child(base: str, *args: str) -> subprocess.Popen:
    """SAVE_ONE in a process that sees ``base`` read-only: a read-only bind mount in its own mount namespace when
    root (root ignores permissions), else the directory and file made read-only."""
    if os.geteuid() != 0:
        os.chmod(base, 0o555)
        return child(SAVE_ONE, *args)
    mount = (f"mount --bind {base} {base} && mount -o remount,ro,bind {base} && "
             f"exec {sys.executable} -c \"$0\" \"$@\"")
    return subprocess.Popen(["unshare", "-m", "sh", "-c", mount, SAVE_ONE, *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_read_only_location_gives_store_error_and_the_history_stays_readable(tmp_path, real):
    base = str(tmp_path / "ro")
    os.mkdir(base)
    path = os.path.join(base, "history.sqlite3")
    RunStore(path).save(real)
    report = str(tmp_path / "report.json")
    with open(report, "w") as f:
        json.dump(real.to_dict(), f)
    before = read(path)
    try:
        p = _read_only_child(base, path, report)
        out, err = p.communicate(timeout=60)
    finally:
        os.chmod(base, 0o755)
    assert p.returncode == 0, err
    result = json.loads(out)
    print("\nread-only:", result["error"])
    assert result["error"].startswith(f"could not save to the history at {path}: "), result
    assert "\n" not in result["error"] and result["listed"] == [1] and result["warning"] is None
    assert read(path) == before and raw_ids(path) == [1]


FULL_DISK = """
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # a write past the limit fails (EFBIG), like a full disk
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
""" + SAVE_ONE.replace("path, report = sys.argv[1:3]", "path, report = sys.argv[1:3]")


def test_a_full_disk_gives_store_error_and_loses_nothing(tmp_path, path, real):
    RunStore(path).save(real, label="before")
    report = tmp_path / "report.json"
    report.write_text(json.dumps(grown(real, 5000).to_dict()))     # ~1 MB of records; the limit is 512 KB
    p = child(FULL_DISK, path, str(report), str(512 * 2**10))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    result = json.loads(out)
    print("\nfull disk:", result["error"])
    assert result["error"].startswith(f"could not save to the history at {path}: "), result
    assert result["listed"] == [1]
    assert raw_ids(path) == [1]
    store = RunStore(path)
    assert store.warning is None and store.save(real, label="after") == [2]
