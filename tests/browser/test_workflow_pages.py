"""In a real browser: an applicant applies on the portal and reads the progress; the intake
head passes and dispatches the case; officer A records the investigation, officer B confirms;
the reviewer finds it in the work queue."""
from __future__ import annotations

import json

import pytest

from core.orm import Loan
from tests.suite import browser_page, file_documents, sign_in_page, start_suite, suite_config

# One database is enough for what a browser shows; the API tests cover both.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _page(browser):
    return await browser_page(browser)


async def _act(page, action: str, fields: dict[str, str] | None = None, selects: dict[str, str] | None = None):
    block = page.locator(f"details[data-action={action}]")
    if await block.get_attribute("open") is None:
        await block.locator("summary").click()
    form = block.locator("form")
    for name, value in (fields or {}).items():
        await form.locator(f"[name={name}]").fill(value)
    for name, value in (selects or {}).items():
        await form.locator(f"select[name={name}]").select_option(value)
    async with page.expect_navigation():
        await form.locator("button[type=submit]").click()


@pytest.fixture
async def suite(tmp_path, database_url):
    """The suite without the fingerprint step-up: this test follows the pages of the workflow;
    the step-up dialog has its own browser test (tests/biometrics_service/test_desk_browser.py)."""
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()


async def _prints_enrolled(suite, loan_id: int) -> None:
    """Investigation enrollment of the prints is exercised in tests/biometrics_service."""
    async with suite.services.db.unit_of_work() as session:
        loan = await session.get(Loan, loan_id)
        loan.flags = json.dumps(sorted(set(json.loads(loan.flags)) | {"prints_enrolled"}))


async def test_portal_to_review_queue(suite, browser):
    base = str(suite.server.make_url("")).rstrip("/")
    offices, users = await suite.ids()

    applicant = await _page(browser)
    await applicant.goto(f"{base}/portal")
    await applicant.fill("input[name=customer_name]", "王五")
    await applicant.fill("input[name=id_number]", "11010119800101123X")
    await applicant.fill("input[name=phone]", "13700000000")
    await applicant.select_option("select[name=product]", "personal_business")
    await applicant.fill("input[name=amount]", "150000")
    await applicant.fill("input[name=term_months]", "24")
    await applicant.fill("textarea[name=purpose]", "购买饲料")
    await applicant.click("form[data-portal=apply] button[type=submit]")
    await applicant.wait_for_selector("[data-testid=apply-result]:not([hidden])")
    code = (await applicant.locator("[data-testid=tracking-code]").inner_text()).strip()
    assert len(code) == 12

    await applicant.goto(f"{base}/portal/progress?code={code}")
    await applicant.fill("input[name=who]", "11010119800101123x")
    await applicant.click("form[data-portal=progress] button[type=submit]")
    await applicant.wait_for_selector("[data-testid=progress-result]:not([hidden])")
    assert await applicant.inner_text("[data-testid=progress-stage]") == "待初审"

    intake = await sign_in_page(browser, base, "intake.head")
    row = intake.locator("[data-testid=queue] tr", has_text="王五")
    await row.locator("a").click()
    loan_id = int(intake.url.rsplit("/", 1)[1])
    await file_documents(suite, loan_id, "APP-FORM", "ID-CARD")
    await intake.reload()
    await _act(intake, "preliminary_pass", {"opinion": "材料齐全"})
    await _act(intake, "main_review_pass", {"opinion": "符合准入"}, {"risk_level": "low"})
    assert "派单规则建议" in await intake.inner_text("[data-testid=suggestion]")
    await _act(intake, "dispatch_officers", selects={
        "route": "sub_center", "office": str(offices["SC-E"]), "officer_a": str(users["officer.e.a"]),
        "officer_b": str(users["officer.e.b"])})
    assert await intake.inner_text("[data-testid=stage]") == "调查（A角）"

    officer_a = await sign_in_page(browser, base, "officer.e.a")
    await officer_a.locator("[data-testid=queue] tr", has_text="王五").locator("a").click()
    await file_documents(suite, loan_id, "INCOME-PROOF", "CREDIT-REPORT", "INV-REPORT", "INV-PHOTOS", "FP-CAPTURE")
    await _prints_enrolled(suite, loan_id)
    await officer_a.reload()
    await _act(officer_a, "record_investigation", {"items": "经营: 养殖场存栏300头\n收入: 稳定", "opinion": "实地调查属实"},
               {"conclusion": "recommend"})
    officer_b = await sign_in_page(browser, base, "officer.e.b")
    await officer_b.goto(f"{base}/loans/{loan_id}")
    await _act(officer_b, "confirm_investigation", {"opinion": "同意A角意见"})

    reviewer = await sign_in_page(browser, base, "reviewer")
    queue = await reviewer.inner_text("[data-testid=queue]")
    assert "王五" in queue
    await reviewer.goto(f"{base}/loans/{loan_id}")
    history = await reviewer.inner_text("[data-testid=history]")
    assert "提交调查" in history and "调查复核（B角） → 审查" in history
    await applicant.goto(f"{base}/portal/progress?code={code}")
    await applicant.fill("input[name=who]", "13700000000")
    await applicant.click("form[data-portal=progress] button[type=submit]")
    await applicant.wait_for_selector("[data-testid=progress-result]:not([hidden])")
    assert await applicant.inner_text("[data-testid=progress-stage]") == "审查"
