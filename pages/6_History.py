"""History: the runs the app and the command line saved. Filter them, open one, put two side by side on one time
axis, delete, and import a report measured elsewhere. Deep links: ``?run=ID``, ``?a=ID&b=ID``."""
from __future__ import annotations

import datetime

import pandas as pd
import streamlit as st

ANY = "any"
PICK = "hist.pick"


def main() -> None:
    from agent_core.history import DEFAULT_MAX_RUNS
    from ui import history, widgets

    widgets.page("History", "The runs measured on this machine (by every page, and by `python -m agent_core run "
                 "--save`), kept in a local SQLite file. Open one to see it as the Playground showed it, or pick "
                 "two to see them side by side on one time axis, with what differs computed from their numbers. "
                 "A report downloaded elsewhere (its JSON) can be imported and compared with a run of yours.")
    store, why = history.store()
    if store is None:
        st.info(f"{why} Runs are measured and shown as usual, but none is kept.")
        return
    if store.warning:
        st.warning(store.warning)
    _import(store)
    everything = store.list(limit=DEFAULT_MAX_RUNS)
    entries = _filtered(store, everything)
    _table(entries, len(everything))
    picked = _pick(store, entries)
    if len(picked) == 1:
        _one(store, picked[0])
    elif len(picked) == 2:
        _two(store, *picked)


def _when(entry) -> str:
    return datetime.datetime.fromtimestamp(entry.saved_at).strftime("%Y-%m-%d %H:%M:%S")


def _machine(entry) -> str:
    m = entry.machine or {}
    if not m.get("hostname"):
        return "an unknown machine" + (f" · {m['cores']} cores" if m.get("cores") else "")
    gil = " · no GIL" if m.get("gil") is False else ""
    return f"{m['hostname']} · {m.get('cores', '?')} cores · Python {m.get('python', '?')}{gil}"


def _name(entry) -> str:
    return f"#{entry.id}" + (f" ({entry.label})" if entry.label else "")


def _import(store) -> None:
    """A JSON report measured elsewhere → the store (bounded size, parsed and validated by the store): one line."""
    from agent_core import BadInput
    from ui import history
    from ui.history import MAX_UPLOAD_MB
    state = st.session_state
    with st.expander("Import a report measured elsewhere (JSON)", expanded=bool(state.get("hist.import_note"))):
        upload = st.file_uploader(f"A report as a page's JSON download or `run --json` / `compare --json` print it, "
                                  f"at most {MAX_UPLOAD_MB} MB", type=["json"], key="hist.upload",
                                  max_upload_size=MAX_UPLOAD_MB)
        if upload is not None and upload.file_id != state.get("hist.imported"):
            state["hist.imported"] = upload.file_id         # each upload is imported once, not on every rerun
            try:
                if upload.size > MAX_UPLOAD_MB * 2**20:
                    raise BadInput(f"{upload.name} is {upload.size / 2**20:.1f} MB; at most {MAX_UPLOAD_MB} MB "
                                   "is allowed")
                try:
                    text = upload.getvalue().decode("utf-8")
                except UnicodeDecodeError:
                    raise BadInput(f"{upload.name} is not UTF-8 text; expected a JSON report") from None
                ids = store.import_json(text)
                history.mark_yours(ids)
            except BadInput as exc:
                state["hist.import_note"] = ("error", f"Nothing imported: {exc}")
            else:
                mine = [i for i in state.get(PICK, [])[:1] if i not in ids]
                state[PICK] = (mine + ids[:1])[:2]          # beside the run already open, if one was
                state["hist.import_note"] = ("success", f"{upload.name} imported as run"
                                             f"{'s' * (len(ids) > 1)} " + ", ".join(f"#{i}" for i in ids)
                                             + (f", shown beside #{mine[0]}." if mine else "."))
        elif upload is None:
            state.pop("hist.import_note", None)
        if note := state.get("hist.import_note"):
            (st.error if note[0] == "error" else st.success)(note[1])


def _filtered(store, everything: list) -> list:
    """The four filters, their choices taken from the saved runs (modes from the registry first)."""
    from agent_core.modes import MODES
    modes = list(MODES) + sorted({e.mode for e in everything} - set(MODES))
    specs = sorted({e.spec for e in everything})
    labels = sorted({e.label for e in everything if e.label})
    machines = sorted({e.machine.get("hostname") for e in everything if e.machine} - {None})
    cols = st.columns(4)
    mode = cols[0].selectbox("Mode", [ANY, *modes], key="hist.mode")
    spec = cols[1].selectbox("Workload", [ANY, *specs], key="hist.spec")
    label = cols[2].selectbox("Label", [ANY, *labels], key="hist.label")
    machine = cols[3].selectbox("Machine", [ANY, *machines], key="hist.machine")
    chosen = {k: v for k, v in {"mode": mode, "spec": spec, "label": label, "machine": machine}.items()
              if v not in (ANY, None)}
    return store.list(**chosen, limit=len(everything) or 1) if chosen else everything


def _table(entries: list, total: int) -> None:
    if not total:
        st.info("No run saved yet: press **Run** on any page, and it appears here.")
        return
    st.caption(f"{len(entries)} of the {total} saved runs, newest first")
    st.dataframe(pd.DataFrame([{
        "run": e.id, "saved": _when(e), "label": e.label or "", "mode": e.mode, "workload": e.spec,
        "wall s": round(e.wall_s, 3), "calls ok": f"{e.ok_calls}/{e.n_calls}", "machine": _machine(e),
        "version": e.version, "source": e.source, "comparison": e.group or ""} for e in entries]),
        hide_index=True, key="hist.table")


def _from_url() -> tuple[tuple[int, ...], str | None]:
    """The runs the address asks for (?run=ID, or ?a=ID&b=ID) and, for a bad value, one line saying so."""
    q = st.query_params
    wanted = [q["run"]] if "run" in q else [q[k] for k in ("a", "b") if k in q]
    try:
        return tuple(int(v) for v in wanted), None
    except ValueError:
        return (), (f"The address asks for run {', '.join(wanted)}: a run is named by its number, e.g. ?run=3 or "
                    "?a=3&b=4")


def _pick(store, entries: list) -> list[int]:
    """Which runs are open: the multiselect, initialised from (and kept in) the address."""
    from agent_core import BadInput
    from ui import history
    state = st.session_state
    wanted, bad = _from_url()
    if bad:
        st.error(bad)
    if wanted != state.get("hist.url"):                     # a new address (a link, or the first visit) wins
        state[PICK] = list(wanted)
    known = {e.id: e for e in entries}
    for run_id in list(state.get(PICK, [])):
        if run_id not in known:
            try:
                known[run_id] = store.get(run_id)[0]
            except BadInput as exc:
                st.error(str(exc))
                state[PICK] = [i for i in state[PICK] if i != run_id]
    options = list(known)
    labels = {i: f"{_name(e)} · {e.mode} · {e.spec} · {e.wall_s:.3f} s · {_when(e)}" for i, e in known.items()}
    left, right = st.columns([4, 1])
    picked = left.multiselect("Open one run, or pick two to see them side by side", options, key=PICK,
                              format_func=labels.get, max_selections=2, placeholder="choose runs")
    own = history.yours(picked)         # the app is shared: a visitor deletes only what their session saved
    right.button("Delete the picked runs", key="hist.delete", disabled=not picked or not own, on_click=_delete,
                 args=(store, list(picked)),
                 help="removes them from the history file; this cannot be undone" if own else
                 "only runs this session saved or imported can be deleted here (the history is shared by everyone "
                 "using this app); locally: python -m agent_core history delete ID")
    if note := state.pop("hist.deleted", None):
        st.success(note)
    query = {"run": str(picked[0])} if len(picked) == 1 else {"a": str(picked[0]), "b": str(picked[1])} if picked \
        else {}
    if {k: st.query_params.get(k) for k in ("run", "a", "b") if k in st.query_params} != query:
        for k in ("run", "a", "b"):
            st.query_params.pop(k, None)
        st.query_params.update(query)
    state["hist.url"] = tuple(picked)
    return list(picked)


def _delete(store, ids: list[int]) -> None:
    n = store.delete(ids)
    st.session_state[PICK] = []
    st.session_state["hist.deleted"] = f"Deleted {n} run{'s' * (n != 1)}: " + ", ".join(f"#{i}" for i in ids)


def _one(store, run_id: int) -> None:
    from ui import widgets
    entry, report = store.get(run_id)
    st.subheader(f"Run {_name(entry)}")
    st.caption(f"Saved {_when(entry)} · {entry.source} · {_machine(entry)} · version {entry.version}"
               + (f" · part of comparison {entry.group}" if entry.group else ""))
    widgets.report_view(report, "hist.run")


def _two(store, a_id: int, b_id: int) -> None:
    from agent_core.history.diff import diff
    from ui import charts, history
    (ea, a), (eb, b) = store.get(a_id), store.get(b_id)
    names = (_name(ea), _name(eb))
    st.subheader(f"{names[0]} and {names[1]} side by side")
    st.caption(" · ".join(f"{n}: {e.mode}, saved {_when(e)} on {_machine(e)} ({e.source})"
                          for n, e in zip(names, (ea, eb), strict=True)))
    st.markdown("\n".join(f"- {s}" for s in diff(a, b, names[0], names[1], a_entry=ea, b_entry=eb)))
    st.plotly_chart(charts.pair_timelines(a, b, names), key="hist.pair.timelines", config={"displayModeBar": False})
    left, right = st.columns(2)
    left.plotly_chart(charts.pair_totals(a, b, names), key="hist.pair.totals", config={"displayModeBar": False})
    right.plotly_chart(charts.pair_tools(a, b, names), key="hist.pair.tools", config={"displayModeBar": False})
    history.downloads([a, b], "hist.pair", what="both runs")


if __name__ == "__main__":
    main()
