"""Guide: which primitive for which kind of tool, generated from the catalog, linked to the presets."""
from __future__ import annotations

import pandas as pd
import streamlit as st


def main() -> None:
    from agent_core.catalog import CATALOG, KINDS, PRIMITIVES
    from agent_core.modes import MODES, get_mode
    from agent_core.presets import PRESETS
    from ui import widgets

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
                st.markdown(f"- `{name}`: {spec.summary}")
        demos = [p for p in PRESETS.values() if kind in p.kinds]
        cols = st.columns(max(1, len(demos)))
        for col, preset in zip(cols, demos, strict=False):
            with col:
                st.page_link("app.py", label=f"{preset.name} in {preset.mode}", icon=":material/play_arrow:",
                             query_params={"preset": preset.key, "mode": preset.mode})
                st.caption(preset.point)
    st.subheader(f"The {len(MODES)} modes")
    st.dataframe(pd.DataFrame([{"mode": m, "what it does": get_mode(m).SUMMARY,
                                **{f"lane for {kind}": get_mode(m).ROUTES[kind] for kind in KINDS}}
                               for m in MODES]), hide_index=True)


if __name__ == "__main__":
    main()
