"""Python Concurrency for Agentic Systems: the engine.

Measure how asyncio, threads, subprocesses and process pools behave on real agent work. One call runs
a workload in a mode and returns a :class:`RunReport` of measured records::

    import agent_core
    report = agent_core.run("llm_call:4,web_search:4,memory_write:2,analysis:2", mode="hybrid")
    print(report.wall_s, report.speedup, report.loop_lag_max_ms)

The public API is listed in ``__all__``; names load lazily so that child processes which import a
tool module do not pay for the whole engine.
"""
from __future__ import annotations

from ._lazy import exports

__all__ = [
    "run", "arun", "compare", "run_many", "warm_up", "abandoned_calls", "MODES",
    "KINDS", "CATALOG", "ToolSpec", "Param", "get_tool",
    "Workload", "RunReport", "TaskRecord", "AgentCoreError", "BadInput", "BackendError",
    "ensure_backend", "stop_backend", "tool", "load_tools", "classify", "pipeline", "PIPELINES",
]

_WHERE = {
    "run": "api", "arun": "api", "compare": "api", "run_many": "api", "warm_up": "api",
    "abandoned_calls": "api", "MODES": "modes",
    "KINDS": "catalog", "CATALOG": "catalog", "ToolSpec": "catalog", "Param": "catalog", "get_tool": "catalog",
    "Workload": "workload", "RunReport": "records", "TaskRecord": "records",
    "AgentCoreError": "errors", "BadInput": "errors", "BackendError": "errors",
    "ensure_backend": "backend", "stop_backend": "backend",
    "tool": "usertools", "load_tools": "usertools", "classify": "classifier",
    "pipeline": "pipelines", "PIPELINES": "pipelines",
}


__getattr__, __dir__ = exports(__name__, _WHERE)
