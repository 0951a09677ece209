"""Failures: inject a fault into one call and watch each mode's failure boundary contain it, or not."""
from __future__ import annotations

import pandas as pd
import streamlit as st


def main() -> None:
    import agent_core
    from agent_core import budget
    from agent_core.catalog import CATALOG
    from agent_core.explain import explain_failure, failure_summary
    from agent_core.faults import FAULT_KINDS
    from agent_core.modes import MODES
    from ui import charts, history, widgets
    from ui.measure import engine_warming, measure_into, run_button, show_error

    widgets.page("Failures", "Agents call tools that fail: they raise, hang, crash, eat memory or spin. Pick a "
                 "fault and the tool that carries it (its first call), and run the same workload under every mode: "
                 "see what happened to the faulty call **and to the others**, how long it took to notice, and "
                 "what was still running afterwards. A crash that would take this app down runs in a "
                 "sacrificial child, so the loss is real and measured while the app lives on.")
    engine_warming()
    c1, c2, c3, c4 = st.columns(4)
    fault = c1.selectbox("Fault", FAULT_KINDS, index=FAULT_KINDS.index("crash"), key="fail.fault",
                         help="raise · hang (stops answering) · crash (a real segfault) · memory (allocates "
                              "until a limit) · spin (loops on the CPU without yielding)")
    tool = c2.selectbox("Tool that carries it", list(CATALOG), index=list(CATALOG).index("sandboxed_script"),
                        key="fail.tool", help="the fault rides on this tool's first call")
    seconds = c3.slider("Hang / spin lasts (s)", 1, 30, 5, key="fail.seconds")
    timeout = c4.slider("Timeout per call (s)", 0.5, 10.0, 2.0, step=0.5, key="fail.call_timeout")
    c5, c6 = st.columns([1, 3])
    on_error = c5.radio("When a call fails", ["keep-going", "cancel-siblings"], key="fail.on_error",
                        help="keep-going: gather(return_exceptions=True) · cancel-siblings: TaskGroup semantics")
    modes = c6.multiselect("Modes", MODES, default=list(MODES), key="fail.modes")
    counts, params, _ = widgets.workload_controls("fail", with_mode=False)
    if tool not in counts:
        counts = {**counts, tool: 1}
        st.caption(f"The workload has no {tool} call, so one is added to carry the fault.")

    def plan():
        if not modes:
            raise agent_core.BadInput("choose at least one mode")
        workload = agent_core.Workload.of(counts, params, {tool: (fault, float(seconds))})
        variants = [{"mode": m} for m in modes]
        return (f"{tool}:{fault} · {workload.spec}", len(modes) * workload.n_calls,
                lambda emit: agent_core.run_many(workload, variants, timeout_s=timeout,
                                                 on_error=on_error, on_record=emit, on_run=emit),
                budget.estimate_runs(workload, variants, timeout_s=timeout).checked(also="choose fewer modes"))

    start = run_button("fail", "Run the fault under every chosen mode")
    measured = measure_into("fail", "fail.reports", plan, start=start)
    history.save_new("fail.reports")
    if measured:
        st.rerun()
    show_error("fail")
    reports = st.session_state.get("fail.reports")
    if not reports:
        st.info("Pick a fault and press **Run**. Every mode runs the same workload, one at a time.")
        return
    history.save_status("fail.reports")
    st.subheader("What each mode did")
    rows = []
    for r in reports:
        s = failure_summary(r)
        rows.append({"mode": r.mode, "faulty call": s["faulty_status"],
                     "noticed after": f"{s['detected_after_s']:.2f} s",
                     "other calls kept": s["others_kept"], "other calls lost": s["others_lost"],
                     "the run's process": s["run_process"], "still running after": s["left_running"]})
    table = pd.DataFrame(rows)
    st.dataframe(table.style.map(_colour, subset=["faulty call", "other calls lost", "the run's process",
                                                  "still running after"]), hide_index=True)
    st.caption("Green: contained. Amber: noticed late or left something running. Red: results lost.")
    for r in reports:
        with st.expander(f"{r.mode}: {explain_failure(r)[:120]}…", expanded=False):
            st.markdown(explain_failure(r))
            st.plotly_chart(charts.timeline(r, title=f"{r.mode} · {r.wall_s:.2f} s"), key=f"fail.timeline.{r.mode}",
                            config={"displayModeBar": False})
            lag = charts.loop_lag(r, height=220)
            if lag is not None:
                st.plotly_chart(lag, key=f"fail.lag.{r.mode}", config={"displayModeBar": False})
    history.downloads(reports, "fail", what="these runs")


def _colour(value) -> str:
    text = str(value)
    red, amber, green = "background-color: #F8D7DA", "background-color: #FFF3CD", "background-color: #D4EDDA"
    if text in ("crashed", "error") or text.startswith("died") or (text.isdigit() and int(text) > 0):
        return red
    if text in ("timeout", "cancelled") or "abandoned" in text or "replaced" in text:
        return amber
    if text in ("ok", "0", "nothing") or text.startswith("survived"):
        return green
    return ""


if __name__ == "__main__":
    main()
