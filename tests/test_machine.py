"""The machine line: cores, the Python, and whether its GIL is on, found out from the interpreter, not assumed."""
from __future__ import annotations

import sys
import sysconfig

import pytest

from agent_core import machine


def test_this_python_says_whether_its_gil_is_enabled_from_the_interpreter_itself():
    g = machine.gil()
    check = getattr(sys, "_is_gil_enabled", None)
    assert g.enabled == (True if check is None else bool(check()))
    assert g.free_threaded_build == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    assert g.line.startswith("GIL: enabled (" if g.enabled else "GIL: disabled (")
    assert g.line in machine.describe() and f"{machine.usable_cores()} usable core" in machine.describe()


def test_a_python_without_sys_is_gil_enabled_has_no_free_threaded_build_and_says_so(monkeypatch):
    monkeypatch.delattr(sys, "_is_gil_enabled", raising=False)
    monkeypatch.setattr(machine.platform, "python_version", lambda: "3.11.7")
    assert machine.gil().line == "GIL: enabled (Python 3.11 has no free-threaded build)"


@pytest.mark.parametrize(("free", "enabled", "says"), [
    (True, False, "GIL: disabled (sys._is_gil_enabled() is False: a free-threaded build"),
    (True, True, "GIL: enabled (sys._is_gil_enabled() is True on a free-threaded build"),
    (False, True, "GIL: enabled (sys._is_gil_enabled() is True: Python 3.13.1 is a standard build")])
def test_on_3_13_and_later_the_interpreter_is_asked(monkeypatch, free, enabled, says):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: enabled, raising=False)
    monkeypatch.setattr(machine.sysconfig, "get_config_var", lambda name: 1 if free and name == "Py_GIL_DISABLED"
                        else None)
    monkeypatch.setattr(machine.platform, "python_version", lambda: "3.13.1")
    g = machine.gil()
    assert (g.enabled, g.free_threaded_build) == (enabled, free) and g.line.startswith(says)
