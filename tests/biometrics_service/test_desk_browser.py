"""In a real browser: the disbursement clerk uploads the scanner's files at the desk, sees both
prints with their minutiae and the decision; the loan is disbursed only after a match, and the
disburse action (important, ★) is confirmed with the clerk's own print in the step-up dialog."""
from __future__ import annotations

import base64
import datetime as dt

import pytest

from tests.loans.walk import enroll_first_admin, fresh_capture
from tests.suite import sign_in_page

from .test_loan_prints import APPLICANT, GUARANTOR, _enroll, _investigated_loan

# One database is enough for what a browser shows; the API tests cover both.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _scan(tmp_path, name: str) -> str:
    """A fresh scanner file on disk, as the scanner software saves it."""
    path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.png"
    path.write_bytes(base64.b64decode(fresh_capture(name)))
    return str(path)


async def _match_at_desk(page, tmp_path, applicant: int, guarantor: int, applicant_print: str) -> str:
    await page.set_input_files(f"input[data-customer='{applicant}']", _scan(tmp_path, applicant_print))
    await page.set_input_files(f"input[data-customer='{guarantor}']", _scan(tmp_path, "106_3"))
    await page.click("form[data-desk] button[type=submit]")
    await page.wait_for_selector("[data-testid=desk-result]:not([hidden])")
    # Both prints of both people, drawn with their minutiae, actually rendered.
    pictures = page.locator("[data-testid=desk-people] img")
    assert await pictures.count() == 4
    for i in range(4):
        assert await pictures.nth(i).evaluate("img => img.complete && img.naturalWidth > 100")
    return await page.inner_text("[data-testid=decision]")


async def test_the_clerk_matches_prints_at_the_desk_then_disburses(suite, browser, tmp_path):
    walk, people = await _investigated_loan(suite)
    await _enroll(walk, people["applicant"], APPLICANT)
    await _enroll(walk, people["guarantor"], GUARANTOR)
    await walk.walk_to("disbursement")
    base = str(suite.server.make_url("")).rstrip("/")
    scans = tmp_path / "scans"
    scans.mkdir()

    # The clerk enrolls two impressions of their own finger on "my fingerprints" (for step-up):
    # the first with the administrator present, who puts their own finger on the scanner; the
    # second confirmed with the clerk's finger just enrolled (the step-up dialog).
    await enroll_first_admin(suite)
    clerk = await sign_in_page(browser, base, "accountant.cg")
    await clerk.goto(f"{base}/me/fingerprints")
    await clerk.select_option("form[data-enroll] select[name=finger]", "2")
    await clerk.set_input_files("form[data-enroll] input[name=image]", _scan(scans, "107_1"))
    await clerk.click("form[data-enroll] button[type=submit]")
    error = clerk.locator("[data-testid=enroll-error]")
    await error.filter(has_text="supervisor").wait_for()  # nobody vouched: refused
    await clerk.fill("form[data-enroll] input[name=witness]", "admin")
    await clerk.set_input_files("form[data-enroll] input[name=witness_image]", _scan(scans, "107_3"))
    async with clerk.expect_navigation():
        await clerk.click("form[data-enroll] button[type=submit]")
    await clerk.wait_for_selector("[data-testid=my-fingers] li >> nth=0")
    await clerk.select_option("form[data-enroll] select[name=finger]", "2")
    await clerk.set_input_files("form[data-enroll] input[name=image]", _scan(scans, "107_2"))
    await clerk.click("form[data-enroll] button[type=submit]")
    dialog = clerk.locator("dialog[data-step-up-dialog]")
    await dialog.wait_for(state="visible")
    await dialog.locator("[data-testid=step-up-file]").set_input_files(_scan(scans, "107_3"))
    async with clerk.expect_navigation():
        await dialog.locator("[data-testid=step-up-confirm]").click()
    await clerk.wait_for_selector("[data-testid=my-fingers] li >> nth=1")
    assert await clerk.locator("[data-testid=my-fingers] li").count() == 2
    await clerk.goto(f"{base}/loans/{walk.loan_id}")
    await clerk.click("[data-testid=desk-link]")
    await clerk.wait_for_url(f"{base}/loans/{walk.loan_id}/fingerprints/desk")

    decision = await _match_at_desk(clerk, scans, people["applicant"], people["guarantor"], "110_2")
    assert "拒绝放款" in decision and "< 40" in decision
    score = await clerk.inner_text(f"[data-testid=score-{people['applicant']}]")
    assert "/ 40" in score and "不符" in score
    await clerk.goto(f"{base}/loans/{walk.loan_id}")
    blocked = clerk.locator("details[data-action=disburse]")
    assert "指纹尚未在放款柜台核验" in await blocked.text_content()
    assert await blocked.locator("form").count() == 0

    await clerk.goto(f"{base}/loans/{walk.loan_id}/fingerprints/desk")
    decision = await _match_at_desk(clerk, scans, people["applicant"], people["guarantor"], "104_3")
    assert "可以放款" in decision
    assert "相符" in await clerk.inner_text(f"[data-testid=score-{people['guarantor']}]")

    await clerk.click("[data-testid=back-to-loan]")
    await clerk.wait_for_url(f"{base}/loans/{walk.loan_id}")
    block = clerk.locator("details[data-action=disburse]")
    if await block.get_attribute("open") is None:
        await block.locator("summary").click()
    form = block.locator("form")
    await form.locator("[name=account]").fill("6217000000000001")
    await form.locator("[name=voucher_no]").fill(f"V-{walk.loan_id}")
    await form.locator("[name=disbursed_on]").fill(dt.date.today().isoformat())
    await form.locator("button[type=submit]").click()
    dialog = clerk.locator("dialog[data-step-up-dialog]")
    await dialog.wait_for(state="visible")
    await dialog.locator("[data-testid=step-up-file]").set_input_files(_scan(scans, "107_3"))
    async with clerk.expect_navigation():
        await dialog.locator("[data-testid=step-up-confirm]").click()
    assert await walk.stage() == "active"
    assert await clerk.inner_text("[data-testid=stage]") == "贷后管理"
