"""Three headless Chromium pages (fake camera and microphone) in one committee meeting: the
convener calls it from the setup page, everyone decodes the others' video (getStats), the
convener moves the phases, a member votes, the convener closes the vote and sees the result."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.orm import LoanDuty, User
from tests.suite import DEMO_PASSWORD, browser_page
from tests.waiting import limit

from .meeting import CONFLICTED, Meeting


async def sign_in(browser, base: str, username: str):
    page = await browser_page(browser)
    page.on("console", lambda m: m.type == "error" and print(f"[{username}] {m.text}"))
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


async def decoded(page) -> dict:
    return await page.evaluate("window.committeeRoom ? window.committeeRoom.stats() : {}")


async def wait_decoding(page, others: int, timeout: float = 40) -> dict:
    deadline = asyncio.get_running_loop().time() + limit(timeout)
    while True:
        stats = await decoded(page)
        if len(stats) >= others and all(v > 0 for v in stats.values()):
            return stats
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"frames decoded per publisher: {stats}")
        await asyncio.sleep(0.5)


async def test_three_browsers_meet_and_vote(suite, browser):
    base = str(suite.server.make_url("/")).rstrip("/")
    offices, users = await suite.ids()
    loan_id = await suite.add_loan(office="SC-E", stage="committee", officer_a="officer.e.a", officer_b="officer.e.b")
    async with suite.services.db.unit_of_work() as session:
        session.add(LoanDuty(loan_id=loan_id, user_id=users[CONFLICTED], duty="review"))

    convener = await sign_in(browser, base, "convener")
    await convener.goto(f"{base}/committee/loans/{loan_id}")
    # the meeting's time has come (deliberation waits for it): a minute ago, in the page's zone
    just_now = await convener.evaluate("""() => { const d = new Date(Date.now() - 60000);
        d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); }""")
    await convener.fill("[data-testid=meeting-at]", just_now)
    await convener.click("[data-testid=convene]")
    await convener.wait_for_url(lambda url: "/committee/meetings/" in url)
    meeting_url = convener.url
    assert await convener.locator("[data-testid=draw-record]").count() == 1
    assert "✔" in await convener.locator("[data-testid=draw-record] h2").inner_text()
    # the draw record names people (their ids stay in the markup, as the record keeps them)
    panel = [await person.get_attribute("data-user-id")
             for person in await convener.locator("[data-testid=panel] [data-user-id]").all()]
    async with suite.services.db.unit_of_work(write=False) as session:
        display = dict((await session.execute(select(User.id, User.display_name).where(
            User.id.in_([int(i) for i in panel])))).all())
    assert (await convener.locator("[data-testid=panel]").inner_text()).split(", ") == [
        display[int(i)] for i in panel]
    names = {str(v): k for k, v in users.items()}
    names_by_id = {v: k for k, v in users.items()}
    voter, other = names[panel[0]], names[panel[1]]

    members = [await sign_in(browser, base, name) for name in (voter, other)]
    for page in members:
        await page.goto(meeting_url)
    pages = [convener, *members]
    for page in pages:
        assert await page.locator("[data-testid=my-role]").get_attribute("data-role") in ("convener", "member")
        assert await page.locator("[data-testid=my-role]").inner_text() in ("召集人", "委员")
    # everyone decodes the two others' video
    for page in pages:
        stats = await wait_decoding(page, 2)
        assert len(stats) == 2, stats

    async def to_phase(phase_label: str):
        await convener.click("[data-testid=next-phase]")
        for page in pages:
            await page.wait_for_function(
                "label => document.querySelector('[data-testid=phase]').textContent.includes(label)",
                arg=phase_label)

    await to_phase("汇报答询")
    # the rest of the panel takes its seats without a browser (the default quorum: every seat)
    meeting = Meeting(suite, loan_id, {"id": int(meeting_url.rstrip("/").rsplit("/", 1)[1])}, users, names_by_id)
    meeting.view = await meeting.get()
    await meeting.seat(*[m for m in meeting.members() if m not in (voter, other)])
    await meeting.wait_present(voter, other)
    await to_phase("闭门审议")
    await to_phase("表决")
    ballot = members[0]
    await ballot.wait_for_selector("[data-testid=vote-panel]:not([hidden])")
    await ballot.check("input[name=choice][value=approve]")
    await ballot.fill("[data-testid=opinion]", "同意：经营稳定")
    await ballot.click("[data-testid=cast-vote]")
    await ballot.wait_for_selector("[data-testid=voted]:not([hidden])")
    # the convener closes the vote; the result shows to the meeting's members
    await convener.click("[data-testid=next-phase]")
    await convener.wait_for_selector("[data-testid=result]")
    result = await convener.locator("[data-testid=result]").inner_text()
    assert "同意：经营稳定" in result and "未投票" in result
    await ballot.wait_for_selector("[data-testid=result]")
    await meeting.leave_all()
