"""An officer in the field on a phone (390×844): every page of their path fits the screen (no
sideways scrolling), every control is at least 44 px to the finger, the upload panel takes a
photo with the camera; and the reviewer's and committee's pages on a tablet."""
from __future__ import annotations

import pytest

from tests.loans.walk import Walk
from tests.suite import DEMO_PASSWORD, start_suite, suite_config

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 768, "height": 1024}, "is_mobile": True, "has_touch": True}

# Controls smaller than 44 px, and how much wider than the screen the page is.
MEASURE = """() => {
  const small = [];
  for (const el of document.querySelectorAll('a, button, summary, select, textarea, input, label.chip, label.choice')) {
    if (el.type === 'hidden' || el.type === 'checkbox' || el.type === 'radio') continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || el.closest('[hidden], dialog:not([open])')) continue;  // not shown
    if (box.height < 44 || box.width < 44) small.push(`${el.tagName} ${(el.textContent || el.name || '').trim().slice(0, 20)} ${Math.round(box.width)}x${Math.round(box.height)}`);
  }
  return { overflow: document.documentElement.scrollWidth - window.innerWidth, width: window.innerWidth, small };
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


async def fits(page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    found = await page.evaluate(MEASURE)
    assert found["overflow"] <= 0 and found["width"] == page.viewport_size["width"], (url, found)
    assert not found["small"], (url, found["small"][:10])


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


async def test_the_reviewer_and_the_committee_on_a_tablet(suite, browser):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("committee")
    base = str(suite.server.make_url("")).rstrip("/")
    reviewer = await signed_in(browser, base, "reviewer", TABLET)
    await fits(reviewer, f"{base}/loans/{walk.loan_id}")
    convener = await signed_in(browser, base, "convener", TABLET)
    await fits(convener, f"{base}/committee/loans/{walk.loan_id}")
