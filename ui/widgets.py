"""Widgets shared by the pages: the workload picker, run options, metrics, the report view, the code view.

Keys are namespaced per page (``"play.count.web_search"``). Every value a widget allows is checked again
by the engine: the widgets only make the common choices easy.
"""
from __future__ import annotations

import datetime
import json
import os

import pandas as pd
import streamlit as st

import agent_core
from agent_core import machine, modes
from agent_core.catalog import CATALOG
from agent_core.explain import explain_physics, explain_run
from agent_core.modes import get_mode
from agent_core.presets import DEFAULT_PRESET, PRESETS
from agent_core.workload import DEFAULT_HTTP, HTTP_CLIENTS
from ui import charts, history, own_tools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATENCY_PARAMS = {"web_search": "latency_ms", "vector_lookup": "latency_ms", "legacy_sdk": "latency_ms",
                  "llm_call": "ttft_ms", "fetch_page": "latency_ms", "embed": "latency_ms"}


# Material icons render from Streamlit's own font, on any machine (emoji need the system's emoji font)
PAGES = (("app.py", "Playground", ":material/bolt:"), ("pages/1_Compare.py", "Compare modes", ":material/balance:"),
         ("pages/2_Failures.py", "Failures", ":material/crisis_alert:"),
         ("pages/3_Event_loop.py", "Event loop", ":material/monitor_heart:"),
         ("pages/4_Scaling.py", "Scaling", ":material/trending_up:"),
         ("pages/5_Guide.py", "Guide", ":material/explore:"), ("pages/6_History.py", "History", ":material/history:"),
         ("pages/7_Pipelines.py", "Pipelines", ":material/account_tree:"),
         ("pages/8_Claims.py", "Claims", ":material/fact_check:"))


def navigation() -> None:
    """The sidebar's page list (Streamlit's own would call the entry page "app")."""
    with st.sidebar:
        st.markdown("**Python concurrency for agents**")
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.caption("Every figure is measured live on the machine serving this app: " + machine.describe() + ".")


def page(title: str, intro: str) -> None:
    """Every page's start: its config (the first Streamlit call of the script), the navigation, title, intro.
    Before any picker reads the catalog: the user's own tools, if the server was started with
    ``AGENT_CORE_TOOLS_FROM`` (loaded once per process; a bad file is one error line here)."""
    icon = next(icon for _, label, icon in PAGES if label == title)
    st.set_page_config(page_title=f"{title} · Python concurrency for agents", page_icon=icon, layout="wide")
    navigation()
    st.title(title)
    st.markdown(intro)
    own_tools.show_status()


# (tool, parameter) -> the slider that sets it; a preset may set them, the user may move them
SLIDERS = {("llm_call", "tokens"): "tokens", ("analysis", "work"): "work", ("memory_write", "rows"): "rows"}
DEFAULTS = {"latency": 300, "workers": 0, "timeout": 30.0, "seed": 0,
            **{key: CATALOG[tool].param(name).default for (tool, name), key in SLIDERS.items()}}


def _apply_preset(prefix: str) -> None:
    preset = PRESETS[st.session_state[f"{prefix}.preset"]]
    for tool in CATALOG:
        st.session_state[f"{prefix}.count.{tool}"] = preset.counts.get(tool, 0)
    for (tool, name), key in SLIDERS.items():
        st.session_state[f"{prefix}.{key}"] = preset.params.get(tool, {}).get(name, DEFAULTS[key])
    st.session_state[f"{prefix}.mode"] = preset.mode


def _init(prefix: str, default_preset: str) -> None:
    """First visit: every widget's value in session state (so no widget also passes a default)."""
    if f"{prefix}.preset" in st.session_state:
        return
    for key, value in DEFAULTS.items():
        st.session_state[f"{prefix}.{key}"] = value
    wanted = st.query_params.get("preset", default_preset)
    st.session_state[f"{prefix}.preset"] = wanted if wanted in PRESETS else default_preset
    _apply_preset(prefix)
    if (mode := st.query_params.get("mode")) in modes.MODES:
        st.session_state[f"{prefix}.mode"] = mode


def workload_controls(prefix: str, with_mode: bool, default_preset: str = DEFAULT_PRESET
                      ) -> tuple[dict[str, int], dict[str, dict], str | None]:
    """Preset, calls per tool, main parameters (and the mode). Returns (counts, params, mode)."""
    _init(prefix, default_preset)
    left, right = st.columns([3, 2])
    with left:
        st.selectbox("Preset", list(PRESETS), key=f"{prefix}.preset", format_func=lambda k: PRESETS[k].name,
                     on_change=_apply_preset, args=(prefix,), help="a workload that demonstrates one point")
        st.caption(PRESETS[st.session_state[f"{prefix}.preset"]].point)
    mode = None
    if with_mode:
        with right:
            mode = st.selectbox("Mode", modes.MODES, key=f"{prefix}.mode", help="where each call runs")
            st.caption(get_mode(mode).SUMMARY)
    with st.expander("Calls per tool", expanded=False):
        cols = st.columns(4)
        for i, (tool, spec) in enumerate(CATALOG.items()):
            yours = ", yours" if own_tools.is_yours(tool) else ""
            cols[i % 4].number_input(f"{tool} ({spec.kind}{yours})", 0, spec.max_calls, step=1,
                                     key=f"{prefix}.count.{tool}", help=spec.summary)
    with st.expander("Parameters", expanded=False):
        c1, c2, c3, c4 = st.columns(4)
        c1.slider("Network latency (ms)", 0, 2000, step=50, key=f"{prefix}.latency",
                  help="server-side latency of search, vector and SDK calls; the LLM's time to first token")
        c2.slider("LLM tokens", 1, 400, key=f"{prefix}.tokens", help="streamed at 160 tokens/s")
        c3.slider("Analysis work (words)", 10_000, 1_000_000, step=10_000, key=f"{prefix}.work",
                  help="pure-Python CPU work: ~0.85 µs per word here")
        c4.slider("Memory rows per write", 1, 100_000, step=100, key=f"{prefix}.rows",
                  help="rows each sqlite3 commit persists")
    yours = own_tools.param_controls(prefix)
    state = st.session_state
    counts = {tool: int(state[f"{prefix}.count.{tool}"]) for tool in CATALOG if state[f"{prefix}.count.{tool}"]}
    params: dict[str, dict] = {tool: {name: state[f"{prefix}.latency"]} for tool, name in LATENCY_PARAMS.items()}
    for (tool, name), key in SLIDERS.items():
        params.setdefault(tool, {})[name] = state[f"{prefix}.{key}"]
    return counts, {**params, **yours}, mode


def run_options(prefix: str) -> dict:
    """Workers, timeout, seed (0 workers: the mode's own default) and the async HTTP transport."""
    st.session_state.setdefault(f"{prefix}.http", DEFAULT_HTTP)     # a page that set up the others itself
    with st.expander("Run options", expanded=False):
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Workers (0 = the mode's default)", 0, 64, key=f"{prefix}.workers",
                        help="pool size, or the asyncio concurrency cap")
        c2.number_input("Timeout per call (s)", 0.1, 60.0, step=1.0, key=f"{prefix}.timeout")
        c3.number_input("Seed", 0, 2**31 - 1, key=f"{prefix}.seed", help="latency jitter and generated text")
        c4.selectbox("Async HTTP transport", list(HTTP_CLIENTS), key=f"{prefix}.http",
                     help="what carries the io calls awaited on an event loop (modes: "
                          f"{', '.join(m for m in modes.MODES if modes.uses_http(m))}); elsewhere io calls use a "
                          "sync httpx client. " + " · ".join(f"**{k}**: {v}" for k, v in HTTP_CLIENTS.items()))
    state = st.session_state
    return {"workers": int(state[f"{prefix}.workers"]) or None, "timeout_s": float(state[f"{prefix}.timeout"]),
            "seed": int(state[f"{prefix}.seed"]), "http": state[f"{prefix}.http"]}


def metrics(r: agent_core.RunReport) -> None:
    cols = st.columns(6)
    cols[0].metric("Wall-clock", f"{r.wall_s:.3f} s", help="what the user waited for")
    cols[1].metric("Σ task time", f"{r.sum_task_s:.3f} s", help="every call's own wall time, added up")
    cols[2].metric("Σ CPU time", f"{r.sum_cpu_s:.3f} s", help="CPU the calls really used")
    floor = ("the longest chain of calls that each needed the one before: the floor" if r.pipeline
             else "the longest single call: the floor")
    cols[3].metric("Critical path", f"{r.critical_path_s:.3f} s", help=floor)
    true = f" · true ×{r.true_speedup:.2f}" if r.true_speedup is not None else ""
    true += " · flagged by the physics check below" if r.physics else ""
    cols[4].metric("Speedup", f"×{r.speedup:.2f}", help="apparent: Σ task time / wall-clock" + true)
    lag = r.loop_lag_max_ms
    cols[5].metric("Max loop lag", "—" if lag is None else f"{lag:.1f} ms",
                   help="how late the event-loop heartbeat woke (no loop in this process: —)")


def records_frame(r: agent_core.RunReport) -> pd.DataFrame:
    return pd.DataFrame([{"id": t.id, "tool": t.tool, "kind": t.kind, "worker": t.worker, "status": t.status,
                          "start ms": round(1000 * t.start_s, 1), "took ms": round(1000 * t.duration_s, 1),
                          "cpu ms": round(1000 * t.cpu_s, 1), "error": t.error or "",
                          "detail": json.dumps(t.detail)[:200]} for t in r.tasks])


def snippet_path(mode: str) -> str:
    """The file that shows ``mode``'s minimal code: ``snippets/<its SNIPPET>.py``."""
    return os.path.join(ROOT, "snippets", f"{get_mode(mode).SNIPPET}.py")


def show_code(mode: str) -> None:
    path = snippet_path(mode)
    with st.expander(f"The minimal code for {mode} ({os.path.relpath(path, ROOT)}, executed by the tests)"):
        with open(path, encoding="utf-8") as f:
            st.code(f.read(), language="python")


def _uses_http(mode: str) -> bool:
    return mode in modes.MODES and modes.uses_http(mode)      # a saved run may name a mode this app lacks


def report_view(r: agent_core.RunReport, key: str) -> None:
    """Everything a run showed: metrics, the design card's chart, the timeline, the explanation, the data and
    its exports."""
    when = datetime.datetime.fromtimestamp(r.started_at).strftime("%H:%M:%S.%f")[:-3]
    http = f" · async HTTP over {r.options['http']}" if r.options.get("http") and _uses_http(r.mode) else ""
    st.caption(f"Measured at {when} · {len(r.tasks)} calls · {r.mode}{http} · set-up before the clock "
               f"{1000 * r.setup_s:.0f} ms · {r.cores} cores")
    metrics(r)
    for sentence in explain_physics(r):         # a figure this machine could not produce, and why
        st.warning(sentence, icon=":material/report:")
    if r.true_speedup is not None and abs(r.speedup - r.true_speedup) > 0.25 * r.true_speedup:
        st.info(f"Apparent ×{r.speedup:.2f} but true ×{r.true_speedup:.2f}: the calls looked longer because they "
                "waited (for the GIL, a worker or the loop), not because they worked.")
    st.plotly_chart(charts.wall_vs_sum(r), key=f"{key}.wall", config={"displayModeBar": False})
    st.plotly_chart(charts.timeline(r), key=f"{key}.timeline", config={"displayModeBar": False})
    lag = charts.loop_lag(r)
    if lag is not None:
        st.plotly_chart(lag, key=f"{key}.lag", config={"displayModeBar": False})
    st.subheader("What happened")
    st.markdown(" ".join(explain_run(r)))
    with st.expander("Records"):
        st.dataframe(records_frame(r), hide_index=True)
    history.downloads(r, key)
