from __future__ import annotations

import pathlib
import subprocess
import sys

import agent_core

from .conftest import ROOT


def test_the_public_api_is_exactly_what_all_lists():
    assert sorted(agent_core.__all__) == sorted([
        "run", "arun", "compare", "run_many", "warm_up", "abandoned_calls", "MODES", "KINDS", "CATALOG", "ToolSpec",
        "Param", "get_tool", "Workload", "RunReport", "TaskRecord", "AgentCoreError", "BadInput", "BackendError",
        "ensure_backend", "stop_backend", "tool", "load_tools", "classify", "pipeline", "PIPELINES"])
    for name in agent_core.__all__:
        assert getattr(agent_core, name) is not None


def test_the_engine_never_imports_streamlit():
    sources = list(pathlib.Path(ROOT, "agent_core").rglob("*.py"))
    assert sources and not [p for p in sources if "streamlit" in p.read_text()]
    code = ("import sys, agent_core\nagent_core.run('web_search:1,analysis:1', 'hybrid', "
            "params={'analysis': {'work': 1000}})\nprint('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_a_call_child_imports_only_what_its_tool_needs():
    # the child's path: the entry point, the execution helper, the tool package and the tool's module
    code = ("import sys; sys.argv = ['x']\nimport agent_core._child_main, agent_core._execute, agent_core.tools\n"
            "import agent_core.tools.analysis\nprint(sorted(m for m in ('asyncio', 'httpx', 'json', 'dataclasses', "
            "'typing', 'sqlite3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {ROOT!r})\n" + code],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr
