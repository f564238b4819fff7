"""An officer in the field on a phone (390×844): every page of their path fits the screen (no
sideways scrolling), every control is at least 44 px to the finger, the upload panel takes a
photo with the camera and the stage form is sent by touch; the reviewer's and the members' pages
on a phone; the committee room on a tablet, where the convener moves the meeting on by touch."""
from __future__ import annotations

import pytest

from tests.committee_service.meeting import convene
from tests.loans.walk import Walk
from tests.suite import DEMO_PASSWORD, file_documents, scanned_page, start_suite, suite_config

# What a page looks like does not depend on the database: one is enough, except for the
# officer's path, which runs on SQLite and on PostgreSQL (the `database_url` fixture's two).
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 820, "height": 1180}, "is_mobile": True, "has_touch": True}

# Controls smaller than 44 px, and how much wider than the screen the page is.
MEASURE = """() => {
  const small = [];
  for (const el of document.querySelectorAll('a, button, summary, select, textarea, input, label.chip, label.choice')) {
    if (el.type === 'hidden' || el.type === 'checkbox' || el.type === 'radio') continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || el.closest('[hidden], dialog:not([open])')) continue;  // not shown
    if (box.height < 44 || box.width < 44) small.push(`${el.tagName} ${(el.textContent || el.name || '').trim().slice(0, 20)} ${Math.round(box.width)}x${Math.round(box.height)}`);
  }
  return { overflow: document.scrollingElement.scrollWidth - window.innerWidth, width: window.innerWidth, small };
}"""


@pytest.fixture
async def suite(tmp_path, database_url):
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()


async def signed_in(browser, base: str, username: str, device: dict):
    page = await (await browser.new_context(locale="zh-CN", **device)).new_page()
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/queue")
    return page


async def fits(page, url: str | None = None) -> None:
    """The page (``url``, or the one shown now) fits the screen and every control takes a finger."""
    if url:
        await page.goto(url)
        await page.wait_for_load_state("networkidle")
    found = await page.evaluate(MEASURE)
    assert found["overflow"] <= 0 and found["width"] == page.viewport_size["width"], (url, found)
    assert not found["small"], (url, found["small"][:10])


@ON_SQLITE
async def test_the_officers_path_on_a_phone(suite, browser):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation")
    base = str(suite.server.make_url("")).rstrip("/")
    phone = await signed_in(browser, base, "officer.e.a", PHONE)
    for path in ("/queue", f"/loans/{walk.loan_id}", f"/loans/{walk.loan_id}/fingerprints/enroll",
                 "/me/fingerprints", "/archive"):
        await fits(phone, f"{base}{path}")
    # from the queue to the case by touch
    await phone.goto(f"{base}/queue")
    await phone.locator("[data-testid=queue] a").first.tap()
    await phone.wait_for_url(f"{base}/loans/{walk.loan_id}")
    camera = phone.locator("[data-testid=upload-panel] input[type=file][accept='image/*'][capture]")
    assert await camera.count() == 1 and await camera.is_visible()
    for english in (True, False):  # both languages fit
        await phone.goto(f"{base}/lang/{'en' if english else 'zh'}")
        await fits(phone, f"{base}/loans/{walk.loan_id}")


@ON_SQLITE
async def test_the_reviewer_and_the_committee_on_a_tablet(suite, browser):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("committee")
    base = str(suite.server.make_url("")).rstrip("/")
    reviewer = await signed_in(browser, base, "reviewer", TABLET)
    await fits(reviewer, f"{base}/loans/{walk.loan_id}")
    convener = await signed_in(browser, base, "convener", TABLET)
    await fits(convener, f"{base}/committee/loans/{walk.loan_id}")


async def test_the_officer_records_the_investigation_from_a_phone(suite, browser):
    """Work queue → the case → the photo of the site taken with the phone's camera → the
    investigation form, which opens as soon as the photo is filed → sent; every screen fits."""
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation")
    # everything but the site photos is already in the file; the prints were enrolled at the desk
    await file_documents(suite, walk.loan_id, "INCOME-PROOF", "CREDIT-REPORT", "INV-REPORT", "FP-CAPTURE")
    await walk.flag("prints_enrolled")
    base = str(suite.server.make_url("")).rstrip("/")
    phone = await signed_in(browser, base, "officer.e.a", PHONE)
    await fits(phone, f"{base}/queue")
    await phone.locator(f"[data-testid=queue] a[href='/loans/{walk.loan_id}']").tap()
    await phone.wait_for_url(f"{base}/loans/{walk.loan_id}")
    await phone.wait_for_selector("[data-testid=filed-pages] li")
    await fits(phone)
    form = phone.locator("details[data-action=record_investigation] form")
    assert await form.count() == 0  # waits for the photos: blocked, with the reason
    assert await phone.locator("details[data-action=record_investigation] [data-testid=blocked]").count() == 1

    panel = phone.locator("[data-testid=upload-panel]")
    await panel.locator("select[name=code]").select_option("INV-PHOTOS")
    await panel.locator("input[type=file][accept='image/*'][capture]").set_input_files(
        {"name": "site.png", "mimeType": "image/png", "buffer": scanned_page("site photo")})
    await panel.locator("button[type=submit]").tap()
    await phone.wait_for_selector("[data-testid=filed-pages] li[data-code=INV-PHOTOS]")
    await form.wait_for()  # the action opened without a reload
    await fits(phone)

    details = phone.locator("details[data-action=record_investigation]")
    if not await details.evaluate("d => d.open"):
        await details.locator("summary").tap()
    await form.locator("textarea[name=items]").fill("收入: 稳定\n经营: 正常")
    await form.locator("select[name=conclusion]").select_option("recommend")
    await form.locator("textarea[name=opinion]").fill("实地走访，经营正常")
    await fits(phone)
    await form.locator("button[type=submit]").tap()
    await phone.wait_for_function(
        "name => document.querySelector('[data-testid=stage]')?.textContent.trim() === name",
        arg=suite.services.workflow.current.stages["investigation_check"].name_zh)
    assert await walk.stage() == "investigation_check"
    await fits(phone)


@ON_SQLITE
async def test_the_reviewer_and_a_member_on_a_phone_and_the_room_on_a_tablet(suite, browser):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("review")
    base = str(suite.server.make_url("")).rstrip("/")
    reviewer = await signed_in(browser, base, "reviewer", PHONE)
    await fits(reviewer, f"{base}/queue")
    await fits(reviewer, f"{base}/loans/{walk.loan_id}")

    meeting = await convene(suite)
    room = f"{base}/committee/meetings/{meeting.id}"
    convener = await signed_in(browser, base, "convener", TABLET)
    await fits(convener, room)
    voter = meeting.members()[0]
    member = await signed_in(browser, base, voter, PHONE)
    await fits(member, f"{base}/queue")
    await fits(member, room)
    await meeting.seat(*[m for m in meeting.members() if m != voter])
    await meeting.wait_present(voter)

    for phase in ("open", "deliberation", "voting"):
        await convener.locator("[data-testid=next-phase]").tap()
        for page in (convener, member):
            await page.wait_for_function(
                "phase => document.querySelector('[data-testid=phase]').dataset.phase === phase", arg=phase)
    await fits(convener)
    await member.wait_for_selector("[data-testid=vote-panel]:not([hidden])")
    await fits(member)
    await member.locator("label.choice:has(input[value=approve])").tap()
    await member.fill("[data-testid=opinion]", "同意：经营稳定")
    await member.locator("[data-testid=cast-vote]").tap()
    await member.wait_for_selector("[data-testid=voted]:not([hidden])")
    await meeting.leave_all()
