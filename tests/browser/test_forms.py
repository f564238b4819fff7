"""Forms tell the truth: a sent application's form is gone; a failed progress lookup leaves no
earlier answer on screen; an action opens as soon as its documents are filed, without a reload;
people are offered only what they may do (no roles they cannot grant, no officers of another
office, no second committee form on the loan page)."""
from __future__ import annotations

import re

import pytest

from tests.archive.samples import jpeg
from tests.loans.walk import Walk
from tests.suite import sign_in_page, start_suite, suite_config

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def suite(tmp_path, database_url):
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()


def base_of(suite) -> str:
    return str(suite.server.make_url("")).rstrip("/")


async def test_the_portal_hides_a_sent_application_and_clears_a_failed_lookup(suite, browser):
    base = base_of(suite)
    page = await (await browser.new_context(locale="zh-CN")).new_page()
    await page.goto(f"{base}/portal")
    await page.fill("input[name=customer_name]", "王五")
    await page.fill("input[name=id_number]", "11010119800101123X")
    await page.fill("input[name=phone]", "13700000000")
    await page.fill("input[name=amount]", "50000")
    await page.fill("input[name=term_months]", "12")
    await page.fill("textarea[name=purpose]", "购买饲料")
    await page.click("form[data-portal=apply] button[type=submit]")
    await page.wait_for_selector("[data-testid=apply-result]:not([hidden])")
    # hidden for real (the grid layout does not bring it back), so it cannot be sent twice
    assert not await page.locator("form[data-portal=apply]").is_visible()
    assert await page.locator("form[data-portal=apply] button").is_hidden()
    code = (await page.inner_text("[data-testid=tracking-code]")).strip()

    await page.goto(f"{base}/portal/progress?code={code}")
    await page.fill("input[name=who]", "13700000000")
    await page.click("form[data-portal=progress] button[type=submit]")
    await page.wait_for_selector("[data-testid=progress-result]:not([hidden])")
    assert await page.inner_text("[data-testid=progress-stage]") == "待初审"
    # a lookup that fails: the earlier case's answer goes away, the refusal is in Chinese
    await page.fill("input[name=who]", "13999999999")
    await page.click("form[data-portal=progress] button[type=submit]")
    await page.wait_for_selector("#toast.show.error")
    assert not await page.locator("[data-testid=progress-result]").is_visible()
    assert await page.inner_text("[data-testid=progress-stage]") == ""
    assert "没有与该受理编号" in await page.inner_text("#toast")


async def test_an_action_opens_when_its_documents_are_uploaded_without_a_reload(suite, browser, tmp_path):
    walk = await Walk(suite).start()
    await walk.apply()
    base = base_of(suite)
    page = await sign_in_page(browser, base, "intake.head")
    await page.goto(f"{base}/loans/{walk.loan_id}")
    blocked = page.locator("details[data-action=preliminary_pass] [data-testid=blocked]")
    assert "缺少资料：借款申请书（APP-FORM）、身份证件（ID-CARD）" in await blocked.text_content()
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    scan = tmp_path / "scan.jpg"
    scan.write_bytes(jpeg("scan"))
    panel = page.locator("[data-testid=upload-panel]")
    await panel.locator("select[name=code] option[value=APP-FORM]").wait_for(state="attached")
    for code in ("APP-FORM", "ID-CARD"):
        await panel.locator("select[name=code]").select_option(code)
        await panel.locator("input[name=files]").set_input_files(str(scan))
        await panel.locator("button[type=submit]").click()
        await page.wait_for_selector(f"[data-testid=filed-pages] li[data-code={code}]")
    await page.wait_for_selector("details[data-action=preliminary_pass] form[data-command]")
    assert await page.locator("details[data-action=preliminary_pass] [data-testid=blocked]").count() == 0
    assert navigations == [], "the page was not reloaded"
    # the panel offers the phone's camera as well as files
    assert await panel.locator("input[type=file][capture][accept='image/*']").count() == 1


async def test_dispatch_pickers_follow_the_chosen_office(suite, browser):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("dispatch")
    base = base_of(suite)
    page = await sign_in_page(browser, base, "intake.head")
    await page.goto(f"{base}/loans/{walk.loan_id}")
    form = page.locator("details[data-action=dispatch_officers] form")
    office = form.locator("select[name=office]")

    async def visible_offices(slot: str) -> set[str]:
        return set(await form.locator(f"select[name={slot}]").evaluate(
            "s => [...s.options].filter(o => !o.hidden).map(o => o.dataset.office)"))

    chosen = await office.input_value()
    assert await visible_offices("officer_a") == {chosen} == await visible_offices("officer_b")
    other = str(walk.offices["SC-W"])
    await office.select_option(other)
    assert await visible_offices("officer_a") == {other} == await visible_offices("officer_b")
    picked = await form.locator("select[name=officer_a]").evaluate("s => s.options[s.selectedIndex].dataset.office")
    assert picked == other


async def test_pages_offer_only_what_the_person_may_do(suite):
    officer = await suite.login("officer.e.a")
    html = await (await officer.request("GET", "/admin/users")).text()
    assert 'data-testid="new-user"' not in html and 'name="roles"' not in html and 'data-api="/api/users' not in html
    admin = await suite.login("admin")
    html = await (await admin.request("GET", "/admin/users")).text()
    new_user = html[html.index('data-testid="new-user"'):]
    # applicants sign up on the portal: not a role to give a new staff member
    assert 'value="admin"' in new_user and 'value="applicant"' not in new_user

    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("committee")
    convener = await suite.login("convener")
    html = await (await convener.request("GET", f"/loans/{walk.loan_id}")).text()
    assert 'data-action="convene_committee"' not in html  # the committee page calls the meeting
    assert re.search(rf'href="/committee/loans/{walk.loan_id}"', html)
