"""The benchmark runs end to end in its quick mode; its targets are goals, never asserted here."""
from __future__ import annotations

import json
import subprocess
import sys

from agent_core import bench
from agent_core.modes import MODES

from .conftest import ROOT


def test_the_quick_benchmark_prints_every_figure_with_its_target():
    p = subprocess.run([sys.executable, "-m", "agent_core", "bench", "--quick", "--json"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result["machine"]["cores"] >= 1 and result["machine"]["python"]
    figures = result["figures"]
    assert list(figures) == ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P10a", "P10b"]
    for key in ("P1", "P2", "P3", "P4", "P5", "P6", "P8"):
        f = figures[key]
        assert isinstance(f["value"], float) and f["value"] > 0, key
        assert f["target"] == f"{bench.TARGETS[key][0]} {bench.TARGETS[key][1]:g}"
        assert isinstance(f["holds"], bool) and f["detail"]
    measured, untwinned = figures["P1"]["detail"]["modes"], figures["P1"]["detail"]["no_bare_twin"]
    assert measured and set(measured).isdisjoint(untwinned)
    assert [m for m in MODES if m in measured or m in untwinned] == list(MODES), "every mode: measured or said why not"
    p8 = figures["P8"]["detail"]
    assert p8["all_ok"] and p8["engine_s"] > 0 and p8["bare_s"] > 0 and p8["reps"] == 1
    assert p8["cluster_start_s"] > 0 and 0 < p8["clock_error_ms_max"] < 5
    assert p8["cluster"] != "embedded LocalCluster" or p8["cluster_rss_mb"] > 0
    for key in ("P10a", "P10b"):        # a browser measured it, or the row says why not: never a made-up figure
        f = figures[key]
        assert (isinstance(f["value"], float) and f["value"] > 0) or (
            f["value"] is None and f["detail"]["note"].startswith("not measured")), (key, f)


def test_the_markdown_holds_the_machine_the_table_and_why_a_target_was_missed():
    result = {"machine": bench.machine(), "quick": True,
              "figures": {"P2": bench._figure("P2", 1.4, {"wall_s": 0.28}), "P5": bench._figure("P5", 1.2, {})}}
    text = bench.markdown(result, 12.0)
    rows = {cells[0]: cells[1:] for line in text.splitlines() if line.startswith("| P")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert rows["P2"] == ["hybrid wall / critical path, 100 HTTP calls of 200 ms", "1.400", "<= 1.1", "NO"]
    assert rows["P5"][1:] == ["1.200", "<= 1.5", "yes"]
    assert "Why P2 misses its target" in text and "Why P5" not in text
