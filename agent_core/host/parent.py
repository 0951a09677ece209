"""The parent's side of a sacrificial host: start it, follow it, and report — even when it died.

``sequential``, ``asyncio`` and ``threads`` run calls in the caller's own process, and so do
``hybrid``'s io and blocking calls. A segfault there kills the interpreter, with every result in it;
a runaway allocation there would take the app's memory. So such a run is hosted in a child process
that sets its own limits (no core dumps, an address-space limit, a wall-clock alarm), streams each
call's start and record to us as it happens, and prints the report at the end. If it dies, we build
the report from what it streamed: what had finished is lost with the process, and we say so.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time

from .._spawn import child_env, kill_group, python_argv, reaped, started
from .._tmp import child_tmp
from ..records import RunReport, TaskRecord
from ..tools import llm_settings
from ..workload import MAX_RUN_S, Options, Workload

GRACE_S = 60.0               # start-up and reporting time on top of the run's own bound


def _death(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _follow(proc: subprocess.Popen, handle, deadline: float) -> float:
    """Pass the host's output to ``handle`` until the host exits (or the deadline passes), then kill its whole
    group at once and read what is left in the pipes. Returns when (``perf_counter``) the host ended."""
    pidfd = os.pidfd_open(proc.pid)
    streams = [proc.stdout.fileno(), proc.stderr.fileno()]
    ended: float | None = None
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(pidfd, selectors.EVENT_READ)
            for fd in streams:
                sel.register(fd, selectors.EVENT_READ)
            while ended is None and (left := deadline - time.monotonic()) > 0:
                for key, _ in sel.select(left):
                    if key.fd == pidfd:
                        ended = time.perf_counter()
                    elif chunk := os.read(key.fd, 65536):
                        handle(key.fd, chunk)
                    else:
                        sel.unregister(key.fd)
        ended = ended or time.perf_counter()
        kill_group(proc.pid)                # whatever it left behind goes with it, and lets go of the pipes
        for fd in streams:                  # what it wrote before it ended; writers are gone, so this ends
            os.set_blocking(fd, False)
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                handle(fd, chunk)
    finally:
        os.close(pidfd)
    return ended


def run_hosted(workload: Workload, mode: str, options: Options, on_record=None, tools: list[str] = ()) -> RunReport:
    """Run the workload in a sacrificial child; always returns a report, even if the child died. ``tools``: the
    origins of the user's tools it runs, which the child loads (:mod:`agent_core.usertools`)."""
    env = child_env()
    env["MALLOC_ARENA_MAX"] = "2"      # glibc reserves 64 MiB of address space per arena: keep that small
    if workload.network:
        from ..backend import BACKEND_URL_ENV, ensure_backend
        env[BACKEND_URL_ENV] = ensure_backend().url       # share ours: no second backend
    with child_tmp("host-") as tmp:             # its own temp dir, removed once it is reaped, however it ended
        env.update(tmp)
        return _host(workload, mode, options, on_record, env, list(tools))


def _host(workload: Workload, mode: str, options: Options, on_record, env: dict, tools: list[str]) -> RunReport:
    request = {"counts": workload.counts, "params": workload.params, "tools": tools,
               "pipeline": None if workload.pipeline is None else list(workload.pipeline),
               "faults": {tool: list(f) for tool, f in workload.faults.items()}, "mode": mode,
               "options": options.to_dict(), "owner": os.getpid(), "llm": llm_settings()}
    proc = subprocess.Popen(python_argv("agent_core.host.child:main"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=env)
    started(proc.pid)
    with contextlib.suppress(BrokenPipeError):          # a host that died at once: its exit says why
        proc.stdin.write(json.dumps(request).encode())  # the LLM's key travels here, never in an environment
        proc.stdin.close()
    calls = workload.calls()
    starts: dict[str, tuple[float, str]] = {}
    records: dict[str, TaskRecord] = {}
    report: dict | None = None
    clock_started: float | None = None
    started_at = time.time()
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    buffers = {out_fd: b"", err_fd: b""}

    def handle(fd: int, chunk: bytes) -> None:
        nonlocal report, clock_started, started_at
        if fd == err_fd:
            buffers[fd] = (buffers[fd] + chunk)[-4096:]
            return
        buffers[fd] += chunk
        while b"\n" in buffers[fd]:
            line, buffers[fd] = buffers[fd].split(b"\n", 1)
            event = json.loads(line)
            if event["event"] == "clock":
                clock_started, started_at = time.perf_counter(), event["started_at"]
            elif event["event"] == "start":
                starts[event["call"]] = (event["t"], event["lane"])
            elif event["event"] == "record":
                records[event["record"]["id"]] = record = TaskRecord.from_dict(event["record"])
                if on_record is not None:
                    on_record(record)
            elif event["event"] == "report":
                report = event["report"]

    # The host's end is its exit, seen on a pidfd, never end-of-file: what it started (its fork server, pool
    # workers, resource tracker) inherit its pipes and would hold them open long after it died.
    try:
        died_at = _follow(proc, handle, time.monotonic() + MAX_RUN_S + GRACE_S)
    finally:                                # also when following failed (a bad line, an interrupt)
        kill_group(proc.pid)
        _, status, _ = os.wait4(proc.pid, 0)
        reaped(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    proc.stderr.close()
    if report is not None:
        result = RunReport.from_dict(report)
        result.host = {"pid": proc.pid, "survived": True, "exit": _death(status), "results_lost": 0}
        return result

    # The host died: everything it held is gone. Say exactly what.
    how = _death(status)
    wall = died_at - (clock_started or died_at)
    tasks = []
    for call in calls:
        if call.id in records:
            done = records[call.id]
            tasks.append(TaskRecord(done.id, done.tool, done.kind, done.worker, done.start_s, done.end_s, done.cpu_s,
                                    "crashed", f"finished {done.status}, but its result was lost with the process "
                                    f"({how})", {**done.detail, "result_lost": True, "finished_as": done.status},
                                    done.deps, done.stage))
        elif call.id in starts:
            start, lane = starts[call.id]
            error = (f"took the whole process down ({how})" if call.fault in ("crash", "memory")
                     else f"lost mid-call: the process running it died ({how})")
            tasks.append(TaskRecord(call.id, call.tool, call.kind, lane, start, max(start, wall), 0.0, "crashed",
                                    error, {"fault": call.fault} if call.fault else {}, workload.dep_ids(call),
                                    call.stage))
        else:
            tasks.append(TaskRecord(call.id, call.tool, call.kind, "not started", wall, wall, 0.0, "crashed",
                                    f"never started: the process died first ({how})", {}, workload.dep_ids(call),
                                    call.stage))
    last_err = buffers[err_fd].decode(errors="replace").strip().splitlines()[-1:] or [""]
    return RunReport.of(mode, max(wall, 0.0), tasks, workload, options, started_at=started_at,
                        host={"pid": proc.pid, "survived": False, "exit": how, "results_lost": len(records),
                              "stderr": last_err[0][:300]})
