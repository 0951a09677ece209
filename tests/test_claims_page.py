"""The Claims page under AppTest: it runs the chosen claims' experiments through the measurement queue and shows
each verdict, in its colour, beside the figures that decided it."""
from __future__ import annotations

from agent_core import claims
from agent_core.claims import CLAIMS, VERDICTS

from .test_pages import open_page

PAGE = "pages/8_Claims.py"


def badges(at) -> list[str]:
    return [m.value for m in at.markdown if "-badge[" in m.value]


def test_the_page_runs_the_chosen_claims_and_shows_each_verdict_from_its_figures():
    at = open_page(PAGE)
    assert at.multiselect(key="claims.only").value == list(CLAIMS), "every claim is chosen at first"
    assert badges(at) == [":gray-badge[not run yet]"] * len(CLAIMS)
    at.multiselect(key="claims.only").set_value([1, 3]).run()
    at.button(key="claims.run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    results = at.session_state["claims.results"]
    assert [r.id for r in results] == [1, 3]
    for r in results:
        assert r.verdict in VERDICTS and claims.judge(r.id, r.measured) == (r.verdict, r.reason)
    shown = badges(at)
    assert shown[0] == f":{VERDICTS[results[0].verdict]}-badge[{results[0].verdict}]"
    assert shown[2] == f":{VERDICTS[results[1].verdict]}-badge[{results[1].verdict}]"
    assert shown[1] == ":gray-badge[not run yet]" and len(shown) == len(CLAIMS)
    table = at.dataframe[0].value
    assert list(table["#"]) == list(CLAIMS)
    assert list(table["verdict"])[:3] == [results[0].verdict, "—", results[1].verdict]
    assert list(table["measured here"])[0] == results[0].summary
    assert any(c.value.startswith(results[0].reason) for c in at.caption), "the reason, with its numbers"
    links = [link.proto.page for link in at.get("page_link") if link.proto.label.startswith("See it in depth")]
    assert len(links) == len(CLAIMS)
    assert at.button(key="claims.run").disabled is False, "Run is enabled again once the experiments are done"


def test_the_address_preselects_claims_and_a_bad_one_is_an_error_line():
    at = open_page(PAGE, only="3,1")
    assert at.multiselect(key="claims.only").value == [3, 1]
    at = open_page(PAGE, only="99")
    assert at.multiselect(key="claims.only").value == list(CLAIMS)
    allowed = f"claims are {min(CLAIMS)}..{max(CLAIMS)}"
    assert [e.value for e in at.error] == [f"the address's only= '99' is not a claim: {allowed}"]


def test_choosing_no_claim_is_an_error_not_a_traceback():
    at = open_page(PAGE)
    at.multiselect(key="claims.only").set_value([]).run()
    at.button(key="claims.run").click().run()
    assert not at.exception
    assert "no claim chosen" in at.error[0].value
