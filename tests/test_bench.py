"""The benchmark runs end to end in its quick mode; its targets are goals, never asserted here."""
from __future__ import annotations

import json
import subprocess
import sys

from agent_core import bench
from agent_core.modes import MODES
from agent_core.workload import DEFAULT_HTTP, HTTP_CLIENTS

from .conftest import ROOT


def test_the_quick_benchmark_prints_every_figure_with_its_target():
    p = subprocess.run([sys.executable, "-m", "agent_core", "bench", "--quick", "--json"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result["machine"]["cores"] >= 1 and result["machine"]["python"]
    figures = result["figures"]
    per_transport = [f"{key} {http}" for key in ("P2", "P3") for http in HTTP_CLIENTS]
    assert list(figures) == ["P1", *per_transport, "P4", "P5", "P6", "P7", "P8", "P10a", "P10b"]
    assert result["http_default"] == DEFAULT_HTTP
    for key in ("P1", *per_transport, "P4", "P5", "P6", "P8"):
        f = figures[key]
        assert isinstance(f["value"], float) and f["value"] > 0, key
        op, target = bench.TARGETS[bench.base_key(key)]
        assert f["target"] == f"{op} {target:g}"
        assert isinstance(f["holds"], bool) and f["detail"]
    for key in per_transport:                   # each row measured over the transport it names, every call ok
        assert figures[key]["detail"]["http"] == key.split()[1] and figures[key]["detail"]["all_ok"], key
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


def test_a_figure_measured_per_transport_has_one_row_each_and_says_why_it_misses_once():
    result = {"machine": bench.machine(), "quick": True,
              "figures": {f"P3 {h}": bench._figure("P3", 6.0, {"http": h, "wall_s": 1.2, "client_cpu_s": 0.5})
                          for h in HTTP_CLIENTS}}
    text = bench.markdown(result, 12.0)
    rows = [line for line in text.splitlines() if line.startswith("| P3 ")]
    assert [r.split("|")[1].strip() for r in rows] == [f"P3 {h}" for h in HTTP_CLIENTS]
    assert all("<= 5" in r and "NO" in r for r in rows)
    assert text.count("Why P3 misses its target") == 1


def test_the_markdown_says_which_transport_was_lower_and_the_default_from_the_figures():
    slow, fast = next(h for h in HTTP_CLIENTS if h != DEFAULT_HTTP), DEFAULT_HTTP
    figures = {f"{base} {h}": bench._figure(base, value, {"http": h, "wall_s": value / 5, "client_cpu_s": cpu})
               for base in ("P2", "P3") for h, value, cpu in ((slow, 1.7, 0.2), (fast, 1.2, 0.05))}
    text = bench.markdown({"machine": bench.machine(), "quick": False, "http_default": fast, "figures": figures}, 1.0)
    assert f"- P2: {slow} ×1.70 (wall 0.340 s, client CPU 0.200 s); {fast} ×1.20 (wall 0.240 s, client CPU " \
           f"0.050 s): {fast} is lower." in text
    assert f"The default is **{fast}**: in this run it has the lower wall on P2 and P3 and the least client " \
           "CPU." in text
    figures["P3 " + slow] = bench._figure("P3", 1.0, {"http": slow, "wall_s": 0.2, "client_cpu_s": 0.3})
    text = bench.markdown({"machine": bench.machine(), "quick": False, "http_default": fast, "figures": figures}, 1.0)
    assert "in this run it was lower on P2 only" in text
    one = {k: f for k, f in figures.items() if k.endswith(fast)}
    assert "## The async HTTP transport" not in bench.markdown({"machine": bench.machine(), "figures": one}, 1.0)


def test_the_markdown_says_the_machine_was_shared_only_when_it_was():
    result = {"machine": {**bench.machine(), "cores": 2, "load_avg_1m": 6.5}, "figures": {}}
    assert "Load average when it began: 6.5 on 2 cores" in bench.markdown(result, 1.0)
    result["machine"]["load_avg_1m"] = 0.4
    assert "Load average" not in bench.markdown(result, 1.0)
