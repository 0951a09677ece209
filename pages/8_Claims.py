"""Claims: what the article and its blog series state as fact, set beside what this machine measures."""
from __future__ import annotations

import datetime

import pandas as pd
import streamlit as st


def _chosen_from_address(claims) -> list[int]:
    """``?only=1,3`` preselects claims; a bad value is one error line and every claim stays chosen."""
    from agent_core import BadInput
    only = st.query_params.get("only")
    if only is None:
        return list(claims.CLAIMS)
    try:
        return claims.parse_only(only, what="the address's only=")
    except BadInput as exc:
        st.session_state["claims.address_error"] = str(exc)
        return list(claims.CLAIMS)


def _card(claim, result, pages: dict[str, tuple[str, str]], sources: dict[str, str]) -> None:
    """One claim: what was said and where, how it is tested here, what was measured and the verdict."""
    with st.container(border=True, key=f"claims.card.{claim.id}"):
        left, right = st.columns([3, 2])
        with left:
            st.markdown(f"**{claim.id}.** {claim.claim}")
            st.caption("Source: " + "; ".join(f"**{key}**, {sources[key]}" for key in claim.sources))
            st.caption(f"Tested here with {claim.how}.")
            label, icon = pages[claim.page]
            st.page_link(claim.page, label=f"See it in depth: {label}", icon=icon, query_params=claim.query or None)
        with right:
            if result is None:
                st.badge("not run yet", color="gray")
                return
            st.badge(result.verdict, color=result.colour)
            if result.summary:
                st.markdown(result.summary)
            if result.measured:
                st.caption(result.reason + f" Measured in {result.seconds:.1f} s.")
            else:
                st.error(result.reason)


def main() -> None:
    from agent_core import claims
    from ui import widgets
    from ui.measure import engine_warming, measure_into, run_button, show_error

    widgets.page("Claims", "The article this app grew from, and its author's blog series, state figures and facts "
                 "about Python's concurrency primitives that their own code never timed. Each claim below is set "
                 "beside an experiment run **here, now**, through the same engine as every other page, and a "
                 "verdict computed from what it measured: **holds**, **holds with a caveat** or **does not hold "
                 "here**, with the numbers that decided it. Seconds in a claim are scaled down where it says so, "
                 "so that all of them run in well under a minute.")
    engine_warming()
    state = st.session_state
    if "claims.only" not in state:
        state["claims.only"] = _chosen_from_address(claims)
    pages = {path: (label, icon) for path, label, icon in widgets.PAGES}
    chosen = st.multiselect("Claims to measure", list(claims.CLAIMS), key="claims.only",
                            format_func=lambda i: f"{i}. {claims.CLAIMS[i].claim}")

    def plan():
        ids = list(chosen)
        est = claims.estimate(ids).checked()
        return (f"{len(ids)} claim{'s' * (len(ids) != 1)}", len(ids), lambda emit: claims.measure_claims(ids, emit),
                est)

    start = run_button("claims", "Run the experiments")
    if measure_into("claims", "claims.results", plan, start=start):
        st.rerun()
    if message := state.pop("claims.address_error", None):
        st.error(message)
    show_error("claims")
    results = state.get("claims.results") or []
    shown = state.setdefault("claims.shown", {})
    for r in results:                               # the latest result of each claim, whichever run measured it
        shown[r.id] = r
    if results:
        when = datetime.datetime.fromtimestamp(min(r.started_at for r in results)).strftime("%H:%M:%S")
        counts = {v: sum(r.verdict == v for r in results) for v in [*claims.VERDICTS, claims.UNMEASURED]}
        st.caption(f"Measured at {when}: {len(results)} claim{'s' * (len(results) != 1)} · " +
                   " · ".join(f"{n} {v}" for v, n in counts.items() if n) + f" · {claims.machine_note(results)}")
    else:
        st.info("Choose claims and press **Run the experiments**: every claim takes a few seconds.")
    st.dataframe(pd.DataFrame([{"#": c.id, "claim": c.claim, "source": ", ".join(c.sources),
                                "verdict": shown[c.id].verdict if c.id in shown else "—",
                                "measured here": shown[c.id].summary if c.id in shown else ""}
                               for c in claims.CLAIMS.values()]), hide_index=True, key="claims.table")
    for claim in claims.CLAIMS.values():
        _card(claim, shown.get(claim.id), pages, claims.SOURCES)
    with st.expander("How a verdict is computed"):
        st.markdown(f"Each experiment returns its figures; the claim's own function turns them into a verdict with "
                    f"stated thresholds (in `agent_core/claims.py`): *about* a figure means within ×{claims.NEAR} of "
                    f"it; a loop is *blocked* when its heartbeat was late by at least {claims.BLOCK_SHARE:.0%} of the "
                    f"blocking call, and a fix *works* when it cuts that lag ×{claims.UNBLOCKED:g}; a true speedup "
                    f"under ×{claims.NO_SPEEDUP} is none, and a process pool *uses the cores* at "
                    f"{claims.CORE_SHARE:.0%} of the speedup its workers could reach. Where a claim is about CPU work, "
                    f"each variant runs a few times, interleaved, and the fastest run is kept: other work on a shared "
                    f"machine only ever adds time. `python -m agent_core claims --json` prints the same verdicts "
                    f"with every figure.")


if __name__ == "__main__":
    main()
