"""Playground: pick tools and a mode, press Run, and see where the time went.

Streamlit runs this file as ``__main__``; process-pool workers (forkserver/spawn) import it as
``__mp_main__``, so the page lives in ``main()`` under the guard and never runs in a worker.
"""
from __future__ import annotations

# Imported up front on purpose: lazy imports racing in two script threads broke the first click.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import streamlit as st


def main() -> None:
    from ui.measure import engine_warming
    engine_warming()        # first: the backend and the pool start while this script imports and draws the page
    import agent_core
    from agent_core import budget
    from ui import history, widgets
    from ui.measure import measure_into, run_button

    widgets.page("Playground", "Pick the tools of an agent turn and a concurrency mode, press **Run**, and see "
                 "where the time went. Every figure is measured on this machine: real HTTP calls to a local "
                 "backend, real SQLite commits, real CPU work, real child processes.")
    counts, params, mode = widgets.workload_controls("play", with_mode=True)
    options = widgets.run_options("play")
    baseline = st.checkbox("Also measure the sequential baseline first (gives the true speedup)", key="play.baseline")

    def plan():
        workload = agent_core.Workload.of(counts, params)      # bad values stop here, with what is allowed
        if baseline:                                            # so does a job over the page-job budget
            estimate = budget.estimate_compare(workload, [mode], **options)
            return (f"sequential, then {mode} · {workload.spec}", estimate.runs * workload.n_calls,
                    lambda emit: agent_core.compare(workload, [mode], on_record=emit, on_run=emit, **options)[-1],
                    estimate.checked(also="untick the sequential baseline"))
        return (f"{mode} · {workload.spec}", workload.n_calls,
                lambda emit: agent_core.run(workload, mode, on_record=emit, **options),
                budget.estimate_runs(workload, [{"mode": mode}], **options).checked())

    measured = measure_into("play", "play.report", plan, start=run_button("play", "Run"))
    history.save_new("play.report")     # hands a new report to the store's thread: returns at once
    if measured:
        results(mode)       # drawn now, so the charts reach the browser without waiting for the rerun,
        st.rerun()          # which only re-enables Run
    results(mode)


def results(mode: str) -> None:
    from ui import charts, history, widgets
    from ui.measure import show_error

    show_error("play")
    if (report := st.session_state.get("play.report")) is not None:
        history.save_status("play.report")
        widgets.report_view(report, "play")
    else:
        st.plotly_chart(charts.placeholder("Where the time went", "Press Run to measure this workload"),
                        key="play.placeholder", config={"displayModeBar": False})
    widgets.show_code(mode)


if __name__ == "__main__":
    main()
