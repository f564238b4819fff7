"""The committee room as people use it, in Chromium: nine tiles fit a 1366×768 laptop screen,
mute and camera buttons, the speaking indicator, the draw record with names, and the phase
banner of an officer sent away when deliberation begins."""
from __future__ import annotations

from sqlalchemy import select

from core.orm import User
from tests.suite import sign_in_page
from web.i18n import LABELS

from .meeting import convene
from .test_committee_browser import wait_decoding

LAPTOP = {"width": 1366, "height": 768}


async def test_room_ui_grid_controls_speaking_and_draw_names(suite, browser):
    base = str(suite.server.make_url("/")).rstrip("/")
    meeting = await convene(suite)
    member = meeting.members()[0]
    await meeting.phase("open")
    url = f"{base}/committee/meetings/{meeting.id}"
    convener = await sign_in_page(browser, base, "convener")
    await convener.set_viewport_size(LAPTOP)
    other = await sign_in_page(browser, base, member)
    for page in (convener, other):
        await page.goto(url)
    for page in (convener, other):
        await wait_decoding(page, 1)
    member_tile = f"[data-tile='{meeting.users[member]}']"

    # the speaking indicator follows the audio level (the fake microphone beeps)
    await convener.wait_for_selector(f"{member_tile}[data-speaking=true]")

    # mute and camera: the tracks are disabled, the buttons say what a click does now
    await convener.click("[data-testid=mute]")
    assert await convener.get_attribute("[data-testid=mute]", "aria-pressed") == "true"
    assert await convener.inner_text("[data-testid=mute]") == LABELS["cm_media_unmute"]["zh"]
    assert await convener.evaluate("() => window.committeeRoom.media.getAudioTracks().every((t) => !t.enabled)")
    await convener.click("[data-testid=camera]")
    assert await convener.inner_text("[data-testid=camera]") == LABELS["cm_media_camera_on"]["zh"]
    assert await convener.evaluate("() => window.committeeRoom.media.getVideoTracks().every((t) => !t.enabled)")
    await convener.wait_for_selector("[data-tile=me][data-speaking=false]")
    await convener.click("[data-testid=mute]")
    assert await convener.evaluate("() => window.committeeRoom.media.getAudioTracks().every((t) => t.enabled)")
    assert await convener.inner_text("[data-testid=mute]") == LABELS["cm_media_mute"]["zh"]

    # nine people: every tile within a 1366×768 window at once
    await convener.evaluate("""() => { for (let i = 0; i < 7; i++) window.committeeRoom.tile(`extra${i}`, `委员${i}`); }""")
    assert await convener.locator("[data-tiles] > [data-tile]").count() == 9
    boxes = await convener.evaluate("""() => {
        document.querySelector('[data-tiles]').scrollIntoView({ block: 'start' });
        return [...document.querySelectorAll('[data-tiles] > [data-tile]')].map((t) => {
          const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }); }""")
    for left, top, right, bottom in boxes:
        assert 0 <= left and right <= LAPTOP["width"] and 0 <= top and bottom <= LAPTOP["height"], boxes
    assert await convener.evaluate("() => getComputedStyle(document.querySelector('[data-tiles]')).gridTemplateColumns.split(' ').length") == 3

    # the draw record shows people's names, not their user ids
    panel = [int(await p.get_attribute("data-user-id"))
             for p in await convener.locator("[data-testid=panel] [data-user-id]").all()]
    async with suite.services.db.unit_of_work(write=False) as session:
        names = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(panel)))).all())
    shown = (await convener.inner_text("[data-testid=panel]")).split(", ")
    assert shown == [names[i] for i in panel] and not any(name.isdigit() for name in shown)
    for page in (convener, other):
        await page.context.close()


async def test_room_ui_officer_banner_after_deliberation_begins(suite, browser):
    base = str(suite.server.make_url("/")).rstrip("/")
    meeting = await convene(suite)
    await meeting.phase("open")
    officer = await sign_in_page(browser, base, "officer.e.a")
    await officer.goto(f"{base}/committee/meetings/{meeting.id}")
    await officer.wait_for_selector("[data-testid=connection][data-state=live]")
    try:
        await meeting.seat_panel()
        await meeting.phase("deliberation")
        # sent away with the banner on the phase the meeting is in and why, in the catalogue's words
        await officer.wait_for_selector("[data-testid=phase][data-phase=deliberation]")
        assert await officer.inner_text("[data-testid=phase]") == LABELS["phase_deliberation"]["zh"]
        await officer.wait_for_function(
            "text => document.querySelector('[data-testid=room-message]').textContent === text",
            arg=LABELS["cm_officers_done"]["zh"])
        assert await officer.get_attribute("[data-testid=connection]", "data-state") == "lost"
    finally:
        await meeting.leave_all()
        await officer.context.close()
