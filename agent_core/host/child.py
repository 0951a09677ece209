"""The host's side: run the engine in this sacrificial child, streaming each call's start and record to the
parent as it happens (one JSON line each), then the report. It sets its own limits first: no core dumps,
an address-space limit (a memory fault meets it), a wall-clock alarm; and it dies with its parent.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import sys
import threading

from .._supervise import die_with
from ..engine.drive import execute
from ..engine.run import Run
from ..tools import hand_over_llm_settings
from ..workload import MAX_RUN_S, Options, Workload
from .parent import GRACE_S

HOST_MEM_MB = 1536           # the host's own address-space limit: a memory fault meets it


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    die_with(request["owner"], group=True)      # we lead our group: our fork server, pool and children go with us
    hand_over_llm_settings(request["llm"])      # the environment we were given holds no credential
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = HOST_MEM_MB << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.alarm(int(MAX_RUN_S + GRACE_S))
    lock = threading.Lock()

    def emit(event: dict) -> None:
        line = memoryview((json.dumps(event, default=str) + "\n").encode())
        with lock:
            while line:                      # a long line (the report) may take several writes
                line = line[os.write(1, line):]

    if request["tools"]:
        from ..usertools import ensure_all
        ensure_all(request["tools"])            # the user's tools this run calls, from their files or modules
    faults = {tool: tuple(f) for tool, f in request["faults"].items()}
    if request.get("pipeline"):
        from ..pipelines import pipeline
        name, params, overrides = request["pipeline"]
        workload = pipeline(name, params, overrides, faults)
    else:
        workload = Workload.of(request["counts"], request["params"], faults)
    options = Options.from_dict(request["options"])
    run = Run(workload, request["mode"], options,
              on_record=lambda record: emit({"event": "record", "record": record.to_dict()}),
              on_start=lambda call, t, lane: emit({"event": "start", "call": call.id, "t": t, "lane": lane}),
              on_clock=lambda started_at: emit({"event": "clock", "started_at": started_at}))
    report = execute(run)
    emit({"event": "report", "report": report.to_dict()})
