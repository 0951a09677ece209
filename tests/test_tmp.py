"""Finding 7: the disk does not fill. Runs write under one temp root per process, removed at exit; a root
left by a killed process is swept by the next process to make one, only once its owner is really dead."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from agent_core import _tmp

from .conftest import ROOT


def python(code: str, tmpdir: str, **env: str) -> subprocess.Popen:
    """A fresh interpreter running ``code`` with its temp dir in ``tmpdir``, in a group of its own."""
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "TMPDIR": tmpdir, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def roots(base) -> list[str]:
    return sorted(p.name for p in base.iterdir() if p.name.startswith(("agent-core-", ".agent-core-")))


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)            # reaps it and closes its pipes


# -- a process's own root ----------------------------------------------------------------------------------

def test_a_run_writes_under_the_process_root_and_leaves_nothing_after_exit(tmp_path):
    p = subprocess.run([sys.executable, "-m", "agent_core", "run", "--mode", "threads", "--tools", "memory_write:2",
                        "--param", "memory_write.rows=100", "--json"], cwd=ROOT, env={**os.environ,
                       "TMPDIR": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["tasks"][0]["status"] == "ok"
    assert list(tmp_path.iterdir()) == [], "the run's folder and the root went with the process"


def test_a_killed_run_leaves_a_root_that_the_next_process_sweeps(tmp_path):
    code = ("import agent_core; agent_core.run('memory_write:1', 'threads', timeout_s=60, "
            "faults={'memory_write': ('hang', 60)}, params={'memory_write': {'rows': 10}})")
    proc = python(code, str(tmp_path))
    try:
        wait_for(lambda: any(tmp_path.glob("agent-core-*/run-*/memory.db")))
    finally:
        kill(proc)
    left = roots(tmp_path)
    assert len(left) == 1 and left[0].startswith(f"agent-core-{proc.pid}-"), left
    owner = json.loads((tmp_path / left[0] / _tmp.MARKER).read_text())
    assert owner["pid"] == proc.pid and owner["start"] is not None

    again = python("from agent_core import _tmp; print(_tmp.run_root())", str(tmp_path))
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert roots(tmp_path) == [], "the dead owner's root (and its 0.1 MB database) was swept; the new one went at exit"


def test_cleanup_root_removes_everything_and_a_later_run_makes_a_new_root(tmp_path):
    code = ("from agent_core import _tmp; import os\n"
            "a = _tmp.run_dir(); open(os.path.join(a, 'f'), 'w').write('x' * 1000)\n"
            "root = _tmp.run_root(); _tmp.cleanup_root(); print(os.path.exists(root))\n"
            "print(_tmp.run_root() != root)\n"
            "os.kill(os.getpid(), 9)")                  # no exit hooks: the second root stays, for the check below
    proc = python(code, str(tmp_path))
    out, _ = proc.communicate(timeout=60)
    assert out.split() == ["False", "True"]
    assert len(roots(tmp_path)) == 1


def test_a_child_given_agent_core_tmp_uses_it_and_leaves_it_to_its_parent(tmp_path):
    given = tmp_path / "given"
    code = ("from agent_core import _tmp; import os, tempfile\n"
            "print(_tmp.run_root()); print(tempfile.gettempdir()); print(os.path.dirname(_tmp.run_dir()))")
    proc = python(code, str(given), **{_tmp.ENV: str(given)})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == [str(given)] * 3
    assert given.is_dir() and len(list(given.iterdir())) == 1, "the child removed neither the root nor its run dir"


def test_child_tmp_removes_what_a_killed_child_left(tmp_path, monkeypatch):
    for name, value in (("_root", None), ("_owned", False), ("_pid", None)):
        monkeypatch.setattr(_tmp, name, value)
    monkeypatch.setenv(_tmp.ENV, str(tmp_path))
    with _tmp.child_tmp() as env:
        where = env["TMPDIR"]
        assert env[_tmp.ENV] == where and os.path.dirname(where) == str(tmp_path)
        child = python("import tempfile, os, time; f = tempfile.mkstemp()[1]; os.write(1, f.encode()); "
                       "open(f, 'w').write('x' * 100000); time.sleep(60)", where, **env)
        wait_for(lambda: os.listdir(where))
        kill(child)
        assert os.listdir(where), "the killed child's file is still there"
    assert not os.path.exists(where)


@pytest.fixture
def short_tmp():
    """A temp dir with a short path: multiprocessing makes Unix sockets in its dir (at most 107 bytes of path)."""
    path = tempfile.mkdtemp(prefix="t-", dir="/tmp")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


POOL = ("from agent_core import _tmp; d = _tmp.steer_multiprocessing()\n"
        "from multiprocessing import util; assert d is None or util.get_temp_dir() == d\n"
        "from agent_core._pool import warm_pool; warm_pool(1); print(d)")


def test_multiprocessing_temp_dir_goes_under_the_root(short_tmp):
    proc = python(POOL, str(short_tmp))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    pymp = out.strip()
    assert os.path.dirname(os.path.dirname(pymp)) == str(short_tmp) and os.path.basename(pymp).startswith("pymp-")
    assert list(short_tmp.iterdir()) == [], "no pymp-* dir left in the temp dir"


def test_multiprocessing_is_not_steered_where_its_sockets_would_not_fit(tmp_path):
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    proc = python("from agent_core import _tmp; from multiprocessing import process\n"
                  "print(_tmp.steer_multiprocessing(), process.current_process()._config.get('tempdir'))", str(deep))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == ["None", "None"], "left to multiprocessing's own default"


# -- the sweep: only roots whose owner is really dead ------------------------------------------------------

def make_root(base, name: str, owner: dict | None) -> str:
    path = base / name
    (path / "run-x").mkdir(parents=True)
    (path / "run-x" / "memory.db").write_bytes(b"\0" * 4096)
    if owner is not None:
        (path / _tmp.MARKER).write_text(json.dumps(owner))
    return name


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_the_sweep_removes_dead_owners_and_keeps_live_ones(tmp_path):
    me = _tmp._identity(os.getpid())
    reused = {**me, "start": str(int(me["start"]) - 1)}          # our pid, but a process that started earlier
    rebooted = {**me, "boot": "another-boot"}
    elsewhere = {**_tmp._identity(dead_pid()), "pidns": "pid:[1]"}
    kept = [make_root(tmp_path, f"agent-core-{os.getpid()}-aa", me),
            make_root(tmp_path, "agent-core-1-bb", elsewhere),                        # another pid namespace
            make_root(tmp_path, "agent-core-2-cc", None),                             # no marker yet: too young
            make_root(tmp_path, "agent-core-run-dd", None),                           # not a root of ours
            make_root(tmp_path, "something-else", _tmp._identity(dead_pid()))]
    gone = [make_root(tmp_path, "agent-core-3-ee", _tmp._identity(dead_pid())),       # its process exited
            make_root(tmp_path, "agent-core-4-ff", reused),                           # its pid was reused
            make_root(tmp_path, "agent-core-5-00", rebooted),                         # the machine booted since
            make_root(tmp_path, ".agent-core-new-11", _tmp._identity(dead_pid()))]    # killed while making one
    removed = _tmp.sweep(str(tmp_path))
    assert sorted(os.path.basename(p) for p in removed) == sorted(gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_a_root_without_a_marker_is_swept_only_when_long_abandoned(tmp_path):
    name = make_root(tmp_path, "agent-core-7-77", None)
    old = time.time() - _tmp._NO_MARKER_GRACE_S - 60
    os.utime(tmp_path / name, (old, old))
    assert [os.path.basename(p) for p in _tmp.sweep(str(tmp_path))] == [name]


@pytest.mark.parametrize("owner", [{"pid": "x"}, {}, {"pid": os.getpid(), "pidns": None}])
def test_an_unreadable_owner_is_never_taken_for_dead(owner):
    assert _tmp.owner_alive(owner) is not False
