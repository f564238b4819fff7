"""Reconnection in Chromium, on SQLite and PostgreSQL: a member's page loses its sending
connection (closed from the page, as a dropped link leaves it); the page builds a fresh one by
itself, the other page's tile for that member goes reconnecting and back to live with new
frames, the page's own banner is live again, and the recording holds both segments. Then the
member's media stops with ICE still up: the server finds it and the page rebuilds on its word.
Last its signaling link drops: it reconnects, takes its seat again, and its media comes back."""
from __future__ import annotations

import asyncio

from committee.app import MEDIA
from tests.suite import sign_in_page
from tests.waiting import BROWSER_PATIENCE_MS, limit

from committee_peers import wait_for  # tests/committee, on sys.path (conftest)

from .meeting import convene
from .test_committee_browser import wait_decoding

# Every change of a tile's state, kept by the page for the test to read.
RECORD_TILE_STATES = """() => {
  window.tileStates = [];
  new MutationObserver((changes) => changes.forEach((c) => window.tileStates.push(
    [c.target.dataset.tile, c.target.dataset.state]))).observe(
    document.querySelector('[data-tiles]'), { attributes: true, subtree: true, attributeFilter: ['data-state'] });
}"""


async def frames_from(page, publisher: str) -> int:
    return (await page.evaluate("window.committeeRoom.stats()")).get(publisher, 0)


async def test_reconnect_in_chromium_page_rebuilds_its_connection(reconnect_suite, browser):
    suite = reconnect_suite
    base = str(suite.server.make_url("/")).rstrip("/")
    media = suite.server.app[MEDIA]
    meeting = await convene(suite)
    member = meeting.members()[0]
    member_id = str(meeting.users[member])
    await meeting.phase("open")
    url = f"{base}/committee/meetings/{meeting.id}"
    convener_page = await sign_in_page(browser, base, "convener")
    member_page = await sign_in_page(browser, base, member)
    for page in (convener_page, member_page):
        await page.goto(url)
    for page in (convener_page, member_page):
        await wait_decoding(page, 1)
    await member_page.wait_for_selector("[data-testid=connection][data-state=live]")
    tile = f"[data-tile='{member_id}']"
    await convener_page.wait_for_selector(f"{tile}[data-state=live]")
    await convener_page.evaluate(RECORD_TILE_STATES)

    # the member's sending connection dies
    await member_page.evaluate("window.committeeRoom.publisher.close()")
    await member_page.wait_for_function("() => window.committeeRoom.reconnects >= 1", timeout=BROWSER_PATIENCE_MS)
    await member_page.wait_for_selector("[data-testid=connection][data-state=live]")
    assert await member_page.locator("[data-testid=connection]").inner_text() == "您的连接正常"
    # the convener's tile for the member: reconnecting, then live again with new frames
    await convener_page.wait_for_function(
        f"() => window.tileStates.some(([id, s]) => id === '{member_id}' && s === 'reconnecting')")
    await convener_page.wait_for_selector(f"{tile}[data-state=live]")
    assert await convener_page.locator(f"{tile} [data-tile-state]").inner_text() == "在线"
    resumed = await frames_from(convener_page, member_id)
    deadline = asyncio.get_running_loop().time() + limit(10)
    while await frames_from(convener_page, member_id) <= resumed + 5:
        assert asyncio.get_running_loop().time() < deadline, "no new frames from the reconnected member"
        await asyncio.sleep(0.2)
    assert await frames_from(member_page, str(meeting.users["convener"])) > 0

    manifest = media.recorders[meeting.code].manifest
    await wait_for(lambda: len([t for t in manifest.segments(member_id, "video") if t.start is not None]) == 2,
                   20, "the member's second recorded segment")
    assert [t.segment for t in manifest.segments(member_id, "video")] == [1, 2]
    assert [t.segment for t in manifest.segments(str(meeting.users["convener"]), "video")] == [1]
    view = await meeting.get()
    events = [a["event"] for a in view["attendance"] if a["user_id"] == meeting.users[member]]
    assert events == ["join", "reconnect"], view["attendance"]

    # its media stops while ICE still looks fine to the page: only the server can tell, and
    # its word is enough for the page to rebuild
    await convener_page.evaluate("() => { window.tileStates = []; }")
    await member_page.evaluate("() => window.committeeRoom.publisher.getSenders().forEach((s) => s.replaceTrack(null))")
    await member_page.wait_for_function("() => window.committeeRoom.reconnects >= 2", timeout=BROWSER_PATIENCE_MS)
    await convener_page.wait_for_function(
        f"() => window.tileStates.some(([id, s]) => id === '{member_id}' && s === 'reconnecting')")
    await convener_page.wait_for_selector(f"{tile}[data-state=live]")
    await wait_for(lambda: len([t for t in manifest.segments(member_id, "video") if t.start is not None]) == 3,
                   20, "the member's third recorded segment")
    await member_page.wait_for_selector("[data-testid=connection][data-state=live]")

    # the signaling link drops too (its WebSocket closes): the page reconnects it by itself,
    # takes its seat again and builds its media afresh
    await convener_page.evaluate("() => { window.tileStates = []; }")
    await member_page.evaluate("() => window.committeeRoom.socket.io.engine.close()")
    await convener_page.wait_for_function(
        f"() => window.tileStates.some(([id, s]) => id === '{member_id}' && s === 'gone')")
    await convener_page.wait_for_selector(f"{tile}[data-state=live]")
    await member_page.wait_for_selector("[data-testid=connection][data-state=live]")
    await wait_for(lambda: len([t for t in media.recorders[meeting.code].manifest.segments(member_id, "video")
                                if t.start is not None]) == 4, 20, "the member's fourth recorded segment")
    view = await meeting.get()
    events = [a["event"] for a in view["attendance"] if a["user_id"] == meeting.users[member]]
    assert events == ["join", "reconnect", "reconnect", "leave", "reconnect"], view["attendance"]
    await wait_decoding(member_page, 1)
    for page in (convener_page, member_page):
        await page.context.close()
