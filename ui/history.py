"""The run history from the pages: save what a page measured (in the background), say whether it was saved, and
offer a run's exports (Perfetto trace, CSV of calls, JSON report) as downloads.

Saving happens after the job's clock stopped, on the store's own thread: the script thread only hands the
reports over (``save_in_background`` returns at once) and later looks at the future without waiting on it.
When the store is off, cannot be opened or a save fails, the page still shows the run and says it was not saved.
"""
from __future__ import annotations

import concurrent.futures
import json

import streamlit as st

from agent_core import AgentCoreError, RunReport

HISTORY_PAGE = "pages/6_History.py"
MAX_UPLOAD_MB = 5           # an uploaded report larger than this is refused before it is read


def store():
    """(the process's run store, None) or (None, one line saying why there is none)."""
    from agent_core.history import HISTORY_ENV, default_store
    try:
        found = default_store()
    except (AgentCoreError, OSError) as exc:
        return None, f"The run history could not be opened: {exc}"
    if found is None:
        return None, f"The run history is off ({HISTORY_ENV}=off)."
    return found, None


def save_new(result_key: str) -> None:
    """Call after ``measure_into``: a result in ``st.session_state[result_key]`` that has not been handed to the
    store yet is saved now, in the background (a list of reports is one comparison: one group)."""
    state = st.session_state
    result = state.get(result_key)
    held = state.get(f"{result_key}.saved")
    if result is None or (held is not None and held[0] is result):
        return
    found, why = store()
    future = None
    if found is not None:
        try:
            future = found.save_in_background(result)
        except Exception as exc:  # noqa: BLE001 - the run is still shown; the page says why it was not saved
            why = f"{type(exc).__name__}: {exc}"
    state[f"{result_key}.saved"] = (result, future, why)


YOURS = "hist.yours"        # the ids this session saved or imported: the only runs a visitor may delete


def mark_yours(ids) -> None:
    st.session_state[YOURS] = set(st.session_state.get(YOURS, set())) | set(ids)


def yours(ids) -> bool:
    return set(ids) <= set(st.session_state.get(YOURS, set()))


def _outcome(future: concurrent.futures.Future) -> tuple[list[int] | None, str | None]:
    exc = future.exception()
    if exc is None:
        return future.result(), None
    return None, str(exc) if isinstance(exc, AgentCoreError) else f"{type(exc).__name__}: {exc}"


def save_status(result_key: str) -> None:
    """One line under a run: saved as run N (a link to it in History), still saving, or why it was not saved."""
    held = st.session_state.get(f"{result_key}.saved")
    if held is None:
        return
    result, future, why = held
    if future is not None and not future.done():
        _pending(result_key)
        return
    if future is not None:
        ids, why = _outcome(future)
        if ids:
            mark_yours(ids)
            if len(ids) == 1:
                query = {"run": str(ids[0])}
            else:                           # a comparison: its first run (the baseline) beside its fastest
                fastest = min(range(len(ids)), key=lambda i: result[i].wall_s)
                query = {"a": str(ids[0]), "b": str(ids[fastest if fastest else -1])}
            st.page_link(HISTORY_PAGE, label=f"Saved to the history as run{'s' * (len(ids) > 1)} "
                         + ", ".join(f"#{i}" for i in ids), icon=":material/history:", query_params=query)
            return
    st.warning(f"This run is shown but was not saved to the history: {why}")


@st.fragment(run_every=0.5)
def _pending(result_key: str) -> None:
    """While the store writes (milliseconds, usually), look again twice a second; when it is done, redraw the page."""
    _, future, _ = st.session_state[f"{result_key}.saved"]
    if future.done():
        st.rerun()
    st.caption("Saving to the history…")


def downloads(reports: RunReport | list[RunReport], key: str, what: str = "this run") -> None:
    """The run's exports as three buttons: the JSON report (as ``run --json`` / ``compare --json`` print it), a
    Perfetto / Chrome trace and the calls as CSV. The last two are built only when clicked."""
    from agent_core.history import export
    name = key.replace(".", "-")
    left, middle, right = st.columns(3)
    left.download_button(f"Download {what} (JSON)", export.json_text(reports), file_name=f"{name}.json",
                         mime="application/json", key=f"{key}.download", on_click="ignore")
    middle.download_button(f"Download {what} (Perfetto trace)", lambda: json.dumps(export.perfetto(reports)),
                           file_name=f"{name}.trace.json", mime="application/json", key=f"{key}.perfetto",
                           help="open it at ui.perfetto.dev or chrome://tracing", on_click="ignore")
    right.download_button(f"Download {what} (CSV of calls)", lambda: export.csv_text(reports),
                          file_name=f"{name}.csv", mime="text/csv", key=f"{key}.csv", on_click="ignore")
