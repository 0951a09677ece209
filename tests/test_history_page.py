"""The run history in the app under AppTest: the pages save what they measured, the History page lists, filters,
opens, pairs, deletes and imports runs. Every test has a history file of its own (AGENT_CORE_HISTORY)."""
from __future__ import annotations

import concurrent.futures
import json
import threading

import pytest
from streamlit.testing.v1 import AppTest

import agent_core
from agent_core.history import RunStore, StoreError, default_store
from agent_core.history.diff import diff
from agent_core.modes import BASELINE, MODES
from ui.history import MAX_UPLOAD_MB

from .test_pages import figures as all_figures
from .test_pages import open_page, small_workload
from .test_usertools_pages import typed_inputs

HISTORY = "pages/6_History.py"
PARAMS = {"web_search": {"latency_ms": 60}, "analysis": {"work": 20_000}}


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    """The process's store, at a file of this test's own."""
    monkeypatch.setenv("AGENT_CORE_HISTORY", str(tmp_path / "history.sqlite3"))
    return default_store()


def measured(mode: str, spec: str = "web_search:3,analysis:1") -> agent_core.RunReport:
    return agent_core.run(spec, mode, params=PARAMS)


def figures(at: AppTest) -> dict[str, dict]:
    """The page's figures by title."""
    return {fig["layout"].get("title", {}).get("text", ""): fig for fig in all_figures(at)}


def table(at: AppTest):
    return at.dataframe[0].value


def playground_run(at: AppTest) -> agent_core.RunReport:
    small_workload(at, "play", web_search=3)
    at.selectbox(key="play.mode").set_value("threads")
    at.button(key="play.run").click().run()
    assert not at.exception and not at.error
    return at.session_state["play.report"]


def saved(at: AppTest, key: str) -> None:
    """Wait for the background save the page started (the page itself never waits), then draw the page again."""
    future = at.session_state[f"{key}.saved"][1]
    if future is not None:
        future.exception(timeout=30)
    at.run()


def test_the_playground_saves_its_run_and_links_to_it_in_the_history(store):
    at = open_page("app.py")
    report = playground_run(at)
    saved(at, "play.report")
    link = next(p for p in at.get("page_link") if p.proto.label.startswith("Saved to the history"))
    (entry,) = store.list()
    assert link.proto.label == f"Saved to the history as run #{entry.id}"
    assert link.proto.query_string == f"run={entry.id}"
    assert (entry.mode, entry.spec, entry.wall_s, entry.n_calls) == ("threads", "web_search:3", report.wall_s, 3)
    back = store.get(entry.id)[1].to_dict()
    assert (back["tasks"], back["wall_s"]) == (report.to_dict()["tasks"], report.to_dict()["wall_s"])
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download this run (JSON)", "Download this run (Perfetto trace)",
                      "Download this run (CSV of calls)"]
    at.run()
    assert len(store.list()) == 1, "a report is saved once, not on every rerun"


def test_the_page_never_waits_for_a_save_it_shows_the_run_and_says_when_it_is_saved(store, monkeypatch):
    gate, real = threading.Event(), RunStore.save_in_background

    def slow_disk(self, reports, label=None):      # the store's thread is stuck until the test lets it go
        future = concurrent.futures.Future()

        def later():
            gate.wait(60)
            future.set_result(real(self, reports, label).result())
        threading.Thread(target=later, daemon=True).start()
        return future
    monkeypatch.setattr(RunStore, "save_in_background", slow_disk)
    at = open_page("app.py")
    report = playground_run(at)                    # returns although the save cannot finish
    assert at.metric[0].value == f"{report.wall_s:.3f} s"
    assert "Saving to the history…" in [c.value for c in at.caption]
    assert store.list() == []
    gate.set()
    saved(at, "play.report")
    (entry,) = store.list()
    assert f"Saved to the history as run #{entry.id}" in [p.proto.label for p in at.get("page_link")]
    assert "Saving to the history…" not in [c.value for c in at.caption]


def test_a_save_that_fails_still_shows_the_run_and_says_it_was_not_saved(store, monkeypatch):
    def disk_full(self, reports, label=None):
        future = concurrent.futures.Future()
        future.set_exception(StoreError("database or disk is full"))
        return future
    monkeypatch.setattr(RunStore, "save_in_background", disk_full)
    at = open_page("app.py")
    report = playground_run(at)
    saved(at, "play.report")
    assert at.metric[0].value == f"{report.wall_s:.3f} s", "the run is shown"
    assert [w.value for w in at.warning] == ["This run is shown but was not saved to the history: database or disk "
                                             "is full"]
    assert store.list() == []


def test_with_the_history_off_runs_are_shown_and_the_history_page_says_so(monkeypatch):
    monkeypatch.setenv("AGENT_CORE_HISTORY", "off")
    at = open_page("app.py")
    playground_run(at)
    saved(at, "play.report")
    assert at.metric and [w.value for w in at.warning] == [
        "This run is shown but was not saved to the history: The run history is off (AGENT_CORE_HISTORY=off)."]
    at = open_page(HISTORY)
    assert not at.error and at.info[0].value.startswith("The run history is off (AGENT_CORE_HISTORY=off).")


def test_the_history_lists_the_saved_runs_newest_first_and_filters_them(store):
    a, b, c = measured("asyncio"), measured("hybrid"), measured("hybrid", "web_search:2")
    (ia,), (ib,), (ic,) = store.save(a, label="before"), store.save(b, label="after"), store.save(c)
    at = open_page(HISTORY)
    assert list(table(at)["run"]) == [ic, ib, ia]
    assert list(table(at)["wall s"]) == [round(r.wall_s, 3) for r in (c, b, a)]
    assert list(at.selectbox(key="hist.mode").options) == ["any", *MODES], "modes come from the registry"
    at.selectbox(key="hist.mode").set_value("hybrid").run()
    assert list(table(at)["run"]) == [ic, ib]
    at.selectbox(key="hist.spec").set_value("web_search:3,analysis:1").run()
    assert list(table(at)["run"]) == [ib]
    at.selectbox(key="hist.mode").set_value("any")
    at.selectbox(key="hist.spec").set_value("any")
    at.selectbox(key="hist.label").set_value("before").run()
    assert list(table(at)["run"]) == [ia]
    assert not at.exception and not at.error


def test_a_deep_link_opens_one_run_with_the_playgrounds_views(store):
    (run_id,) = store.save(measured("hybrid"), label="mine")
    report = store.get(run_id)[1]           # as saved (times to the µs): what the page shows
    at = open_page(HISTORY, run=run_id)
    assert at.subheader[0].value == f"Run #{run_id} (mine)"
    assert at.metric[0].value == f"{report.wall_s:.3f} s" and at.metric[1].value == f"{report.sum_task_s:.3f} s"
    timeline = next(f for title, f in figures(at).items() if title.startswith("Timeline"))
    drawn = sorted(cid for trace in timeline["data"] for cid in trace["customdata"])
    assert drawn == sorted(t.id for t in report.tasks)
    assert at.multiselect(key="hist.pick").value == [run_id]


def test_two_runs_side_by_side_on_one_shared_time_axis_with_the_differences_in_sentences(store):
    (ia,), (ib,) = store.save(measured("asyncio")), store.save(measured("hybrid"))
    (ea, a), (eb, b) = store.get(ia), store.get(ib)       # as saved (times to the µs): what the page shows
    at = open_page(HISTORY, a=ia, b=ib)
    assert at.subheader[0].value == f"#{ia} and #{ib} side by side"
    pair = figures(at)[f"#{ia} and #{ib} on one time axis"]
    axes = {k: v for k, v in pair["layout"].items() if k.startswith("xaxis")}
    assert sorted(axes) == ["xaxis", "xaxis2", "xaxis3"]          # A, B, and both heartbeats
    assert axes["xaxis"]["matches"] == axes["xaxis2"]["matches"] == "x3" and "matches" not in axes["xaxis3"]
    end = 1000 * max(a.wall_s, b.wall_s) * 1.02
    assert all(x["range"] == pytest.approx([0, end]) for x in axes.values())
    rows = {}
    for trace in pair["data"]:
        if trace["type"] == "bar":
            rows.setdefault(trace.get("xaxis", "x"), []).extend(trace["customdata"])
    assert sorted(rows["x"]) == sorted(t.id for t in a.tasks) and sorted(rows["x2"]) == sorted(t.id for t in b.tasks)
    totals = figures(at)["Wall-clock vs Σ task time"]
    assert [tr["x"][:2] for tr in totals["data"]] == [[a.wall_s, a.sum_task_s], [b.wall_s, b.sum_task_s]]
    expected = diff(a, b, f"#{ia}", f"#{ib}", a_entry=ea, b_entry=eb)
    assert any(m.value == "\n".join(f"- {s}" for s in expected) for m in at.markdown)
    assert [b.proto.label for b in at.get("download_button")] == [
        "Download both runs (JSON)", "Download both runs (Perfetto trace)", "Download both runs (CSV of calls)"]
    assert not at.exception and not at.error


def test_picking_runs_keeps_the_address(store):
    (ia,), (ib,) = store.save(measured("threads")), store.save(measured("sequential"))
    at = open_page(HISTORY)
    at.multiselect(key="hist.pick").select(ia).run()
    assert at.query_params["run"] == str(ia)
    at.multiselect(key="hist.pick").select(ib).run()
    assert (at.query_params["a"], at.query_params["b"]) == (str(ia), str(ib)) and "run" not in at.query_params
    at.multiselect(key="hist.pick").unselect(ia).run()
    assert at.query_params["run"] == str(ib)
    assert at.button(key="hist.delete").disabled, "runs this session did not save are not a visitor's to delete"


def test_a_visitor_deletes_the_runs_their_own_session_saved_and_only_those(store):
    (other,) = store.save(measured("sequential"))          # another visitor's run, or one saved from the CLI
    at = open_page("app.py")
    playground_run(at)
    saved(at, "play.report")
    (mine,) = at.session_state["play.report.saved"][1].result()
    at.switch_page(HISTORY).run()
    at.multiselect(key="hist.pick").select(other).run()
    assert at.button(key="hist.delete").disabled
    at.multiselect(key="hist.pick").unselect(other).select(mine).run()
    assert not at.button(key="hist.delete").disabled
    at.button(key="hist.delete").click().run()
    assert [e.id for e in store.list()] == [other]
    assert at.success[0].value == f"Deleted 1 run: #{mine}" and list(table(at)["run"]) == [other]
    assert at.multiselect(key="hist.pick").value == [] and "run" not in at.query_params


def test_a_bad_deep_link_is_one_error_line(store):
    (ia,) = store.save(measured("threads"))
    at = open_page(HISTORY, run="abc")
    assert not at.exception and len(at.error) == 1 and "a run is named by its number" in at.error[0].value
    at = open_page(HISTORY, a=ia, b=ia + 100)
    assert not at.exception and len(at.error) == 1 and str(ia + 100) in at.error[0].value
    assert at.multiselect(key="hist.pick").value == [ia]


def test_an_imported_report_is_compared_with_a_local_run_and_a_bad_file_changes_nothing(store):
    local, elsewhere = measured("threads"), measured("asyncio")
    (local_id,) = store.save(local)
    at = open_page(HISTORY, run=local_id)
    bad = [("notes.json", b"this is not JSON", "Nothing imported: "),
           ("foreign.json", json.dumps({"hello": "world"}).encode(), "Nothing imported: "),
           ("big.json", b" " * (MAX_UPLOAD_MB * 2**20 + 1), f"at most {MAX_UPLOAD_MB} MB"),
           ("latin.json", "é".encode("latin-1"), "not UTF-8")]
    for name, content, says in bad:
        at.file_uploader(key="hist.upload").set_value((name, content, "application/json")).run()
        assert not at.exception and len(at.error) == 1 and says in at.error[0].value, (name, at.error)
        assert [e.id for e in store.list()] == [local_id], "a bad file changes nothing"
    upload = json.dumps(elsewhere.to_dict()).encode()
    at.file_uploader(key="hist.upload").set_value(("elsewhere.json", upload, "application/json")).run()
    assert not at.exception and not at.error
    imported = store.list()[0]
    assert imported.source == "imported" and imported.id != local_id
    assert at.success[0].value == f"elsewhere.json imported as run #{imported.id}, shown beside #{local_id}."
    assert at.subheader[0].value == f"#{local_id} and #{imported.id} side by side"
    assert store.get(imported.id)[1].to_dict()["tasks"] == elsewhere.to_dict()["tasks"]
    at.run()
    assert len(store.list()) == 2, "the same upload is imported once, not on every rerun"


def test_the_only_thing_a_visitor_can_hand_the_history_page_is_a_bounded_json_file(store):
    at = open_page(HISTORY)
    assert typed_inputs(at) == [], "nothing to type a path or code into"
    (uploader,) = at.get("file_uploader")
    assert uploader.allowed_type == [".json"] and uploader.proto.max_upload_size_mb == MAX_UPLOAD_MB


def test_a_corrupt_file_at_the_stores_path_is_one_message_and_the_page_works(tmp_path, monkeypatch):
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"not a database, just some bytes " * 100)
    monkeypatch.setenv("AGENT_CORE_HISTORY", str(path))
    at = open_page(HISTORY)
    assert not at.exception and not at.error and len(at.warning) == 1
    assert default_store().list() == []
    (run_id,) = default_store().save(measured("threads"))
    at.run()
    assert list(table(at)["run"]) == [run_id]


def test_compare_saves_the_comparison_as_one_group(store):
    at = open_page("pages/1_Compare.py", timeout=240)
    for key in [k for k in at.session_state if k.startswith("compare.count.")]:
        at.session_state[key] = 0
    at.session_state["compare.count.web_search"] = 2
    at.session_state["compare.latency"] = 60
    at.button(key="compare.run").click().run()
    assert not at.exception and not at.error
    saved(at, "compare.reports")
    entries = store.list()
    assert sorted(e.mode for e in entries) == sorted(MODES) and len({e.group for e in entries}) == 1
    assert entries[0].group is not None
    link = next(p for p in at.get("page_link") if p.proto.label.startswith("Saved to the history"))
    ids = sorted(e.id for e in entries)
    assert link.proto.label == "Saved to the history as runs " + ", ".join(f"#{i}" for i in ids)
    assert [b.proto.label for b in at.get("download_button")][0] == "Download the comparison (JSON)"
    baseline = next(e for e in entries if e.mode == BASELINE)
    assert store.get(baseline.id)[1].wall_s == pytest.approx(at.session_state["compare.reports"][0].wall_s, abs=1e-6)
