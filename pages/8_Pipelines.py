"""Pipelines: an agent turn as a graph of calls, each started once the calls it needs are done. Pick a pipeline and
its parameters, run it in one mode or every mode (as ready, with a barrier, or both side by side), and see the graph
with its critical path, each run's timeline with its dependency links, per-stage wall against Σ task time and each
llm_call's time to first token. Deep links: ``?pipeline=research_agent&mode=hybrid&k=3&schedule=both``."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects  # noqa: F401 - imported up front: lazy imports racing in two script threads
import streamlit as st

P = "pipe"
EVERY = "every mode"
SCHEDULES = {"ready": "each call as soon as its inputs are ready", "barrier": "stage by stage (a barrier)",
             "both": "both, side by side"}
BARRIERS = {"ready": (False,), "barrier": (True,), "both": (False, True)}
MAX_TIMELINES = 7           # more runs than this: the timelines drawn at first are those of the chosen run's mode
NOT_PARAMS = {"pipeline", "mode", "schedule"}       # the page's own query keys; any other names a parameter


def main() -> None:
    import agent_core
    from agent_core import budget
    from agent_core.modes import MODES
    from agent_core.pipelines import PIPELINES
    from ui import history, widgets
    from ui.measure import engine_warming, measure_into, run_button

    widgets.page("Pipelines", "An agent turn is a **graph**: a plan, searches that each feed a fetch, chunking and "
                 "a lookup, then a synthesis that needs them all. Every mode starts each call as soon as the calls "
                 "it needs are done; with a **barrier** it waits for the whole previous stage instead. No schedule "
                 "beats the **critical path**, the longest chain of calls that each needed the one before. Every "
                 "figure is measured live.")
    engine_warming()
    _init(PIPELINES, MODES)
    for line in st.session_state.get(f"{P}.query_errors", []):
        st.error(line)
    name, params, modes, barriers = _controls(PIPELINES, MODES)
    options = widgets.run_options(P)

    def plan():
        workload = agent_core.pipeline(name, params)           # bad values stop here, with what is allowed
        variants = [{"mode": m, "barrier": b} for m in modes for b in barriers]
        estimate = budget.estimate_runs(workload, variants, **options)
        also = "choose one mode" if len(modes) > 1 else ""
        if len(barriers) > 1:
            also += (", or " if also else "") + "run one schedule, not both"
        label = (f"{workload.spec} · {modes[0] if len(modes) == 1 else f'{len(modes)} modes'}"
                 + (" · as ready and with a barrier" if len(barriers) > 1 else " · barrier" if barriers[0] else ""))
        return (label, len(variants) * workload.n_calls,
                lambda emit: agent_core.run_many(workload, variants, on_record=emit, on_run=emit, **options),
                estimate.checked(also=also))

    start = run_button(P, "Run the pipeline")
    if start is not None:
        st.session_state.pop(f"{P}.query_errors", None)
    measured = measure_into(P, f"{P}.reports", plan, start=start)
    history.save_new(f"{P}.reports")        # the runs, as one group; returns at once
    if measured:
        results(name, params)   # drawn now, so the charts reach the browser without waiting for the rerun,
        st.rerun()              # which only re-enables Run
    results(name, params)


def _init(pipelines, modes) -> None:
    """First visit: every widget's value in session state, from the address where it names a known value; a bad
    value in the address is kept as one line each, shown as an error (the widget keeps its default)."""
    state = st.session_state
    if f"{P}.pipeline" in state:
        return
    from agent_core import BadInput
    errors = []
    query = {k: st.query_params.get(k) for k in st.query_params}
    name = query.get("pipeline", next(iter(pipelines)))
    if name not in pipelines:
        errors.append(f"The address asks for the pipeline {name!r}: allowed are {', '.join(pipelines)}.")
        name = next(iter(pipelines))
    state[f"{P}.pipeline"] = name
    for pname, spec in pipelines.items():
        for p in spec.params:
            state[f"{P}.{pname}.{p.name}"] = p.default
    spec = pipelines[name]
    for key, raw in query.items():
        if key in NOT_PARAMS:
            continue
        try:
            state[f"{P}.{name}.{key}"] = spec.param(key).check(name, raw)
        except BadInput as exc:
            errors.append(f"The address's {key}={raw!r} was not used: {exc}.")
    mode = query.get("mode", "hybrid")
    if mode not in (*modes, EVERY, "every"):
        errors.append(f"The address asks for the mode {mode!r}: allowed are {', '.join(modes)} or every.")
        mode = "hybrid"
    state[f"{P}.mode"] = EVERY if mode == "every" else mode
    schedule = query.get("schedule", "ready")
    if schedule not in SCHEDULES:
        errors.append(f"The address asks for the schedule {schedule!r}: allowed are {', '.join(SCHEDULES)}.")
        schedule = "ready"
    state[f"{P}.schedule"] = schedule
    for key, value in {"workers": 0, "timeout": 30.0, "seed": 0}.items():
        state[f"{P}.{key}"] = value
    state[f"{P}.query_errors"] = errors


def _controls(pipelines, modes) -> tuple[str, dict, list[str], tuple[bool, ...]]:
    """The pipeline, its parameters (widgets from its bounded Params), the modes and the schedules to run."""
    from agent_core.modes import get_mode
    left, right = st.columns([3, 2])
    with left:
        name = st.selectbox("Pipeline", list(pipelines), key=f"{P}.pipeline", help="an agent turn as a graph")
        spec = pipelines[name]
        st.caption(spec.summary)
        cols = st.columns(max(1, len(spec.params)))
        params = {}
        for col, p in zip(cols, spec.params, strict=True):
            key = f"{P}.{name}.{p.name}"
            label = p.name + (f" ({p.unit})" if p.unit else "")
            if p.choices:
                params[p.name] = col.selectbox(label, list(p.choices), key=key, help=p.help)
            elif p.type is int:
                params[p.name] = col.slider(label, int(p.lo), int(p.hi), step=1, key=key, help=p.help)
            else:
                params[p.name] = col.slider(label, float(p.lo), float(p.hi), key=key, help=p.help)
    with right:
        mode = st.selectbox("Mode", [*modes, EVERY], key=f"{P}.mode", help="where each call runs")
        st.caption(f"each mode once, one after another ({len(modes)} runs)" if mode == EVERY
                   else get_mode(mode).SUMMARY)
        schedule = st.radio("Start each call", list(SCHEDULES), key=f"{P}.schedule",
                            format_func=SCHEDULES.get, horizontal=True,
                            help="a barrier runs the graph in supersteps: a stage starts when the whole stage "
                                 "before it is done")
    chosen = list(modes) if mode == EVERY else [mode]
    return name, params, chosen, BARRIERS[schedule]


def results(name: str, params: dict) -> None:
    import agent_core
    from agent_core import BadInput, pipeline_study
    from agent_core.explain import explain_compare, explain_run
    from ui import history, pipeline_charts
    from ui.measure import show_error

    show_error(P)
    reports = st.session_state.get(f"{P}.reports")
    st.subheader("The graph")
    if not reports:
        try:
            workload = agent_core.pipeline(name, params)
        except BadInput as exc:
            st.error(str(exc))
            return
        _kinds_legend()
        st.graphviz_chart(pipeline_charts.graph_dot(pipeline_charts.workload_nodes(workload)), width="stretch")
        st.info(f"{len(workload.calls())} calls in {len(dict.fromkeys(c.stage for c in workload.calls()))} stages. "
                "Press **Run the pipeline** to measure it.")
        return
    history.save_status(f"{P}.reports")
    labels = [pipeline_charts.run_label(r) for r in reports]
    focus = reports[0]
    if len(reports) > 1:
        at = st.selectbox("The graph, stages and notes of the run", range(len(reports)),
                          key=f"{P}.focus.{reports[0].started_at}",    # a new measurement: a new choice
                          format_func=lambda i: f"{labels[i]} · {reports[i].wall_s:.2f} s")
        focus = reports[at if at is not None and at < len(reports) else 0]
    shape = focus.pipeline or {}
    st.caption(f"Measured: {shape.get('name', '?')}("
               + ",".join(f"{k}={v}" for k, v in (shape.get("params") or {}).items())
               + f") · {len(focus.tasks)} calls · {pipeline_charts.run_label(focus)} · wall {focus.wall_s:.3f} s · "
               f"critical path {focus.critical_path_s:.3f} s (thick, dark) · {focus.cores} cores")
    _kinds_legend()
    st.graphviz_chart(pipeline_charts.graph_dot(pipeline_charts.report_nodes(focus), focus.critical_path),
                      width="stretch")
    cols = st.columns(4)
    cols[0].metric("Wall-clock", f"{focus.wall_s:.3f} s", help="what the user waited for")
    cols[1].metric("Critical path", f"{focus.critical_path_s:.3f} s",
                   help="the longest chain of calls that each needed the one before: no schedule beats it")
    cols[2].metric("Σ task time", f"{focus.sum_task_s:.3f} s", help="every call's own wall time, added up")
    at = pipeline_study.answer_at(focus)
    cols[3].metric("Answer's first token", "—" if at is None else f"{at:.3f} s",
                   help="when the last llm_call's first token arrived, on the run's clock")
    st.subheader("What happened")
    st.markdown(" ".join(explain_run(focus)))
    if len(reports) > 1:
        st.markdown("  \n".join(explain_compare(reports)))
        st.plotly_chart(pipeline_charts.schedule_bars(reports), key=f"{P}.walls", config={"displayModeBar": False})
    shown = reports
    if len(reports) > 1:
        picked = st.multiselect("Timelines of", range(len(reports)), key=f"{P}.shown.{reports[0].started_at}",
                                default=[i for i, r in enumerate(reports) if len(reports) <= MAX_TIMELINES
                                         or r.mode == focus.mode], format_func=labels.__getitem__,
                                help="runs drawn one under the other on one time axis")
        shown = [reports[i] for i in picked if i < len(reports)] or [focus]
    st.plotly_chart(pipeline_charts.timelines(shown), key=f"{P}.timeline", config={"displayModeBar": False})
    st.plotly_chart(pipeline_charts.stage_bars(focus), key=f"{P}.stages", config={"displayModeBar": False})
    st.subheader("Time to first token of each llm_call")
    tokens = [{"run": label, **row} for label, r in zip(labels, reports, strict=True)
              for row in pipeline_study.first_tokens(r)]
    if tokens:
        st.dataframe(pd.DataFrame(tokens).rename(columns={
            "ttft_ms": "first token ms", "asked_ms": "asked ms", "first_token_at_s": "arrived at s",
            "tool_calls": "tool calls asked"}), hide_index=True)
    else:
        st.caption("No llm_call streamed a first token in these runs.")
    with st.expander("Records"):
        st.dataframe(pd.DataFrame([{
            "run": label, "id": t.id, "stage": t.stage, "tool": t.tool, "kind": t.kind, "worker": t.worker,
            "needs": ", ".join(t.deps), "status": t.status, "start ms": round(1000 * t.start_s, 1),
            "took ms": round(1000 * t.duration_s, 1), "cpu ms": round(1000 * t.cpu_s, 1), "error": t.error or ""}
            for label, r in zip(labels, reports, strict=True) for t in r.tasks]), hide_index=True)
    history.downloads(reports if len(reports) > 1 else reports[0], P,
                      what="these runs" if len(reports) > 1 else "this run")


def _kinds_legend() -> None:
    from ui.charts import KIND_COLOURS
    chips = " ".join(f'<span style="background:{colour};color:white;padding:1px 7px;border-radius:4px;'
                     f'font-size:0.8em">{kind}</span>' for kind, colour in KIND_COLOURS.items())
    st.markdown(f"{chips} <span style='font-size:0.8em;color:#555'>· each box a call (id, tool, seconds once "
                "run), boxed by stage; a dark outline and thick arrows: the critical path</span>",
                unsafe_allow_html=True)


if __name__ == "__main__":
    main()
