"""Guide: which primitive for which kind of tool, generated from the catalog, linked to the presets; and, when the
server was started with ``AGENT_CORE_TOOLS_FROM`` (local use only), the user's own tools and their measured kinds."""
from __future__ import annotations

import pandas as pd
import streamlit as st


def main() -> None:
    from agent_core import usertools
    from agent_core.catalog import CATALOG, KINDS, PRIMITIVES
    from agent_core.modes import MODES, get_mode
    from agent_core.presets import PRESETS
    from ui import own_tools, widgets

    widgets.page("Guide", "Each tool an agent calls has a *kind*, and each kind calls for a different "
                 "primitive. This page is generated from the engine's catalog; every preset opens the "
                 "Playground with a workload that demonstrates the point.")
    st.dataframe(pd.DataFrame([{
        "kind": kind, "what it is": what, "use": PRIMITIVES[kind],
        "tools": ", ".join(name for name, spec in CATALOG.items() if spec.kind == kind),
        "presets": ", ".join(p.name for p in PRESETS.values() if kind in p.kinds)} for kind, what in KINDS.items()]),
        hide_index=True)
    for kind, what in KINDS.items():
        st.subheader(f"{kind}: {PRIMITIVES[kind]}")
        st.markdown(f"*{what}.*")
        for name, spec in CATALOG.items():
            if spec.kind == kind:
                yours = (f" (yours, from {usertools.where(spec.origin, own_tools.ROOT)})" if own_tools.is_yours(name)
                         else "")
                st.markdown(f"- `{name}`{yours}: {spec.summary}")
        demos = [p for p in PRESETS.values() if kind in p.kinds]
        cols = st.columns(max(1, len(demos)))
        for col, preset in zip(cols, demos, strict=False):
            with col:
                st.page_link("app.py", label=f"{preset.name} in {preset.mode}", icon=":material/play_arrow:",
                             query_params={"preset": preset.key, "mode": preset.mode})
                st.caption(preset.point)
    free_threading()
    st.subheader(f"The {len(MODES)} modes")
    st.dataframe(pd.DataFrame([{"mode": m, "what it does": get_mode(m).SUMMARY,
                                **{f"lane for {kind}": get_mode(m).ROUTES[kind] for kind in KINDS}}
                               for m in MODES]), hide_index=True)
    your_tools()


FREE_THREADED = """Python 3.13 and later also come as a *free-threaded* build (`python3.13t`, `python3.14t`) that can
run without the GIL. What changes there:

- **Threads run CPU work in parallel.** Pure-Python `cpu` calls in a thread pool spread over the cores, as a process
  pool's do here, without pickling their arguments or starting processes; the threads mode stops bending at one core.
- **Single-threaded code gets slower.** Reference counts and the interpreter's own structures are made safe for
  threads on every run, so the sequential baseline and the event loop's own work pay for it.
- **`io` calls change little**: they already overlap while they wait, with the GIL or without it.
- **An extension module can turn the GIL back on** for the whole process if it does not declare itself safe without
  it (`sys._is_gil_enabled()` then says True): check it where you run, as the line below does."""


def free_threading() -> None:
    """What a free-threaded build changes, and whether this machine measured any of it (it says which)."""
    from agent_core import machine
    g = machine.gil()
    st.subheader("On a free-threaded Python")
    st.markdown(FREE_THREADED)
    if g.enabled:
        st.warning(f"**Not measured on this machine.** This server's Python runs with the GIL ({g.line}), so every "
                   "figure on these pages was measured with the GIL, and none of the above is shown by them.")
    else:
        st.info(f"**This server runs without the GIL** ({g.line}): the other pages measure threads on CPU work "
                "without it. The single-thread slowdown is **not measured here**: there is no build with the GIL "
                "beside this one to compare with.")


HOW_TO = """**Measure your own agent's tools** (on your machine, never on a public deployment: only whoever starts the
server can give it code). Start the app with the file of your tools in `AGENT_CORE_TOOLS_FROM`:

```bash
AGENT_CORE_TOOLS_FROM=examples/my_tools.py streamlit run app.py
```

and they appear in every page's pickers and here, with a **Classify** button that measures each one's kind. From
the command line:

```bash
python -m agent_core classify --tools-from examples/my_tools.py
python -m agent_core run --tools-from examples/my_tools.py --mode hybrid \\
    --tools fetch_ticket:4,crm_lookup:3,score_reply:2,flaky_search:4
```

How to write the file (the `@agent_core.tool` decorator or plain functions, `ctx`, what must be importable) and how
to read a verdict: the README's section *Measure your own agent's tools*."""

EVIDENCE = {"coroutine": "async", "wall_ms": "wall ms", "cpu_ms": "CPU ms", "cpu_share": "CPU share",
            "cpu_available": "CPU a thread got", "two_in_threads_x": "2 in threads ×", "gil_held": "GIL held",
            "loop_lag_ms": "loop lag ms", "runs": "runs", "errors": "errors", "cores": "cores"}


def your_tools() -> None:
    """The user's tools and their measured kinds; without ``AGENT_CORE_TOOLS_FROM``, how to use them locally."""
    from agent_core import budget, usertools
    from agent_core.classifier import MAX_RUNS, classify
    from agent_core.scaling import Progress
    from ui import charts, own_tools
    from ui.measure import measure_into, run_button, show_error

    if own_tools.load_once() is None:
        st.info(HOW_TO)
        return
    st.subheader("Your tools")
    names = usertools.user_tools()
    if not names:
        st.caption("None of your tools loaded: the error above says why. Fix the file, then restart the server.")
        return
    st.caption(f"Loaded from `{own_tools.ENV}` when this server started. The kind each one runs as is the one its "
               "author declared, else io for an async function and blocking for the rest; **Classify** measures "
               "what each one really does, at its parameters' defaults.")
    st.dataframe(own_tools.tools_frame(names), hide_index=True)
    if "guide.runs" not in st.session_state:
        st.session_state["guide.runs"] = 3
    runs = int(st.number_input("Runs of each tool alone", 1, MAX_RUNS, step=1, key="guide.runs",
                               help="each tool also runs once to warm up, twice at once in threads and once on an "
                                    "event loop"))

    def plan():
        tools = usertools.user_tools()

        def job(emit):
            step = iter(range(len(tools)))
            return classify(tools, runs=runs,
                            progress=lambda text: emit(Progress(next(step, len(tools)), len(tools), text)))

        return (f"classify · {len(tools)} tools · {runs} runs each", len(tools), job,
                budget.estimate_classify(tools, runs).checked(also="fewer runs"))

    if measure_into("guide", "guide.verdicts", plan, start=run_button("guide", "Classify")):
        st.rerun()
    show_error("guide")
    verdicts = st.session_state.get("guide.verdicts")
    if not verdicts:
        st.caption("Press **Classify**: each tool runs alone, two at once in two threads, and on an event loop "
                   "beside a heartbeat, one after another.")
        return
    st.dataframe(verdicts_frame(verdicts), hide_index=True)
    for v in verdicts:
        if v.contradicts:
            st.warning(f"`{v.name}` is declared **{v.declared}** but measured **{v.kind}**: its calls run where "
                       f"{v.declared} calls go until you change its declaration.")
    st.markdown("\n".join(f"- {v.reason}" for v in verdicts))
    left, right = st.columns(2)
    left.plotly_chart(charts.classify_map(verdicts), key="guide.map", config={"displayModeBar": False})
    right.plotly_chart(charts.classify_threads(verdicts), key="guide.threads", config={"displayModeBar": False})
    st.caption("isolated is never a measurement: it is a decision about trust (the code may hang, crash or eat "
               "memory), so a tool declared isolated stays isolated. The pages now estimate your tools' calls "
               "from these measurements.")


def verdicts_frame(verdicts) -> pd.DataFrame:
    rows = []
    for v in verdicts:
        row = {"tool": v.name, "declared": v.declared or "not declared", "measured": v.kind,
               "agrees": "—" if v.declared is None else ("no ⚠" if v.contradicts else "yes")}
        row.update({label: v.evidence[key] for key, label in EVIDENCE.items() if key in v.evidence})
        row.update({key: value for key, value in v.evidence.items()
                    if key not in EVIDENCE and isinstance(value, (int, float, str, bool))})
        rows.append(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
