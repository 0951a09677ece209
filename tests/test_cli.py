"""The command line is the contract outside checks rely on (DESIGN.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from agent_core.modes import BASELINE, MODES, get_mode

from .conftest import ROOT, processes_tagged


def cli(*args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, str]:
    tag = uuid.uuid4().hex
    env = {**os.environ, "AGENT_TEST_TAG": tag}
    p = subprocess.run([sys.executable, "-m", "agent_core", *args], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=timeout)
    return p, tag


def no_process_left(tag: str) -> bool:
    deadline = time.monotonic() + 5
    while processes_tagged(tag):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_tools_lists_every_tool_with_kind_parameters_and_bounds():
    p, _ = cli("tools", "--json")
    catalog = json.loads(p.stdout)
    names = [t["name"] for t in catalog["tools"]]
    assert names == ["llm_call", "web_search", "vector_lookup", "embed", "memory_write", "legacy_sdk", "analysis",
                     "sandboxed_script", "fetch_page", "chunk_text", "rerank"]
    search = catalog["tools"][1]
    assert search["kind"] == "io" and search["params"][0] == {
        "name": "latency_ms", "default": 300, "min": 0, "max": 10000, "choices": None, "unit": "ms",
        "help": "server-side latency"}
    human, _ = cli("tools")
    assert "web_search.latency_ms = 300 ms   allowed 0..10000" in human.stdout


@pytest.mark.parametrize("mode", MODES)
def test_run_json_honours_the_contract_and_leaves_no_process_behind(mode):
    p, tag = cli("run", "--mode", mode, "--tools", "web_search:2,memory_write:1,analysis:1,sandboxed_script:1",
                 "--param", "web_search.latency_ms=100", "--param", "analysis.work=20000", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["mode"] == mode
    for key in ("wall_s", "sum_task_s", "sum_cpu_s", "critical_path_s", "speedup"):
        assert isinstance(report[key], float)
    assert "true_speedup" in report and "loop_lag_max_ms" in report
    assert len(report["tasks"]) == 5 and all(t["status"] == "ok" for t in report["tasks"])
    assert no_process_left(tag), "the backend, pool workers and children all went with the command"


def test_run_prints_an_aligned_table_with_the_headline_figures():
    p, _ = cli("run", "--mode", "threads", "--tools", "web_search:3,analysis:1", "--param", "analysis.work=5000")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].startswith("threads · web_search:3,analysis:1 · 4 calls")
    assert "wall s" in lines[1] and "true speedup" in lines[1] and "loop lag ms" in lines[1]
    header = next(line for line in lines if line.strip().startswith("tool"))
    row = next(line for line in lines if line.strip().startswith("web_search"))
    assert header.index("calls") + len("calls") == row.index(" 3 ") + 2, "columns line up"


def test_compare_runs_every_mode_with_sequential_as_the_baseline():
    p, tag = cli("compare", "--tools", "web_search:4", "--param", "web_search.latency_ms=100", "--json")
    assert p.returncode == 0, p.stderr
    runs = json.loads(p.stdout)["runs"]
    assert [r["mode"] for r in runs] == [BASELINE] + [m for m in MODES if m != BASELINE]
    assert runs[0]["true_speedup"] == 1.0
    assert all(r["true_speedup"] > 0 for r in runs)
    assert no_process_left(tag)


@pytest.mark.parametrize("command", ["run", "compare"])
def test_the_help_lists_every_mode_with_its_summary(command):
    p, _ = cli(command, "--help")
    assert p.returncode == 0
    listed = [line.split()[0] for line in p.stdout.split("modes:\n", 1)[1].splitlines() if line.strip()]
    assert listed == list(MODES)
    for mode in MODES:
        assert f"{mode}  " in p.stdout and get_mode(mode).SUMMARY in p.stdout.replace("\n", " ")


@pytest.mark.parametrize("args, fragment", [
    (["run", "--mode", "threads", "--tools", "nope:1"], "unknown tool 'nope': allowed are llm_call"),
    (["run", "--mode", "fast", "--tools", "web_search:1"], "invalid choice: 'fast'"),
    (["run", "--mode", "threads", "--tools", "web_search:1001"], "web_search:1001 is not allowed"),
    (["run", "--mode", "threads", "--tools", "web_search:1", "--timeout-s", "600"], "timeout_s=600.0 is out of range"),
    (["run", "--mode", "threads", "--tools", "web_search:1", "--workers", "x"], "invalid int value: 'x'"),
    (["run", "--mode", "threads", "--tools", "web_search:1", "--param", "web_search.latency_ms=1e9"],
     "web_search.latency_ms=1e9 is out of range: allowed 0..10000 ms"),
    (["compare", "--tools", "web_search:1", "--modes", "threads,warp"], "unknown mode 'warp'"),
    (["run", "--tools", "web_search:1"], "the following arguments are required: --mode"),
])
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, fragment):
    p, _ = cli(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert fragment in p.stderr and "Traceback" not in p.stderr


def test_a_crashing_script_in_subprocess_mode_takes_only_itself():
    p, tag = cli("run", "--mode", "subprocess", "--tools", "web_search:5,sandboxed_script:1",
                 "--fault", "sandboxed_script:crash", "--json")
    assert p.returncode == 0, p.stderr
    status = {t["id"]: t["status"] for t in json.loads(p.stdout)["tasks"]}
    assert status.pop("sandboxed_script#1") == "crashed"
    assert set(status.values()) == {"ok"} and len(status) == 5
    assert no_process_left(tag)


def test_the_same_crash_in_threads_mode_loses_the_whole_run_and_the_command_survives():
    p, tag = cli("run", "--mode", "threads", "--tools", "web_search:5,sandboxed_script:1",
                 "--fault", "sandboxed_script:crash", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["host"]["survived"] is False and "SIGSEGV" in report["host"]["exit"]
    assert {t["status"] for t in report["tasks"]} == {"crashed"}
    human, _ = cli("run", "--mode", "threads", "--tools", "web_search:5,sandboxed_script:1",
                   "--fault", "sandboxed_script:crash")
    assert "calls' results were lost with it" in human.stdout and "this command survived" in human.stdout
    assert no_process_left(tag)


@pytest.mark.parametrize("mode, says", [("threads", "abandoned"), ("subprocess", "process group killed")])
def test_a_hanging_legacy_sdk_times_out_and_leaves_no_process(mode, says):
    p, tag = cli("run", "--mode", mode, "--tools", "legacy_sdk:1,web_search:2", "--fault", "legacy_sdk:hang",
                 "--timeout-s", "1", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    hung = report["tasks"][0]
    assert hung["status"] == "timeout" and says in hung["error"]
    assert report["wall_s"] < 5, "the command did not wait out the 60 s hang"
    if mode == "threads":
        assert report["abandoned"] == ["legacy_sdk#1"]
    assert no_process_left(tag)


@pytest.mark.parametrize("fault, fragment", [
    ("legacy_sdk:melt", "the kind must be one of raise, hang, crash, memory, spin"),
    ("legacy_sdk:hang:600", "seconds must be 0.1..60"),
    ("analysis:crash", "names a tool with no calls in this workload"),
    ("legacy_sdk", "is not TOOL:KIND[:SECONDS]"),
])
def test_bad_faults_are_refused_with_what_is_allowed(fault, fragment):
    p, _ = cli("run", "--mode", "threads", "--tools", "legacy_sdk:1", "--fault", fault)
    assert p.returncode == 2 and fragment in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
