"""Bad input, from the command line or the Python API, is refused before any work with one short line.

Findings 6 and 9a of the reliability issue: superscript and other non-ASCII digits, NaN and infinities, huge
integers, malformed shapes, output paths that cannot be written, and error lines that echoed 65 KB of input.
Also 9b: where ``sandboxed_script.mem_mb`` applies is said, in the catalog and in each record.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

import agent_core
from agent_core import cli
from agent_core.catalog import SHOWN_CHARS, resolve_params, shown
from agent_core.errors import BadInput
from agent_core.workload import MAX_WRITE_ROWS, Options, Workload, as_workload, check_variant, parse_faults

from .conftest import ROOT

HUGE = "9" * 5000                   # int() refuses more than 4,300 digits; str() of such an int raises too
LONG_SPEC = ",".join(["web_search:1"] * 5000)      # 65 KB: its error line used to repeat all of it


def command(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def main_says(capsys, *args: str) -> tuple[int, str]:
    """Run the command line in this process: (exit status, stderr)."""
    try:
        status = cli.main(list(args))
    except SystemExit as exc:           # argparse's own errors exit
        status = exc.code
    return status, capsys.readouterr().err


def one_short_line(text: str, limit: int = 500) -> bool:
    lines = text.strip().splitlines()
    return len(lines) == 1 and len(lines[0]) <= limit and "Traceback" not in text


# -- the two reported cases, end to end --------------------------------------------------------------------

def test_a_superscript_count_is_one_line_and_status_2_not_a_traceback():
    p = command("run", "--mode", "threads", "--tools", "web_search:²")
    assert p.returncode == 2, p.stderr
    assert one_short_line(p.stderr) and "web_search:²" in p.stderr and "1..1000" in p.stderr, p.stderr
    with pytest.raises(BadInput, match="web_search:²"):
        agent_core.run("web_search:²", "threads")


def test_an_unwritable_markdown_path_is_refused_before_the_benchmark_runs():
    started = time.monotonic()
    p = command("bench", "--quick", "--markdown", "/nonexistent-dir/x.md")
    assert p.returncode == 2, p.stderr
    assert one_short_line(p.stderr) and "/nonexistent-dir" in p.stderr and "does not exist" in p.stderr, p.stderr
    assert "P1" not in p.stderr and time.monotonic() - started < 15, "refused before any measuring"


@pytest.mark.parametrize("path, says", [
    ("/nonexistent-dir/x.md", "does not exist"),
    (".", "is not a file path"),
    ("/proc/x.md", "cannot be written"),
])
def test_markdown_paths_that_cannot_be_written_exit_2(capsys, path, says):
    status, err = main_says(capsys, "bench", "--quick", "--markdown", path)
    assert status == 2 and one_short_line(err) and says in err, err


# -- every other hole of the same kind ---------------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    (["--tools", "web_search:٣"], "web_search:٣"),                      # Arabic-Indic digit: int() took it
    (["--tools", "web_search:１"], "web_search:１"),                     # full-width digit
    (["--tools", f"web_search:{HUGE}"], "out of range"),
    (["--tools", "web_search:1", "--workers", "٣"], "invalid int value: '٣'"),
    (["--tools", "web_search:1", "--workers", "0"], "workers=0 is out of range"),
    (["--tools", "web_search:1", "--workers", "-4"], "workers=-4 is out of range"),
    (["--tools", "web_search:1", "--workers", HUGE], "invalid int value"),
    (["--tools", "web_search:1", "--seed", "٣"], "invalid int value: '٣'"),
    (["--tools", "web_search:1", "--seed", HUGE], "invalid int value"),
    (["--tools", "web_search:1", "--seed", "99999999999999999999"], "seed=99999999999999999999 is out of range"),
    (["--tools", "web_search:1", "--timeout-s", "١"], "invalid float value: '١'"),
    (["--tools", "web_search:1", "--timeout-s", "nan"], "timeout_s=nan is out of range"),
    (["--tools", "web_search:1", "--timeout-s", "inf"], "timeout_s=inf is out of range"),
    (["--tools", "web_search:1", "--timeout-s", "1e999"], "timeout_s=inf is out of range"),
    (["--tools", "web_search:1", "--param", "web_search.k=١"], "web_search.k=١ is not an integer"),
    (["--tools", "web_search:1", "--param", "web_search.k=nan"], "out of range"),
    (["--tools", "web_search:1", "--param", "web_search.latency_ms=inf"], "out of range"),
    (["--tools", "web_search:1", "--param", f"web_search.k={HUGE}"], "out of range: allowed 1..50"),
    (["--tools", "web_search:1", "--param", "web_search.jitter=1e999"], "out of range: allowed 0..1"),
    (["--tools", "web_search:1", "--param", "sandboxed_script.script=rm"], "sandboxed_script.script=rm is not allowed"),
    (["--tools", "legacy_sdk:1", "--fault", "legacy_sdk:hang:nan"], "seconds must be 0.1..60"),
    (["--tools", "legacy_sdk:1", "--fault", "legacy_sdk:hang:inf"], "seconds must be 0.1..60"),
    (["--tools", "legacy_sdk:1", "--fault", "legacy_sdk:hang:٣"], "is not a number of seconds"),
    (["--tools", "legacy_sdk:1", "--fault", f"legacy_sdk:hang:{HUGE}"], "seconds must be 0.1..60"),
])
def test_bad_values_anywhere_on_the_command_line_exit_2_with_one_line(capsys, args, says):
    status, err = main_says(capsys, "run", "--mode", "threads", *args)
    assert status == 2 and one_short_line(err) and says in err, err


@pytest.mark.parametrize("modes, says", [(",", "names no mode"), ("threads,w" + "a" * 5000, "unknown mode")])
def test_compare_refuses_an_empty_or_unknown_mode_list(capsys, modes, says):
    status, err = main_says(capsys, "compare", "--tools", "web_search:1", "--modes", modes)
    assert status == 2 and one_short_line(err) and says in err, err


@pytest.mark.parametrize("kwargs, says", [
    ({"workload": "web_search:²"}, "web_search:²"),
    ({"workload": {"web_search": 10 ** 5000}}, "web_search's count must be 1..1000"),
    ({"params": {"web_search": "k=3"}}, "the parameters of web_search must be {name: value}"),
    ({"params": ["web_search"]}, "is not {tool: {name: value}}"),
    ({"params": {"web_search": {"k": "٣"}}}, "web_search.k=٣ is not an integer"),
    ({"params": {"web_search": {"k": 10 ** 5000}}}, "out of range"),
    ({"faults": {"web_search": "hang"}}, "is not (kind, seconds)"),
    ({"faults": {"web_search": ("hang", float("nan"))}}, "seconds must be 0.1..60"),
    ({"faults": {"web_search": ("hang", 10 ** 5000)}}, "seconds must be 0.1..60"),
    ({"timeout_s": 10 ** 400}, "out of range"),
    ({"timeout_s": "١"}, "timeout_s=١ is not a number"),
    ({"seed": 10 ** 5000}, "seed=<an integer of about 5001 digits> is out of range"),
    ({"on_error": ["keep-going"]}, "is not allowed: one of keep-going, cancel-siblings"),
    ({"async_twins": "no"}, "async_twins='no' is not allowed"),
    ({"http": "curl"}, "http='curl' is not allowed: one of httpx, aiohttp"),
    ({"http": "h" * 100_000}, "is not allowed: one of httpx, aiohttp"),
])
def test_the_python_api_raises_bad_input_for_every_bad_argument(kwargs, says):
    kwargs = {"workload": "web_search:1", **kwargs}
    with pytest.raises(BadInput) as err:
        agent_core.run(kwargs.pop("workload"), "threads", **kwargs)
    assert says in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 300, str(err.value)


@pytest.mark.parametrize("variant", [{}, {"mode": None}, {"mode": "threads", "bogus": 1}, "threads", None])
def test_a_malformed_run_many_variant_is_bad_input(variant):
    with pytest.raises(BadInput):
        check_variant(variant)
    assert check_variant({"mode": "asyncio", "async_twins": True}) == ("asyncio", {"async_twins": True})


@pytest.mark.parametrize("workload", [None, 12, b"web_search:1", ("web_search", 1)])
def test_a_workload_of_the_wrong_type_is_bad_input(workload):
    with pytest.raises(BadInput, match="is not a spec such as"):
        as_workload(workload)


def test_a_workload_object_takes_new_parameters_without_losing_its_own():
    w = Workload.parse("web_search:1", {"web_search": {"latency_ms": 50}})
    again = as_workload(w, {"web_search": {"k": 7}})
    assert again.params["web_search"]["latency_ms"] == 50 and again.params["web_search"]["k"] == 7
    assert as_workload(w) is w


# -- 9a: an error line never repeats the whole input -------------------------------------------------------

def test_a_5000_item_spec_gives_one_short_line_not_65_kb():
    with pytest.raises(BadInput) as err:
        Workload.parse(LONG_SPEC)
    message = str(err.value)
    assert "web_search appears twice" in message and len(message) < 200, len(message)
    p = command("run", "--mode", "threads", "--tools", LONG_SPEC)
    assert p.returncode == 2 and one_short_line(p.stderr, 300), p.stderr[:300]


@pytest.mark.parametrize("args", [
    ["run", "--mode", "threads", "--tools", "x" * 70_000],
    ["run", "--mode", "threads", "--tools", "web_search:" + "1" * 70_000],
    ["run", "--mode", "threads", "--tools", "web_search:1", "--param", "web_search.k=" + "z" * 70_000],
    ["run", "--mode", "threads", "--tools", "web_search:1", "--param", "web_search." + "q" * 70_000 + "=1"],
    ["run", "--mode", "threads", "--tools", "web_search:1", "--fault", "web_search:" + "h" * 70_000],
    ["run", "--mode", "m" * 70_000, "--tools", "web_search:1"],
    ["run", "--mode", "threads", "--tools", "web_search:1", "--bogus", "b" * 70_000],
    ["run", "--mode", "threads", "--tools", "web_search:1\nsecond line"],
])
def test_every_echo_of_user_input_is_cut_short(capsys, args):
    status, err = main_says(capsys, *args)
    assert status == 2 and one_short_line(err, 450), err[:500]


def test_shown_cuts_escapes_and_describes_what_it_cannot_print():
    assert shown("a" * 1000) == "a" * (SHOWN_CHARS - 1) + "…"
    assert shown("line\nbreak") == "line\\nbreak"
    assert shown(10 ** 5000).startswith("<an integer of about 5001 digits")
    assert shown("web_search:²", quote=True) == "'web_search:²'"


# -- 7 (size): what a run may write to disk is bounded in the engine ---------------------------------------

def test_memory_write_rows_times_calls_is_bounded():
    with pytest.raises(BadInput, match=f"allowed at most {MAX_WRITE_ROWS:,} rows in one run"):
        Workload.parse("memory_write:200", {"memory_write": {"rows": 100_000}})
    assert Workload.parse("memory_write:200", {"memory_write": {"rows": 5_000}}).n_calls == 200   # the default fits


# -- 9b: where mem_mb applies is said ----------------------------------------------------------------------

def test_the_catalog_says_where_mem_mb_applies():
    p = command("tools")
    line = next(ln for ln in p.stdout.splitlines() if "sandboxed_script.mem_mb" in ln)
    assert "applies in the subprocess, hybrid and distributed modes only" in line and "mem_limit_applied" in line


@pytest.mark.parametrize("mode, applied", [("subprocess", True), ("hybrid", True), ("threads", False),
                                           ("sequential", False), ("process-pool", False)])
def test_each_record_says_whether_mem_mb_was_applied(mode, applied):
    report = agent_core.run("sandboxed_script:1", mode,
                            params={"sandboxed_script": {"script": "primes", "size": 100, "mem_mb": 300}})
    detail = report.tasks[0].detail
    assert report.ok and detail["mem_limit_applied"] is applied, detail
    if applied:
        assert detail["mem_limit_mb"] == 300
    else:
        assert detail["mem_limit_mb"] is None or detail["mem_limit_mb"] > 300


def test_options_keep_accepting_what_they_did():
    o = Options(workers=4, timeout_s="2.5", seed=7, async_twins=True).checked("threads", 64)
    assert (o.workers, o.timeout_s, o.seed, o.async_twins) == (4, 2.5, 7, True)
    assert resolve_params("web_search", {"k": "7", "latency_ms": 64.0})["k"] == 7
    assert parse_faults(["legacy_sdk:hang:2.5"]) == {"legacy_sdk": ("hang", 2.5)}
