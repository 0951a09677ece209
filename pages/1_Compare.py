"""Compare modes: the same workload under every mode, one at a time, ranked and explained."""
from __future__ import annotations

import pandas as pd
import streamlit as st


def main() -> None:
    import agent_core
    from agent_core import budget
    from agent_core.explain import explain_compare
    from agent_core.modes import MODES
    from ui import charts, history, widgets
    from ui.measure import engine_warming, measure_into, run_button, show_error

    widgets.page("Compare modes", f"The same workload under all {len(MODES)} modes, **one mode at a time** "
                 "(two at once would distort each other), sequential first as the baseline for every true speedup.")
    engine_warming()
    counts, params, _ = widgets.workload_controls("compare", with_mode=False)
    options = widgets.run_options("compare")

    def plan():
        workload = agent_core.Workload.of(counts, params)
        return (f"{len(MODES)} modes · {workload.spec}", len(MODES) * workload.n_calls,
                lambda emit: agent_core.compare(workload, MODES, on_record=emit, on_run=emit, **options),
                budget.estimate_compare(workload, MODES, **options).checked())

    measured = measure_into("compare", "compare.reports", plan, start=run_button("compare", "Run every mode"))
    history.save_new("compare.reports")     # the comparison, as one group; returns at once
    if measured:
        st.rerun()
    show_error("compare")
    reports = st.session_state.get("compare.reports")
    if not reports:
        st.info("Choose a workload and press **Run every mode**.")
        return
    history.save_status("compare.reports")
    ranked = sorted(reports, key=lambda r: r.wall_s)
    st.subheader("Ranking")
    st.dataframe(pd.DataFrame([{
        "rank": i + 1, "mode": r.mode, "wall s": round(r.wall_s, 3), "true speedup": round(r.true_speedup or 0, 2),
        "physics check": "; ".join(f["check"] for f in r.physics),
        "apparent speedup": round(r.speedup, 2), "Σ task s": round(r.sum_task_s, 3), "Σ CPU s": round(r.sum_cpu_s, 3),
        "max loop lag ms": None if r.loop_lag_max_ms is None else round(r.loop_lag_max_ms, 1),
        "ok": f"{r.statuses.get('ok', 0)}/{len(r.tasks)}"} for i, r in enumerate(ranked)]), hide_index=True)
    st.markdown("  \n".join(explain_compare(reports)))
    left, right = st.columns(2)
    left.plotly_chart(charts.compare_bars(reports), key="compare.bars", config={"displayModeBar": False})
    right.plotly_chart(charts.speedup_bars(reports), key="compare.speedup", config={"displayModeBar": False})
    st.subheader("Timelines")
    st.caption("Every timeline is drawn on the same time axis, the slowest run's: a shorter run draws shorter.")
    cols = st.columns(2)
    for i, (r, fig) in enumerate(zip(reports, charts.timelines(reports), strict=True)):
        cols[i % 2].plotly_chart(fig, key=f"compare.timeline.{r.mode}", config={"displayModeBar": False})
    history.downloads(reports, "compare", what="the comparison")


if __name__ == "__main__":
    main()
