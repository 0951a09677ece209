"""Event loop: the heartbeat of the loop, in asyncio vs hybrid, and three ways to write to SQLite from a loop."""
from __future__ import annotations

import pandas as pd
import streamlit as st

VARIANTS = [({"mode": "asyncio"}, "sqlite3 on the loop"), ({"mode": "asyncio", "async_twins": True}, "aiosqlite"),
            ({"mode": "hybrid"}, "sqlite3 in a thread")]


def main() -> None:
    import agent_core
    from agent_core import budget
    from ui import charts, history, widgets
    from ui.measure import engine_warming, measure_into, run_button, show_error

    widgets.page("Event loop", "A heartbeat task asks the event loop to wake it every 5 ms and notes how late "
                 "it wakes. While a blocking call or CPU work runs on the loop's thread, nothing else can run: "
                 "the heartbeat flat-lines for as long as the call, and every awaited call waits behind it. "
                 "The shaded bands are the calls that ran on the loop without awaiting.")
    engine_warming()
    state = st.session_state
    counts, params, _ = widgets.workload_controls("loop", with_mode=False, default_preset="sdk_trap")
    timeout = st.slider("Timeout per call (s)", 1, 30, 10, key="loop.call_timeout")
    left, right = st.columns(2)
    with left:
        job = run_button("loop", "Run in asyncio and in hybrid", job="modes")
    with right:
        run_button("loop", "Compare three ways to write SQLite from a loop", job="sqlite", key="loop.sqlite",
                   primary=False)

    def plan():
        if job == "modes":
            workload = agent_core.Workload.of(counts, params)
            variants = [{"mode": "asyncio"}, {"mode": "hybrid"}]
        else:
            workload = agent_core.Workload.of({"web_search": 6, "memory_write": 6},
                                              {"memory_write": {"rows": 20_000}, "web_search": {"latency_ms": 150}})
            variants = [v for v, _ in VARIANTS]
        return (f"{len(variants)} runs · {workload.spec}", len(variants) * workload.n_calls,
                lambda emit: agent_core.run_many(workload, variants, timeout_s=float(timeout), on_record=emit,
                                                 on_run=emit),
                budget.estimate_runs(workload, variants, timeout_s=float(timeout)).checked())

    measured = measure_into("loop", "loop.reports" if job == "modes" else "loop.sqlite_reports", plan, start=job)
    for key in ("loop.reports", "loop.sqlite_reports"):
        history.save_new(key)
    if measured:
        st.rerun()
    show_error("loop")
    reports = state.get("loop.reports")
    if reports:
        history.save_status("loop.reports")
        cols = st.columns(2)
        for col, r in zip(cols, reports, strict=False):
            col.metric(f"{r.mode}: max loop lag", f"{r.loop_lag_max_ms:.1f} ms", help="the heartbeat's worst lateness")
        modes = [r.mode for r in reports]
        st.plotly_chart(charts.lag_overlay(reports, modes, f"Heartbeat · {' and '.join(modes)}", height=360),
                        key="loop.lag", config={"displayModeBar": False})
        st.caption("Both runs on one time axis and one lag axis" + (
            f" (logarithmic: lags {charts.LOG_WHEN:g} times apart and more are both readable; under "
            f"{charts.LAG_FLOOR_MS:g} ms, noise, a beat is drawn at {charts.LAG_FLOOR_MS:g} ms)"
            if charts.lag_axis_is_log(reports) else "") + ". While a loop is frozen no beat arrives: its line "
            "resumes with the beat that waited, that late. A shaded band is a call that ran on that run's loop.")
        titles = [f"{r.mode} · timeline" for r in reports]
        for col, r, fig in zip(st.columns(2), reports, charts.timelines(reports, titles, height=320), strict=False):
            col.plotly_chart(fig, key=f"loop.timeline.{r.mode}", config={"displayModeBar": False})
        a, h = reports
        blocked = charts.blocking_spans(a)
        if blocked:
            st.markdown(f"In **asyncio**, {len(blocked)} call(s) ran on the loop's thread "
                        f"({', '.join(sorted({t.tool for t in blocked}))}) and the heartbeat was up to "
                        f"{a.loop_lag_max_ms:.0f} ms late. In **hybrid** the same calls ran on threads and processes: "
                        f"the heartbeat was never more than {h.loop_lag_max_ms:.0f} ms late.")
        history.downloads(reports, "loop", what="these runs")
    sqlite = state.get("loop.sqlite_reports")
    if sqlite:
        st.subheader("Three ways to write to SQLite from an event loop")
        history.save_status("loop.sqlite_reports")
        labels = [label for _, label in VARIANTS]
        st.plotly_chart(charts.lag_overlay(sqlite, labels, "Heartbeat while 6 memory writes and 6 searches run"),
                        key="loop.sqlite.lag", config={"displayModeBar": False})
        st.dataframe(pd.DataFrame([{"how": label, "max loop lag ms": round(r.loop_lag_max_ms, 1),
                                    "wall s": round(r.wall_s, 3),
                                    "search mean ms": round(1000 * sum(t.duration_s for t in r.tasks if t.kind == "io")
                                                            / max(1, sum(t.kind == "io" for t in r.tasks)), 1)}
                                   for r, label in zip(sqlite, labels, strict=True)]), hide_index=True)
        st.caption("sqlite3 on the loop blocks it for every commit; aiosqlite runs the same statements on a thread of "
                   "its own and awaits them; the hybrid mode hands the blocking call to a thread pool.")
        history.downloads(sqlite, "loop.sqlite", what="these three runs")


if __name__ == "__main__":
    main()
