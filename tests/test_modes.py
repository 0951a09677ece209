"""The registry is the one list of modes, and each mode module is the one place its facts live."""
from __future__ import annotations

import os
import types

import pytest

from agent_core import modes
from agent_core.lanes import LANES
from agent_core.modes import ALL_KINDS, BASELINE, MODES, SWEPT, get_mode, in_process_kinds, missing_facts
from agent_core.records import RunReport
from agent_core.workload import Workload

from .conftest import ROOT


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_declares_every_fact_the_app_reads(mode):
    module = get_mode(mode)
    assert missing_facts(module) == []
    assert module.SUMMARY and module.COLOUR.startswith("#")
    assert os.path.isfile(os.path.join(ROOT, "snippets", f"{module.SNIPPET}.py"))
    assert set(module.ROUTES) == set(ALL_KINDS) and set(module.ROUTES.values()) <= set(LANES)
    assert all(module.CAUSES[kind] for kind in SWEPT)
    assert module.MAX_WORKERS >= 1


def test_modes_are_told_apart_by_colour():
    colours = [get_mode(m).COLOUR for m in MODES]
    assert len(set(colours)) == len(colours)


def test_the_baseline_is_a_mode_and_comes_first():
    assert MODES[0] == BASELINE


def test_a_module_that_lacks_a_fact_is_named_for_it():
    partial = types.SimpleNamespace(SUMMARY="x", COLOUR="#000000", SNIPPET="threads", LOOP=False, MAX_WORKERS=4,
                                    plan=lambda workload, workers: None,
                                    ROUTES={"io": "thread", "blocking": "thread", "cpu": "warp"}, CAUSES={"io": "q"})
    assert missing_facts(partial) == ["ROUTES['cpu']", "ROUTES['isolated']", "CAUSES['cpu']"]


def test_a_lane_the_modes_drive_cannot_use_is_named():
    complete = get_mode("hybrid")
    no_loop = types.SimpleNamespace(**{name: getattr(complete, name) for name in modes.REQUIRED})
    no_loop.LOOP = False                # the loop and child lanes are awaited: they need a loop
    assert missing_facts(no_loop) == ["ROUTES['io']: the loop lane needs LOOP = True",
                                      "ROUTES['isolated']: the child lane needs LOOP = True"]
    on_loop = types.SimpleNamespace(**{name: getattr(get_mode(BASELINE), name) for name in modes.REQUIRED})
    on_loop.LOOP = True                 # the here lane only runs in the calling thread
    assert missing_facts(on_loop) == [f"ROUTES[{kind!r}]: the here lane needs LOOP = False" for kind in ALL_KINDS]


def test_in_process_kinds_are_the_kinds_whose_lane_runs_in_this_process():
    assert in_process_kinds(BASELINE) == set(ALL_KINDS), "the baseline runs everything in the caller's thread"
    assert in_process_kinds("asyncio") == in_process_kinds("threads") == set(ALL_KINDS)
    assert in_process_kinds("hybrid") == {"io", "blocking"}, "cpu goes to the pool, scripts to their own child"
    for mode in ("process-pool", "subprocess", "distributed"):
        assert in_process_kinds(mode) == set(), f"{mode} runs every call in another process"


def test_uses_workers_is_true_where_workers_change_the_plan():
    io = Workload.parse("web_search:8")
    blocking = Workload.parse("legacy_sdk:8")
    assert not modes.uses_workers(BASELINE, io), "bound to one worker"
    assert modes.uses_workers("threads", io)
    assert not modes.uses_workers("hybrid", io) and modes.uses_workers("hybrid", blocking), \
        "hybrid sizes only its threads, and only for blocking calls"


def test_a_mode_without_sentences_of_its_own_says_nothing_of_its_own():
    r = RunReport("asyncio", 0.1, [])
    assert not hasattr(get_mode("asyncio"), "notes") and modes.notes(r) == [] and modes.reason(r) is None
    assert modes.reason(RunReport("no-such-mode", 0.1, [])) is None, "a report of an unknown mode: no claim"
