from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# Tests use the embedded backend only, never a real LLM the developer may have configured.
for _name in ("AGENT_LLM_BASE_URL", "AGENT_LLM_API_KEY", "AGENT_LLM_MODEL"):
    os.environ.pop(_name, None)

# The app saves every run it measures to the run history: the tests' runs (in this process and in the servers it
# starts, which inherit the environment) go to a throwaway file, never to the user's data directory.
_HISTORY_DIR = tempfile.mkdtemp(prefix="agent-core-test-history-")
os.environ["AGENT_CORE_HISTORY"] = os.path.join(_HISTORY_DIR, "history.sqlite3")
atexit.register(shutil.rmtree, _HISTORY_DIR, True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line), read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":          # a zombie is reaped, not running
            continue
        table[int(entry)] = (int(fields[1]), cmd)
    return table


def descendants(pid: int | None = None) -> dict[int, str]:
    """Live processes below ``pid`` (default: this test process), with their command lines."""
    table = process_table()
    root = pid or os.getpid()
    out, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, cmd) in table.items():
            if ppid == parent and child not in out:
                out[child] = cmd
                frontier.append(child)
    return out


def call_children() -> dict[int, str]:
    """Our live per-call children (subprocess mode, sandboxes): there must be none between runs."""
    return {pid: cmd for pid, cmd in descendants().items() if "agent_core._child_main" in cmd}


def processes_tagged(tag: str) -> list[int]:
    """Every live process whose environment carries AGENT_TEST_TAG=tag (anything a command started)."""
    found = []
    needle = f"AGENT_TEST_TAG={tag}".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                pass
    return [p for p in found if p in process_table()]


@pytest.fixture
def no_call_children_left():
    yield
    assert call_children() == {}, "a call's child process outlived its run"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, driven by Playwright (for the browser tests of a module)."""
    from playwright.sync_api import sync_playwright

    from .streamlit_server import CHROMIUM, CHROMIUM_ARGS
    os.makedirs(os.path.join(ROOT, "test-artifacts"), exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def forget_user_tools():
    """Unregister the user tools a test added, and check that the catalog is as it was."""
    from agent_core import usertools
    from agent_core.catalog import CATALOG
    before = dict(CATALOG)
    yield
    usertools.unregister()
    assert CATALOG == before, "a test left a user tool in the catalog"
