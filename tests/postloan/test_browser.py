"""In a real browser: the post-loan manager records an inspection; the chairman opens the
statistics and sees the chart and the late cases."""
import datetime as dt

import pytest
from sqlalchemy import update

from core.orm import Loan
from core.postloan.tables import PrintVerification
from tests.postloan.helpers import PDF, disbursed
from tests.suite import sign_in_page

# One database is enough for what a browser shows; the API tests cover both.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_manager_records_inspection_and_chairman_sees_chart_and_late_cases(suite, browser, tmp_path):
    walk = await disbursed(suite, dt.date.today() - dt.timedelta(days=20))
    late = await suite.add_loan(office="CU-HK", stage="review", officer_a="officer.hk", customer="超时客户")
    async with suite.services.db.unit_of_work() as session:
        await session.execute(update(Loan).where(Loan.id == late).values(
            due_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30)))
        loan = await session.get(Loan, walk.loan_id)
        session.add(PrintVerification(loan_id=loan.id, customer_id=loan.customer_id, matched=True, score=90))
    scan = tmp_path / "inspection.pdf"
    scan.write_bytes(PDF)
    base = str(suite.server.make_url("")).rstrip("/")

    manager = await sign_in_page(browser, base, "postloan.cg")
    await manager.goto(f"{base}/postloan")
    await manager.click(f"[data-testid=managed-loans] a:has-text(\"{loan.tracking_code}\")")
    await manager.wait_for_url(f"{base}/postloan/loans/{walk.loan_id}")
    await manager.select_option("select[name=kind]", "inspection")
    await manager.fill("textarea[name=summary]", "实地检查：经营正常，资金用途相符")
    await manager.set_input_files("input[type=file]", str(scan))
    await manager.click("[data-testid=record-form] button[type=submit]")
    await manager.wait_for_selector("[data-testid=records] >> text=实地检查：经营正常")
    assert "贷后检查报告" in await manager.inner_text("[data-testid=records]")

    chairman = await sign_in_page(browser, base, "chairman")
    await chairman.goto(f"{base}/insight")
    assert await chairman.locator("[data-testid=chart] svg rect.bar").count() >= 2
    assert await chairman.inner_text("[data-testid=late-count]") == "1"
    assert "河口信用社" in await chairman.inner_text("[data-testid=late-cases]")
