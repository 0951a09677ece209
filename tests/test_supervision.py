"""Every process the engine starts is supervised: it dies with its owner, however the owner ends, and no
credential reaches a process that does not need it. Real processes throughout, found by an environment tag."""
from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

import agent_core
from agent_core.catalog import CATALOG
from agent_core.engine.run import Run
from agent_core.modes import MODES, in_process_kinds
from agent_core.workload import Options, Workload

from .conftest import ROOT, process_table, processes_tagged

SECRET = "sk-test-" + uuid.uuid4().hex
TOKEN = "tok-" + uuid.uuid4().hex
# a run that keeps every kind of process busy: call children (hung scripts), pool workers (hung analysis), the
# fork server and resource tracker behind them, the backend, and threads on the loop
BUSY = ["run", "--mode", "hybrid", "--tools", "llm_call:20,web_search:20,memory_write:4,analysis:4,sandboxed_script:4",
        "--fault", "sandboxed_script:hang:30", "--fault", "analysis:hang:30", "--timeout-s", "40"]


def _cli(args: list[str], tag: str) -> subprocess.Popen:
    env = {**os.environ, "AGENT_TEST_TAG": tag, "AGENT_LLM_API_KEY": SECRET, "DEPLOY_TOKEN": TOKEN}
    return subprocess.Popen([sys.executable, "-m", "agent_core", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    return predicate()


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _cmdline(pid: int) -> str:
    return process_table().get(pid, (0, ""))[1]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_the_command_mid_run_leaves_no_process_and_no_child_saw_a_secret(how):
    tag = uuid.uuid4().hex
    cli = _cli(BUSY, tag)
    try:
        # under way: the hung script's child, the pool (fork server, workers, tracker) and the backend are all up
        def kinds() -> str:
            return " ".join(_cmdline(p) for p in processes_tagged(tag) if p != cli.pid)

        started = _wait_for(lambda: all(k in kinds() for k in ("agent_core._child_main", "forkserver",
                                                                "resource_tracker", "agent_core._server")), 60)
        assert started, f"the run never got going: {kinds()}"
        others = [p for p in processes_tagged(tag) if p != cli.pid]
        assert len(others) >= 5, kinds()
        for pid in others:
            env = _environ(pid)
            assert SECRET.encode() not in env and TOKEN.encode() not in env, f"a secret reached {_cmdline(pid)}"
        cli.send_signal(how)
        status = cli.wait(30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        cli.stderr.close()
    assert status == -how if how == signal.SIGKILL else status == 128 + how, status
    left = _wait_for(lambda: not processes_tagged(tag), timeout=5, every=0.1)
    assert left, "still running 5 s after the command died: " + "; ".join(
        _cmdline(p)[:120] for p in processes_tagged(tag))


def _tool_of(kind: str) -> str:
    return next(name for name, spec in CATALOG.items() if spec.kind == kind)


HOSTED = [(mode, kind) for mode in MODES for kind in sorted(in_process_kinds(mode))]


@pytest.mark.parametrize("mode,kind", HOSTED)
def test_a_crash_that_takes_the_run_down_is_reported_in_seconds(mode, kind):
    """The sacrificial host dies at once; its fork server and pool workers hold its pipes, yet the caller
    notices its exit, kills its group and reports, instead of waiting for end-of-file (it took 360 s)."""
    tool = _tool_of(kind)
    counts = {tool: 1, "analysis": 1, "web_search": 1}
    started = time.perf_counter()
    r = agent_core.run(counts, mode, faults={tool: ("crash", 1.0)}, params={"analysis": {"work": 20_000}})
    took = time.perf_counter() - started
    assert r.host is not None and r.host["survived"] is False and "SIGSEGV" in r.host["exit"]
    assert took < 30, f"{mode}/{tool}: {took:.1f} s to report a crash that happened at once"
    assert r.wall_s < 10, f"the run's wall ({r.wall_s:.1f} s) runs to the host's death, not to end-of-file"


def test_only_calls_of_a_tool_that_uses_the_llm_get_its_key(monkeypatch):
    monkeypatch.setenv("AGENT_LLM_API_KEY", SECRET)
    run = Run(Workload.parse("llm_call:1,sandboxed_script:1,web_search:1"), "subprocess", Options())
    run.prepare()
    try:
        keys = {c.tool: run.resources.ctx(c, remote=True).llm_api_key for c in run.calls}
    finally:
        run.cleanup()
    assert keys == {"llm_call": SECRET, "sandboxed_script": "", "web_search": ""}


class _FakeLLM(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible streaming endpoint that notes the Authorization header it was sent."""
    seen: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        _FakeLLM.seen.append(self.headers.get("authorization", ""))
        body = b"".join(b"data: " + json.dumps({"choices": [{"delta": {"content": w}}]}).encode() + b"\n\n"
                        for w in ("measured", "here")) + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_run_moved_into_a_sacrificial_host_still_sends_the_llm_key(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeLLM.seen = []
    try:
        monkeypatch.setenv("AGENT_LLM_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        monkeypatch.setenv("AGENT_LLM_API_KEY", SECRET)
        r = agent_core.run("llm_call:2,analysis:1", "threads", faults={"analysis": ("memory", 1.0)})
    finally:
        server.shutdown()
        server.server_close()
    assert r.host is not None, "a memory fault in threads mode is hosted"
    llm = [t for t in r.tasks if t.tool == "llm_call"]
    assert all(t.status == "ok" for t in llm), [t.error for t in llm]
    assert _FakeLLM.seen == [f"Bearer {SECRET}"] * 2
