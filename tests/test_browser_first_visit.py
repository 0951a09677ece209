"""P10, a first visit in a real browser: fresh `streamlit run` processes driven by Debian's chromium.

Measures the cold start (`streamlit run` to an enabled Run button on the Playground) and the first Run's click
to its chart beyond the run's own wall, and writes them to test-artifacts/first-visit.json (BENCHMARKS.md cites
them; `python -m agent_core bench` measures them afresh as P10a and P10b). Speed targets are never asserted
here: only that the figures are real (the page was interactive, the chart came after the run it shows).
"""
from __future__ import annotations

import json
import os

import pytest

from .first_visit import ARTIFACTS, RESULT, measure

pytestmark = pytest.mark.browser


def test_a_first_visit_is_measured_from_streamlit_run_to_the_first_chart():
    os.makedirs(ARTIFACTS, exist_ok=True)
    result = measure(reps=3, log_dir=ARTIFACTS)
    for visit in result["visits"]:
        assert visit["exceptions"] == 0
        assert 0 < visit["health_s"] < visit["html_s"] < visit["cold_start_s"], visit
        assert visit["first_wall_s"] > 0
        assert visit["first_click_to_chart_s"] > visit["first_wall_s"], "a chart cannot show before its run ended"
    assert result["cold_start_s"] in [v["cold_start_s"] for v in result["visits"]], "a median of three is one of them"
    with open(RESULT, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
