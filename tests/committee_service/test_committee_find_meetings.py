"""Members find their meetings: the SMS notice carries the time and the room's link; the
members' and the convener's work queue (page and API) lists their meetings not yet closed
with the link; the loan page links the officers to the room while they may enter."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from committee.tables import Meeting as MeetingRow
from core.orm import OutboxMessage

from .meeting import convene


async def test_members_and_convener_find_their_meetings(suite):
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=2)
    meeting = await convene(suite, meeting_at=at)
    origin = str(suite.server.make_url("/")).rstrip("/")
    room = f"/committee/meetings/{meeting.id}"
    members = meeting.members()

    # the SMS to each drawn member: the time (Beijing) and the room's address
    async with suite.services.db.unit_of_work(write=False) as session:
        notices = (await session.execute(select(OutboxMessage).where(
            OutboxMessage.loan_id == meeting.loan_id, OutboxMessage.template == "committee_member_drawn"))).scalars().all()
    beijing = at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert sorted(n.recipient_user_id for n in notices) == sorted(meeting.users[m] for m in members)
    for notice in notices:
        assert beijing in notice.text and f"{origin}{room}" in notice.text, notice.text

    # the work queue: members and the convener (page and API); not someone outside the meeting
    for name in (members[0], "convener"):
        client = await meeting.as_(name)
        listed = (await client.json("GET", "/api/committee/mine"))["items"]
        assert [(m["meeting_id"], m["url"]) for m in listed] == [(meeting.code, room)]
        page = await (await client.request("GET", "/queue")).text()
        assert f'href="{room}"' in page and 'data-testid="my-meetings"' in page
    outsider = await meeting.as_("manager.ho")
    assert (await outsider.json("GET", "/api/committee/mine"))["items"] == []
    assert 'data-testid="my-meetings"' not in await (await outsider.request("GET", "/queue")).text()

    # the loan page: the officers (who see the loan) get the room's link while they may enter
    officer = await meeting.as_("officer.e.a")
    page = await (await officer.request("GET", f"/loans/{meeting.loan_id}")).text()
    assert f'href="{room}"' in page
    # a replacement's SMS also carries time and link
    replaced = await (await meeting.as_("convener")).json(
        "POST", f"/api/committee/meetings/{meeting.id}/absent", {"member_id": meeting.users[members[0]],
                                                                 "reason": "出差"})
    async with suite.services.db.unit_of_work(write=False) as session:
        latest = (await session.execute(select(OutboxMessage).where(
            OutboxMessage.loan_id == meeting.loan_id).order_by(OutboxMessage.id.desc()).limit(1))).scalar_one()
    assert beijing in latest.text and f"{origin}{room}" in latest.text
    assert (await (await meeting.as_(members[0])).json("GET", "/api/committee/mine"))["items"] == []  # replaced
    meeting.view = replaced

    # after deliberation starts the officers are out, and the link goes from their pages
    async with suite.services.db.unit_of_work() as session:
        row = await session.get(MeetingRow, meeting.id)
        row.phase = "deliberation"
    page = await (await officer.request("GET", f"/loans/{meeting.loan_id}")).text()
    assert f'href="{room}"' not in page
    assert (await officer.json("GET", "/api/committee/mine"))["items"] == []
    assert [m["phase"] for m in (await (await meeting.as_(members[1])).json("GET", "/api/committee/mine"))["items"]] \
        == ["deliberation"]
