"""In a real browser: two roles sign in and each sees its own work queue and nothing else."""
from __future__ import annotations

import base64

import pytest

from tests.loans.walk import STAFF_PROBE, enroll_first_admin, fresh_capture
from tests.suite import sign_in_page

# One database is enough for what a browser shows; the API tests cover both.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_two_roles_see_their_own_queues(suite, browser):
    east = await suite.add_loan(office="SC-E", stage="investigation", officer_a="officer.e.a",
                                officer_b="officer.e.b", customer="东区客户")
    review = await suite.add_loan(office="CU-CG", stage="review", officer_a="officer.cg", customer="城关客户")
    base = str(suite.server.make_url("")).rstrip("/")

    officer = await sign_in_page(browser, base, "officer.e.a")
    queue = await officer.inner_text("[data-testid=queue]")
    assert "东区客户" in queue and "城关客户" not in queue
    assert "城关客户" not in await officer.inner_text("[data-testid=cases]")
    assert await officer.inner_text("[data-testid=queue-count]") == "1"
    response = await officer.goto(f"{base}/loans/{review}")
    assert response.status == 404

    reviewer = await sign_in_page(browser, base, "reviewer")
    queue = await reviewer.inner_text("[data-testid=queue]")
    assert "城关客户" in queue and "东区客户" not in queue
    # The reviewer opens the case and adds a note through the page's JavaScript (CSRF header).
    await reviewer.click("[data-testid=queue] tr:has-text(\"城关客户\") a")
    await reviewer.wait_for_url(f"{base}/loans/{review}")
    await reviewer.fill("textarea[name=text]", "材料齐全")
    await reviewer.click("form[data-api] button[type=submit]")
    await reviewer.wait_for_selector("[data-testid=notes] >> text=材料齐全")
    response = await reviewer.goto(f"{base}/loans/{east}")
    assert response.status == 404

    # Signing out really ends the session: the page goes back to the login form.
    await officer.goto(f"{base}/queue")
    await officer.click("header form button[type=submit]")
    await officer.wait_for_url(f"{base}/login")
    await officer.goto(f"{base}/queue")
    assert officer.url == f"{base}/login"


async def test_administrator_creates_a_user_in_the_page(suite, browser, tmp_path):
    base = str(suite.server.make_url("")).rstrip("/")
    await enroll_first_admin(suite)
    admin = await sign_in_page(browser, base, "admin")
    await admin.goto(f"{base}/admin/users")
    form = admin.locator("form[data-api='/api/users']")
    await form.locator("input[name=username]").fill("officer.page")
    await form.locator("input[name=display_name]").fill("页面新建")
    await form.locator("input[name=password]").fill("Created in the page 2026")
    await form.locator("input[value=loan_officer]").check()
    await form.locator("button[type=submit]").click()
    # A new account with a password and roles is a credential: the administrator confirms it
    # with their own print in the step-up dialog.
    dialog = admin.locator("dialog[data-step-up-dialog]")
    await dialog.wait_for(state="visible")
    probe = tmp_path / "probe.png"
    probe.write_bytes(base64.b64decode(fresh_capture(STAFF_PROBE)))
    await dialog.locator("[data-testid=step-up-file]").set_input_files(str(probe))
    await dialog.locator("[data-testid=step-up-confirm]").click()
    await admin.wait_for_selector("[data-testid=users] >> text=officer.page")
