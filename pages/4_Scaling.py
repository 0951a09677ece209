"""Scaling: sweep the number of calls and the workers, and see where each mode bends."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st


def main() -> None:
    from agent_core import BadInput, budget, scaling
    from agent_core.modes import MODES, uses_http
    from agent_core.workload import HTTP_CLIENTS
    from ui import charts, widgets
    from ui.measure import engine_warming, measure_into, run_button, show_error

    widgets.page("Scaling", "Agents fan out: ten searches become a thousand, a pool is sized wrong, a subprocess is "
                 "started per call. This sweep runs an **I/O workload** (web searches: ideally the wall is one call's "
                 "latency, however many there are) and a **CPU workload** (pure-Python analysis: ideally its CPU time "
                 "spread over every core) at growing sizes, in every mode, and shows where each one bends away from "
                 "the ideal, and why. It is bounded in time: it measures one size at a time for every mode, and stops "
                 "before the first size that would break the budget, so every line covers the same sizes.")
    engine_warming()
    c1, c2, c3 = st.columns(3)
    kinds = c1.multiselect("Workloads", ["io", "cpu"], default=["io", "cpu"], key="scale.kinds")
    modes = c2.multiselect("Modes", MODES, default=list(MODES), key="scale.modes")
    top = c3.select_slider("Up to (calls)", options=[10, 30, 100, 300, 1000], value=1000, key="scale.top")
    c4, c5, c6 = st.columns(3)
    time_budget = c4.slider("Time budget (s)", 10, 120, 45, step=5, key="scale.budget")
    latency = c5.slider("I/O latency per call (ms)", 20, 500, 100, step=10, key="scale.latency")
    with_workers = c6.checkbox(f"Also sweep the workers (32 calls; CPU 1 → {scaling.workers_axis('cpu')[-1]}, "
                               f"I/O 1 → {scaling.workers_axis('io')[-1]})", value=True, key="scale.workers",
                               help="CPU work goes up to twice this machine's usable cores; only modes whose "
                                    "workers change how they run that kind of call take part")
    transports = st.multiselect("Async HTTP transports (the io sweep of " + ", ".join(m for m in MODES if uses_http(m))
                                + ": a line each)", list(HTTP_CLIENTS), default=list(HTTP_CLIENTS), key="scale.http",
                                help=" · ".join(f"**{k}**: {v}" for k, v in HTTP_CLIENTS.items()))

    def plan():
        if not kinds or not modes:
            raise BadInput("choose at least one workload and one mode")
        if not transports:
            raise BadInput(f"choose at least one async HTTP transport: {', '.join(HTTP_CLIENTS)}")
        sizes = [n for n in scaling.SIZES if n <= top]
        return (f"sweep · {', '.join(kinds)} · {len(modes)} modes · up to {top} calls", 1,
                lambda emit: scaling.sweep(kinds, modes, sizes, with_workers,
                                           budget_s=float(time_budget), latency_ms=int(latency),
                                           transports=transports, on_point=emit),
                budget.estimate_sweep(time_budget).checked())

    if measure_into("scale", "scale.points", plan, start=run_button("scale", "Run the sweep")):
        st.rerun()
    show_error("scale")
    points = st.session_state.get("scale.points")
    if not points:
        st.info("Press **Run the sweep**. The default sweep takes under a minute.")
        return
    st.subheader("What the sweep found")
    st.markdown("  \n".join(scaling.explain(points)))
    every = points                      # the charts below may show one transport's io series; the data has all
    swept = list(dict.fromkeys(p.http for p in points if p.workload == "io" and p.axis == "n" and p.http))
    if len(swept) > 1:
        st.plotly_chart(charts.scaling_transports(points), key="scale.transports", config={"displayModeBar": False})
        shown = st.radio("The io charts below, over", swept, horizontal=True, key="scale.http_shown")
        points = [p for p in points if p.workload != "io" or p.axis != "n" or p.http in (None, shown)]
    for kind in dict.fromkeys(p.workload for p in points):
        knees = scaling.knees([p for p in points if p.workload == kind])
        left, right = st.columns(2)
        left.plotly_chart(charts.scaling_wall(points, kind, knees), key=f"scale.wall.{kind}",
                          config={"displayModeBar": False})
        right.plotly_chart(charts.scaling_overhead(points, kind, knees), key=f"scale.overhead.{kind}",
                           config={"displayModeBar": False})
        if len({p.workers for p in points if p.workload == kind and p.axis == "workers" and p.wall_s is not None}) > 1:
            st.plotly_chart(charts.scaling_workers(points, kind), key=f"scale.workers.{kind}",
                            config={"displayModeBar": False})
    with st.expander("Every point"):
        st.dataframe(pd.DataFrame([p.to_dict() for p in every]), hide_index=True)
    st.download_button("Download the sweep (JSON)", json.dumps([p.to_dict() for p in every]),
                       file_name="scaling.json", mime="application/json", key="scale.download")


if __name__ == "__main__":
    main()
