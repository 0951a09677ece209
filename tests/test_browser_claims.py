"""The Claims page in a real browser: opened first by its address with two claims chosen, run, and their
verdicts shown beside the claims that were not run."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from agent_core.claims import CLAIMS, VERDICTS

from .streamlit_server import ROOT, streamlit_server
from .test_browser import new_page, no_exception

pytestmark = pytest.mark.browser
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
ANY_VERDICT = re.compile("|".join(re.escape(v) for v in sorted(VERDICTS, key=len, reverse=True)))


def card(page, claim_id: int):
    return page.locator(f".st-key-claims-card-{claim_id}")      # st.container(key="claims.card.N")


def test_the_claims_page_opened_by_its_address_runs_the_chosen_claims_and_shows_their_verdicts(browser):
    with streamlit_server(os.path.join(ARTIFACTS, "streamlit-claims.log")) as url:
        page = new_page(browser, height=4000)
        page.goto(url + "/Claims?only=1,3")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Claims")
        expect(card(page, 1)).to_contain_text("not run yet")
        page.get_by_role("button", name="Run the experiments").click()
        expect(page.get_by_text(re.compile(r"^Measured at \d\d:\d\d:\d\d: 2 claims"))).to_be_visible(timeout=120_000)
        for claim_id in (1, 3):
            expect(card(page, claim_id)).to_contain_text(ANY_VERDICT)
            expect(card(page, claim_id)).to_contain_text("Measured in")
            expect(card(page, claim_id)).not_to_contain_text("not run yet")
        for claim_id in set(CLAIMS) - {1, 3}:
            expect(card(page, claim_id)).to_contain_text("not run yet")
        no_exception(page)
        page.screenshot(path=os.path.join(ARTIFACTS, "claims.png"), full_page=True)
        card(page, 1).get_by_role("link", name=re.compile("^See it in depth")).click()     # to the page that shows it
        expect(page.get_by_role("heading", level=1)).to_contain_text("Playground")
        expect(page).to_have_url(re.compile(r"preset=fan_out&mode=asyncio"))
        no_exception(page)
        page.close()
