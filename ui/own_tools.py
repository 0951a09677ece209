"""The user's own tools in the app: loaded from ``AGENT_CORE_TOOLS_FROM``, set by whoever starts the server.

That variable is the only way the app ever gets code to run: no page lets a visitor type a path or code, and
without the variable no page offers it. ``widgets.page`` (every page's first call) calls :func:`load_once`
before any picker iterates the catalog, so the tools are registered once per server process (per value of the
variable), under a lock: a second session's first script run waits for the first load instead of iterating a
catalog that is changing. A bad file is one line on every page; the app goes on with the built-in tools.
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from agent_core import usertools
from agent_core.catalog import CATALOG, shown
from agent_core.errors import BadInput

ENV = "AGENT_CORE_TOOLS_FROM"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_lock = threading.Lock()
_outcomes: dict[str, Loaded] = {}     # the variable's value -> what loading it gave (one load per value)


@dataclass(frozen=True)
class Loaded:
    value: str                  # the variable, as the server was started with it
    names: tuple[str, ...]      # the user's tools registered in this process
    error: str | None           # one line: why a file did not load (the tools before it stay loaded)


def load_once() -> Loaded | None:
    """Load the files ``AGENT_CORE_TOOLS_FROM`` names, the first time any page asks; None when it is unset."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    with _lock:
        if value not in _outcomes:
            _outcomes[value] = _load(value)
        return _outcomes[value]


def _load(value: str) -> Loaded:
    try:
        return Loaded(value, tuple(usertools.load_from_environment()), None)
    except BadInput as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a user's file: whatever it raised is one line on the pages
        error = f"{type(exc).__name__}: {shown(exc)}"
    return Loaded(value, tuple(usertools.user_tools()), error)


def forget() -> None:
    """Load again on the next page (tests: after they unregister the tools)."""
    with _lock:
        _outcomes.clear()


def show_status() -> None:
    """On every page: the load's error (one line), and in the sidebar which tools are the user's."""
    loaded = load_once()
    if loaded is None:
        return
    if loaded.error:
        kept = f" and the {len(loaded.names)} of yours that did load" if loaded.names else ""
        st.error(f"Your tools ({ENV}) were not loaded: {loaded.error}. The app goes on with the built-in "
                 f"tools{kept}.")
    if names := usertools.user_tools():
        st.sidebar.caption(f"Your tools, from {ENV}: {', '.join(names)}")


def is_yours(name: str) -> bool:
    return usertools.is_user_tool(name)


def params_text(name: str) -> str:
    """``latency_ms = 250 (0..5000), mode = 'fast' (one of fast, slow)``."""
    return ", ".join(f"{p.name} = {p.default!r} ({p.allowed()})" for p in CATALOG[name].params) or "none"


def tools_frame(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{
        "tool": n, "declared kind": usertools.declared_kind(n) or "not declared", "runs as": CATALOG[n].kind,
        "parameters (default, bounds)": params_text(n), "from": usertools.where(CATALOG[n].origin, ROOT),
        "what it does": CATALOG[n].summary} for n in names])


def param_controls(prefix: str) -> dict[str, dict]:
    """One input per parameter of the user's tools, within its bounds (the engine checks them again)."""
    names = usertools.user_tools()
    if not names:
        return {}
    state = st.session_state
    out: dict[str, dict] = {}
    with st.expander("Your tools' parameters", expanded=False):
        cols = st.columns(4)
        i = 0
        for name in names:
            for p in CATALOG[name].params:
                key = f"{prefix}.param.{name}.{p.name}"
                if key not in state:
                    state[key] = p.default
                col = cols[i % 4]
                i += 1
                label = f"{name}.{p.name}"
                if p.choices:
                    col.selectbox(label, p.choices, key=key)
                elif p.type is int:
                    col.number_input(label, _bound(p.lo, math.ceil), _bound(p.hi, math.floor), step=1, key=key)
                else:
                    col.number_input(label, _bound(p.lo, float), _bound(p.hi, float), key=key)
                out.setdefault(name, {})[p.name] = state[key]
    return out


def _bound(value, cast):
    """A parameter's bound as a widget takes it (None: unbounded on that side; the engine checks the real one)."""
    return cast(value) if value is not None and math.isfinite(value) else None
