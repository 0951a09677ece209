"""``--save [--label L]`` on run/compare and ``python -m agent_core history ...``, as real commands on a real file."""
from __future__ import annotations

import csv
import glob
import io
import json
import os
import re
import subprocess
import sys

import pytest

from agent_core.modes import MODES

from .conftest import ROOT
from .perfetto_check import check_trace

FAST = ["--param", "web_search.latency_ms=50"]


def cli(history: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AGENT_CORE_HISTORY": history}
    return subprocess.run([sys.executable, "-m", "agent_core", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180, input=stdin)


def one_line_error(p: subprocess.CompletedProcess, fragment: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
    assert fragment in p.stderr, p.stderr


def listed(history: str) -> list[dict]:
    p = cli(history, "history", "list", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["runs"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> str:
    """Two runs saved as the issue says (labels a and b), and a comparison (label c), in one history file."""
    history = str(tmp_path_factory.mktemp("history") / "history.sqlite3")
    for label in ("a", "b"):
        p = cli(history, "run", "--mode", "hybrid", "--tools", "web_search:5", *FAST, "--save", "--label", label)
        assert p.returncode == 0, p.stderr
        assert "hybrid · web_search:5 · 5 calls" in p.stdout
        assert p.stderr.strip().splitlines()[-1].startswith("saved as run ") and f"label '{label}'" in p.stderr
    p = cli(history, "compare", "--tools", "web_search:2", *FAST, "--save", "--label", "c", "--json")
    assert p.returncode == 0, p.stderr
    assert "saved as runs 3–" in p.stderr and "(one comparison)" in p.stderr
    return history


def test_history_diff_a_b_prints_the_comparison(saved):
    p = cli(saved, "history", "diff", "a", "b")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("A = run 1 · label 'a' · saved ") and "\nB = run 2 · label 'b' · saved " in p.stdout
    assert "\na ran web_search:5 in hybrid mode (5 calls); b ran web_search:5 in hybrid mode (5 calls).\n" in p.stdout
    assert re.search(r"\n(b finished first, ×[\d.]+ faster than a|a finished first, ×[\d.]+ faster than b|"
                     r"a and b took about the same wall-clock time): ", p.stdout), p.stdout


def test_history_export_perfetto_a_is_a_valid_trace(saved):
    p = cli(saved, "history", "export", "--format", "perfetto", "a")
    assert p.returncode == 0, p.stderr
    trace = json.loads(p.stdout)
    check_trace(trace)
    assert sum(e["ph"] == "X" for e in trace["traceEvents"]) == 5
    rows = list(csv.DictReader(io.StringIO(cli(saved, "history", "export", "--format", "csv", "b").stdout)))
    assert len(rows) == 5 and {r["mode"] for r in rows} == {"hybrid"}
    assert json.loads(cli(saved, "history", "export", "--format", "json", "a").stdout)["mode"] == "hybrid"


def test_a_label_names_a_whole_comparison(saved):
    runs = [r for r in listed(saved) if r["label"] == "c"]
    assert sorted(r["mode"] for r in runs) == sorted(MODES) and len({r["group"] for r in runs}) == 1
    trace = json.loads(cli(saved, "history", "export", "--format", "perfetto", "c").stdout)
    check_trace(trace)
    assert sum(e["ph"] == "X" for e in trace["traceEvents"]) == 2 * len(MODES)
    shown = cli(saved, "history", "show", "c")
    assert shown.returncode == 0 and all(f"\n  {m} " in shown.stdout for m in MODES)
    one_line_error(cli(saved, "history", "diff", "a", "c"), "'c' names a comparison of")


def test_history_list_and_show(saved):
    p = cli(saved, "history", "list", "--mode", "hybrid")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split()[:5] == ["id", "saved", "label", "mode", "workload"]
    assert [line.split()[0] for line in lines[1:]][-2:] == ["2", "1"], "newest first"
    show = json.loads(cli(saved, "history", "show", "1", "--json").stdout)
    assert show["mode"] == "hybrid" and len(show["tasks"]) == 5
    assert show["history"]["label"] == "a" and show["history"]["machine"]["cores"] >= 1


def test_import_keeps_a_good_file_and_refuses_a_bad_one_changing_nothing(saved, tmp_path):
    before = listed(saved)
    bad = {"not json": "{oops", "a list": "[1, 2]", "no tasks": json.dumps({"mode": "hybrid", "wall_s": 1}),
           "a bad mode": json.dumps({"mode": "warp", "wall_s": 1, "tasks": []}),
           "a bad time": json.dumps({"runs": [{"mode": "threads", "wall_s": 1, "tasks": [
               {"id": "x", "tool": "t", "kind": "io", "worker": "w", "start_s": "soon", "end_s": 1, "cpu_s": 0,
                "status": "ok"}]}]})}
    fragments = {"not json": "the file is not JSON (Expecting property name", "a list": "not a report (a list)",
                 "no tasks": "the report has no 'tasks'", "a bad mode": "the report.mode is 'warp': allowed are",
                 "a bad time": "runs[0].tasks[0].start_s is 'soon': it must be a number"}
    for name, text in bad.items():
        f = tmp_path / "bad.json"
        f.write_text(text)
        one_line_error(cli(saved, "history", "import", str(f)), fragments[name])
    one_line_error(cli(saved, "history", "import", str(tmp_path / "missing.json")), "is not a file")
    assert listed(saved) == before, "a bad file changes nothing"
    exported = cli(saved, "history", "show", "c", "--json").stdout           # a comparison, downloaded elsewhere
    p = cli(saved, "history", "import", "-", "--label", "theirs", stdin=exported)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("imported as runs ") and "(one comparison)" in p.stdout
    runs = [r for r in listed(saved) if r["label"] == "theirs"]
    assert len(runs) == len(MODES) and {r["source"] for r in runs} == {"imported"}
    assert runs[0]["machine"] == before[0]["machine"], "history show --json carries the machine along"


def test_history_delete(saved, tmp_path):
    history = str(tmp_path / "h.sqlite3")
    report = cli(saved, "history", "show", "1", "--json").stdout
    for _ in range(2):
        assert cli(history, "history", "import", "-", stdin=report).returncode == 0
    one_line_error(cli(history, "history", "delete", "1", "9"), "no saved run has id 9: the history holds 2 runs")
    assert len(listed(history)) == 2
    p = cli(history, "history", "delete", "1")
    assert p.returncode == 0 and p.stdout.strip() == "deleted 1 run"
    assert [r["id"] for r in listed(history)] == [2]


def test_history_off_is_refused_before_any_run(tmp_path):
    for args in (["run", "--mode", "threads", "--tools", "web_search:1", "--save"], ["history", "list"]):
        one_line_error(cli("off", *args), "history is off (AGENT_CORE_HISTORY=off)")
    history = str(tmp_path / "h.sqlite3")
    one_line_error(cli(history, "run", "--mode", "threads", "--tools", "web_search:1", "--label", "x"),
                   "--label 'x' needs --save")
    one_line_error(cli(history, "run", "--mode", "threads", "--tools", "web_search:1", "--save", "--label", "42"),
                   "label '42' is a number")
    one_line_error(cli(history, "history", "show", "nope"), "no saved run has id or label 'nope'")
    one_line_error(cli(history, "history", "export", "--format", "svg", "1"), "invalid choice: 'svg'")


def test_a_save_that_fails_still_shows_the_run_and_exits_0(tmp_path):
    (tmp_path / "a-file").write_text("")
    history = str(tmp_path / "a-file" / "history.sqlite3")               # its "directory" is a file
    p = cli(history, "run", "--mode", "threads", "--tools", "web_search:2", *FAST, "--save")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("threads · web_search:2 · 2 calls")
    [line] = p.stderr.strip().splitlines()
    assert line.startswith(f"python -m agent_core: the run is shown but not saved: could not save to the history "
                           f"at {history}: "), line


def test_a_corrupt_file_is_set_aside_with_one_line_and_the_command_works(tmp_path):
    history = tmp_path / "history.sqlite3"
    history.write_bytes(b"my notes, not a database\n" * 100)
    p = cli(str(history), "history", "list")
    assert p.returncode == 0, p.stderr
    [line] = p.stderr.strip().splitlines()
    [aside] = glob.glob(str(history) + ".corrupt-*")
    assert line == (f"python -m agent_core: warning: the file at {history} was not an SQLite file (file is not a "
                    f"database): it is set aside as {aside}, and a fresh history starts")
    assert p.stdout.startswith("no saved runs")
    assert cli(str(history), "history", "list").stderr == "", "said once"
