"""The claims registry: every claim has its source, a page and an experiment; a verdict is computed from the
figures its experiment measured (and changes when they change); the command line runs them for real."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from agent_core import claims
from agent_core.budget import JOB_LIMIT_S
from agent_core.claims import CAVEAT, CLAIMS, FAILS, HOLDS, UNMEASURED, VERDICTS
from ui import widgets

from .conftest import ROOT

DOC = os.path.join(ROOT, "docs", "CLAIMS.md")
MEASURABLE = list(CLAIMS)


def _doc_rows() -> dict[int, dict]:
    """The claims table of docs/CLAIMS.md: id -> its claim and the source keys it names."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            keys = {s.split()[0] for s in cells[2].split(",") if s.strip()}      # "B1 table" -> B1
            rows[int(cells[0])] = {"claim": cells[1], "sources": keys}
    keys = set(re.findall(r"^- \*\*([^*]+)\*\*", text, flags=re.M))
    return {"rows": rows, "keys": keys}


def test_the_registry_and_the_documented_claims_are_the_same_claims_with_the_same_sources():
    doc = _doc_rows()
    assert set(doc["rows"]) == set(CLAIMS), "a claim in docs/CLAIMS.md without a registry entry, or the reverse"
    assert set(claims.SOURCES) == doc["keys"], "the registry's sources are the ones docs/CLAIMS.md lists"
    for claim in CLAIMS.values():
        assert claim.sources and set(claim.sources) <= set(claims.SOURCES), claim.id
        assert set(claim.sources) == doc["rows"][claim.id]["sources"] & set(claims.SOURCES), claim.id


def test_every_claim_has_an_experiment_a_page_of_the_app_and_says_how_it_is_tested():
    pages = {path for path, _, _ in widgets.PAGES}
    for claim in CLAIMS.values():
        assert claim.page in pages, f"claim {claim.id}'s page {claim.page} is not in ui.widgets.PAGES"
        assert claim.claim and claim.how, claim.id
        assert claim.measure is not None or (claim.runs and claim.figures is not None), claim.id
        assert 0 < claim.estimate_s() <= JOB_LIMIT_S, claim.id
    assert claims.estimate().seconds <= JOB_LIMIT_S, "every claim at once fits in one page job"


# For each claim: figures that make it hold, hold with a caveat, and not hold. A claim added without its three
# cases fails test_every_verdict_flips_with_the_numbers.
FLIPS: dict[int, list[tuple[dict, str]]] = {}


def _cases(claim_id: int, base: dict, caveat: dict, fails: dict) -> None:
    FLIPS[claim_id] = [(base, HOLDS), ({**base, **caveat}, CAVEAT), ({**base, **fails}, FAILS)]


_cases(1, {"calls": 8, "wall_s": 0.40, "slowest_s": 0.39, "sum_s": 1.9}, {"wall_s": 0.7}, {"wall_s": 1.5})
_cases(2, {"scale": 0.1, "claimed_s": 3.0, "claimed_sum_s": 6.0, "wall_s": 0.31, "sequential_s": 0.61},
       {"wall_s": 0.40}, {"wall_s": 0.55})
_cases(3, {"gather_others": 3, "gather_ok": 3, "gather_cancelled": 0, "gather_wall_s": 0.3, "taskgroup_others": 3,
           "taskgroup_ok": 0, "taskgroup_cancelled": 3, "taskgroup_wall_s": 0.01},
       {"taskgroup_cancelled": 1}, {"gather_ok": 2})
_cases(4, {"sdk_call_s": 0.2, "sdk_on_loop_ms": 400, "sdk_in_thread_ms": 5, "sqlite_call_s": 0.12,
           "sqlite_on_loop_ms": 480, "sqlite_aiosqlite_ms": 60, "sqlite_in_thread_ms": 20},
       {"sqlite_aiosqlite_ms": 150}, {"sdk_on_loop_ms": 50})
_cases(5, {"calls": 4, "cores": 2, "load_1m": 0.5, "pool_workers": 2, "sequential_s": 1.0, "threads_x": 0.95,
           "pool_x": 1.9, "cpu_per_call_ms": {}}, {"pool_x": 1.3}, {"threads_x": 1.8})
_cases(6, {"sizes": [10, 100, 1000], "threads_s": [0.12, 0.35, 3.5], "asyncio_s": [0.12, 0.30, 1.2],
           "thread_workers": 32}, {"threads_s": [0.12, 0.6, 3.5]}, {"threads_s": [0.12, 0.35, 1.3]})
_cases(7, {"child_mode": "subprocess", "child_faulty": "crashed", "child_kept": 3, "child_lost": 0,
           "child_survived": True, "in_process_mode": "threads", "in_process_faulty": "crashed", "in_process_kept": 0,
           "in_process_lost": 3, "in_process_survived": False},
       {"in_process_lost": 0, "in_process_survived": True}, {"child_lost": 2, "child_kept": 1})
_cases(8, {"timeout_s": 1.0, "hang_s": 2.5, "child_status": "timeout", "child_after_s": 1.0, "child_still_running": 0,
           "thread_status": "timeout", "thread_after_s": 1.0, "thread_still_running": 1},
       {"thread_still_running": 0}, {"child_after_s": 2.5, "child_status": "ok"})
_cases(9, {"claimed_ms": [50, 100], "reps": 5, "bare_ms": 6.7, "plain_ms": 9.0, "child_ms": 60.0},
       {"child_ms": 30.0}, {"child_ms": 10.0})
_cases(11, {"k": 3, "scale": 0.5, "claimed_gather_x": 3.0, "claimed_turn_x": 3.12, "gather_sequential_s": 0.9,
            "gather_hybrid_s": 0.3, "turn_sequential_s": 3.1, "turn_hybrid_s": 1.0, "hybrid_critical_path_s": 0.95},
       {"turn_hybrid_s": 1.7}, {"gather_hybrid_s": 0.9})
_cases(12, {"chunk_words": 12_000,
            "hybrid": {"turn_s": 1.5, "cpu_stage_s": 0.4, "cpu_s": 0.6, "loop_lag_ms": 9.0},
            "asyncio": {"turn_s": 2.2, "cpu_stage_s": 0.9, "cpu_s": 0.6, "loop_lag_ms": 600.0},
            "threads": {"turn_s": 2.0, "cpu_stage_s": 0.8, "cpu_s": 0.6, "loop_lag_ms": None}},
       {"threads": {"turn_s": 1.55, "cpu_stage_s": 0.8, "cpu_s": 0.6, "loop_lag_ms": None}},
       {"hybrid": {"turn_s": 2.3, "cpu_stage_s": 0.9, "cpu_s": 0.6, "loop_lag_ms": 9.0}})
_cases(10, {"scale": 0.5, "claimed_s": 1.2, "claimed_sum_s": 2.5, "wall_s": 0.62, "sequential_s": 1.3},
       {"wall_s": 0.45}, {"wall_s": 1.1})


def test_every_verdict_flips_with_the_numbers():
    assert set(FLIPS) == set(MEASURABLE), "every measurable claim needs figures for each of its three verdicts"
    for claim_id, cases in FLIPS.items():
        for figures, expected in cases:
            verdict, reason = claims.judge(claim_id, figures)
            assert verdict == expected, (claim_id, figures, verdict, reason)
            assert reason and reason.endswith("."), (claim_id, reason)


def test_a_verdict_names_the_figures_that_decided_it():
    verdict, reason = claims.judge(9, {"claimed_ms": [50, 100], "reps": 5, "bare_ms": 6.7, "plain_ms": 9.0,
                                       "child_ms": 10.4})
    assert verdict == FAILS and "10.4 ms" in reason and "6.7 ms" in reason and "cheaper than claimed" in reason
    verdict, reason = claims.judge(9, {"claimed_ms": [50, 100], "reps": 5, "bare_ms": 60, "plain_ms": 80,
                                       "child_ms": 450.0})
    assert verdict == FAILS and "dearer than claimed" in reason
    _, reason = claims.judge(6, FLIPS[6][1][0])
    assert "from 100 calls already" in reason and "32 threads" in reason


def test_an_experiment_whose_calls_fail_is_not_measured_rather_than_judged(monkeypatch):
    one = CLAIMS[1]
    failing = claims.Claim(99, "a call that raises is measured", ("A",), one.page, "one search that raises",
                           one.judge, one.summary,
                           (claims.Runs("web_search:2", ({"mode": "asyncio"},), {"web_search": {"latency_ms": 10}},
                                        {"web_search": ("raise", 1.0)}),), one.figures)
    monkeypatch.setitem(CLAIMS, 99, failing)
    result = claims.measure_claim(99)
    assert result.verdict == UNMEASURED and result.measured == {}
    assert "1 of 2 calls failed in asyncio" in result.reason and "web_search#1: error" in result.reason


def test_repeated_runs_keep_the_fastest_run_of_each_variant_in_the_variants_order():
    seen = []
    runs = claims.Runs("web_search:2", ({"mode": "asyncio"}, {"mode": "sequential"}),
                       {"web_search": {"latency_ms": 20, "jitter": 1.0}}, reps=3)
    kept = runs.measure(seen.append)
    assert [r.mode for r in seen] == ["asyncio", "sequential"] * 3, "interleaved: one of each variant per round"
    assert [r.mode for r in kept] == ["asyncio", "sequential"]
    for r in kept:
        assert r.wall_s == min(s.wall_s for s in seen if s.mode == r.mode)
    assert runs.estimate_s() == 3 * claims.Runs(runs.spec, runs.variants, runs.params).estimate_s()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_core", "claims", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def test_claims_json_runs_the_chosen_experiments_for_real_and_each_verdict_follows_from_its_figures():
    out = _cli("--json", "--only", "1,2")
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)["claims"]
    assert [e["id"] for e in entries] == [1, 2]
    for e in entries:
        assert e["verdict"] in VERDICTS, e
        assert claims.judge(e["id"], e["measured"]) == (e["verdict"], e["reason"]), "recomputed from its figures"
        assert e["claim"] == CLAIMS[e["id"]].claim and e["page"] == CLAIMS[e["id"]].page
        assert e["source"] and e["sources"] and e["summary"]
        assert e["seconds"] > 0
    first, second = (e["measured"] for e in entries)
    assert first["calls"] == 8 and first["slowest_s"] <= first["wall_s"] < first["sum_s"]
    assert second["wall_s"] < second["sequential_s"], "three awaited calls overlapped"


def test_claims_prints_a_table_with_a_verdict_per_claim():
    out = _cli("--only", "3")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.strip().startswith("3 "))
    assert any(v in row for v in VERDICTS) and "gather:" in row
    assert "claim 3:" in out.stderr, "progress goes to stderr"


@pytest.mark.parametrize("only", ["13", "0", "x", "1,foo", ",", "٣"])
def test_a_bad_only_exits_2_with_one_line(only):
    out = _cli("--only", only)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert f"claims are {min(CLAIMS)}..{max(CLAIMS)}" in out.stderr
