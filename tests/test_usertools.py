"""Your own tools: registered from a file or with the decorator, run under every mode (each lane finds them again
by their origin, in whatever process it runs them), refused with what to do where they cannot be found, and
classified from measurement. Real calls against the embedded backend; the files are written here."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import agent_core
from agent_core import classify, usertools
from agent_core.catalog import CATALOG, KINDS
from agent_core.errors import BadInput
from agent_core.modes import MODES, in_process_kinds

from .conftest import ROOT

EXAMPLE = os.path.join(ROOT, "examples", "my_tools.py")
EXAMPLE_SPEC = "fetch_ticket:3,crm_lookup:2,score_reply:1,flaky_search:3"
FAST = {"fetch_ticket": {"latency_ms": 60}, "crm_lookup": {"latency_ms": 60}, "score_reply": {"words": 20_000},
        "flaky_search": {"latency_ms": 40, "attempt_timeout_ms": 150}}

# never seen by the engine before: it learns their kinds from what they do
UNSEEN = '''
import asyncio
import time


async def awaits(ms: int = 150):
    """Waits on something asynchronous."""
    await asyncio.sleep(ms / 1000)
    return {"waited_ms": ms}


def sleeps(ms: int = 150):
    """A synchronous wait, as a blocking client's."""
    time.sleep(ms / 1000)
    return {"slept_ms": ms}


def spins(n: int = 400_000):
    """Pure-Python arithmetic: holds the GIL."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return {"total": total}
'''


@pytest.fixture(autouse=True)
def _no_user_tool_left(forget_user_tools):
    """Every test here leaves the catalog as it found it."""


def write(tmp_path, text: str, name: str = "tools.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


# -- registering ----------------------------------------------------------------------------------------------
def test_a_file_registers_its_decorated_tools_with_their_kinds_and_bounded_parameters():
    names = agent_core.load_tools(EXAMPLE)
    assert names == ["fetch_ticket", "crm_lookup", "score_reply", "flaky_search"]
    assert {n: CATALOG[n].kind for n in names} == {"fetch_ticket": "io", "crm_lookup": "blocking",
                                                   "score_reply": "cpu", "flaky_search": "io"}
    assert CATALOG["score_reply"].param("words").allowed() == "1000..1e+06"
    with pytest.raises(BadInput, match=r"score_reply.words=5 is out of range: allowed 1000..1e\+06"):
        agent_core.Workload.of({"score_reply": 1}, {"score_reply": {"words": 5}})
    assert agent_core.load_tools(EXAMPLE) == names, "a file already loaded is not run again"


def test_plain_functions_are_tools_with_kinds_until_measured(tmp_path):
    names = agent_core.load_tools(write(tmp_path, UNSEEN))
    assert names == ["awaits", "sleeps", "spins"]
    assert [usertools.declared_kind(n) for n in names] == [None, None, None]
    assert [CATALOG[n].kind for n in names] == ["io", "blocking", "blocking"], "async: io; sync: a thread"


@pytest.mark.parametrize("text, message", [
    ("def f(x):\n    return x\n", r"parameter 'x' has no default"),
    ("def f(x=[1]):\n    return x\n", r"defaults to '\[1\]': a default must be an int, a float or a str"),
    ("import agent_core\n@agent_core.tool(kind='gpu')\ndef f():\n    pass\n", r"kind 'gpu' is not allowed"),
    ("import agent_core\n@agent_core.tool\ndef analysis():\n    pass\n", r"is a built-in tool's"),
    ("raise RuntimeError('no config')\n", r"failed to import: RuntimeError: no config"),
    ("X = 1\n", r"defines no tool"),
])
def test_a_bad_file_is_one_clear_error_and_registers_nothing(tmp_path, text, message):
    before = dict(CATALOG)
    with pytest.raises(BadInput, match=message):
        agent_core.load_tools(write(tmp_path, text))
    assert CATALOG == before


# -- running under every mode -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_runs_your_tools_where_their_kinds_belong(mode):
    agent_core.load_tools(EXAMPLE)
    r = agent_core.run(EXAMPLE_SPEC, mode, params=FAST)
    assert [(t.id, t.status, t.error) for t in r.tasks if t.status != "ok"] == []
    assert {t.tool for t in r.tasks} == {"fetch_ticket", "crm_lookup", "score_reply", "flaky_search"}
    assert all(t.detail for t in r.tasks), "each call returned what the tool returned"
    flaky = [t for t in r.tasks if t.tool == "flaky_search"]
    assert {t.detail["attempts"] for t in flaky} <= {1, 2}


def test_a_crash_in_your_tool_is_contained_by_a_host_that_loads_your_file():
    agent_core.load_tools(EXAMPLE)
    r = agent_core.run("fetch_ticket:2,score_reply:1", "threads", params=FAST, faults={"score_reply": ("crash", 1)})
    assert r.host is not None and r.host["survived"] is False and r.host["exit"] == "killed by SIGSEGV"
    ok = agent_core.run("fetch_ticket:2,score_reply:1", "threads", params=FAST, faults={"score_reply": ("memory", 1)},
                        timeout_s=10)
    assert ok.host is not None and ok.host["survived"], "the host loaded the file and ran the tools"
    assert [t.status for t in ok.tasks if t.tool == "fetch_ticket"] == ["ok", "ok"]


def test_a_tool_only_this_process_can_find_runs_here_and_is_refused_elsewhere_with_what_to_do():
    def local_sdk(ms: int = 20):
        import time
        time.sleep(ms / 1000)
        return {"ms": ms}

    agent_core.tool(kind="blocking")(local_sdk)         # a closure: no module or file can give it back
    assert CATALOG["local_sdk"].origin == "::local_sdk"
    for mode in MODES:
        needs_another_process = "blocking" not in in_process_kinds(mode)
        if needs_another_process:
            with pytest.raises(BadInput, match=r"tool 'local_sdk' runs in another process in the "
                                               rf"{mode} mode .*define it at the top level of a module"):
                agent_core.run("local_sdk:2", mode)
        else:
            r = agent_core.run("local_sdk:2", mode)
            assert r.ok, [t.error for t in r.tasks]
    with pytest.raises(BadInput, match=r"a sacrificial process"):
        agent_core.run("local_sdk:1", "threads", faults={"local_sdk": ("crash", 1)})


# -- classify -----------------------------------------------------------------------------------------------------
def test_tools_nobody_declared_are_classified_from_what_they_do(tmp_path):
    names = agent_core.load_tools(write(tmp_path, UNSEEN))
    verdicts = {v.name: v for v in classify(names, runs=2)}
    assert {n: v.kind for n, v in verdicts.items()} == {"awaits": "io", "sleeps": "blocking", "spins": "cpu"}, \
        [v.reason for v in verdicts.values()]
    assert verdicts["awaits"].evidence["coroutine"] and verdicts["awaits"].evidence["cpu_share"] < 0.5
    assert verdicts["sleeps"].evidence["two_in_threads_x"] < 1.5, "two sleeps overlap in threads"
    assert verdicts["sleeps"].evidence["loop_lag_ms"] >= 100, "…but one freezes an event loop"
    assert verdicts["spins"].evidence["gil_held"] >= 0.5 and verdicts["spins"].evidence["cpu_share"] >= 0.5
    assert verdicts["sleeps"].evidence["gil_held"] < 0.5 and verdicts["awaits"].evidence["gil_held"] < 0.5
    assert not any(v.contradicts or v.declared for v in verdicts.values())


def test_a_declared_kind_the_measurement_contradicts_is_flagged(tmp_path):
    agent_core.load_tools(write(tmp_path, '''
        import time
        import agent_core

        @agent_core.tool(kind="io")
        def vendor_sdk(ms: int = 150):
            time.sleep(ms / 1000)
    '''))
    (v,) = classify(["vendor_sdk"], runs=1)
    assert (v.kind, v.declared, v.contradicts) == ("blocking", "io", True)
    assert "declared io, which the measurement contradicts" in v.reason
    assert v.reason.startswith("vendor_sdk: sync, ") and "froze the loop" in v.reason


FAST_BUILTINS = {"llm_call": {"ttft_ms": 100, "tokens": 24}, "web_search": {"latency_ms": 100},
                 "vector_lookup": {"latency_ms": 100}, "legacy_sdk": {"latency_ms": 100},
                 "memory_write": {"rows": 3000}, "analysis": {"work": 150_000}, "fetch_page": {"latency_ms": 100},
                 "chunk_text": {"words": 12_000}, "rerank": {"candidates": 1000}}


def test_the_built_in_tools_classify_as_their_declared_kinds():
    verdicts = classify(list(CATALOG), runs=2, params=FAST_BUILTINS)
    assert {v.name: v.kind for v in verdicts} == {n: s.kind for n, s in CATALOG.items()}, \
        [v.reason for v in verdicts if v.contradicts]
    assert {v.kind for v in verdicts} == set(KINDS), "every kind has a built-in tool that shows it"


# -- the command line ---------------------------------------------------------------------------------------------
def test_classify_json_gives_each_tool_a_kind_with_evidence():
    out = cli("classify", "--tools-from", EXAMPLE, "--json", "--runs", "1",
              "--param", "score_reply.words=60000", "--param", "fetch_ticket.latency_ms=150")
    assert out.returncode == 0, out.stderr
    tools = json.loads(out.stdout)["tools"]
    assert [(t["name"], t["kind"], t["declared"]) for t in tools] == [
        ("fetch_ticket", "io", "io"), ("crm_lookup", "blocking", "blocking"), ("score_reply", "cpu", "cpu"),
        ("flaky_search", "io", "io")], [t.get("reason") for t in tools]
    assert all({"cpu_share", "two_in_threads_x", "loop_lag_ms", "coroutine"} <= set(t["evidence"]) for t in tools)


def test_run_with_tools_from_runs_every_call_ok_and_honours_the_contract():
    out = cli("run", "--tools-from", EXAMPLE, "--mode", "hybrid", "--tools", EXAMPLE_SPEC, "--json",
              "--param", "score_reply.words=20000")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["mode"] == "hybrid" and len(report["tasks"]) == 9
    assert all(t["status"] == "ok" for t in report["tasks"]), [t["error"] for t in report["tasks"]]
    lanes = {t["tool"]: t["worker"].split(" ")[0] for t in report["tasks"]}
    assert lanes["fetch_ticket"] == "event-loop" and lanes["score_reply"] == "pid"


@pytest.mark.parametrize("args, message", [
    (["--tools-from", "nowhere.py"], "--tools-from 'nowhere.py' is not a Python file (.py) that exists"),
    (["--tools-from", EXAMPLE, "--param", "fetch_ticket.latency_ms=99999"],
     "fetch_ticket.latency_ms=99999 is out of range: allowed 0..5000"),
    ([], "unknown tool 'fetch_ticket'"),
])
def test_bad_tools_from_input_is_one_line_and_exit_2(args, message):
    out = cli("run", "--mode", "threads", "--tools", "fetch_ticket:1", *args, timeout=60)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
