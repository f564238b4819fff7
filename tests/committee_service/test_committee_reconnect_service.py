"""Reconnection on the suite's own media server, on SQLite and PostgreSQL: a member's transport
is cut mid-call and comes back by itself on the same seat (the meeting's record shows the
leave and the reconnect; the recording two segments); an officer cut off whose reconnect comes
after deliberation began is refused, by the reconnect and by a new connection alike."""
from __future__ import annotations

import pytest
import socketio

from committee.app import MEDIA
from committee.signaling import InvalidJoinToken

from committee_peers import SocketParticipant, wait_for  # tests/committee, on sys.path (conftest)

from .meeting import convene
from .test_committee_room import refused


def receiving(person: SocketParticipant, publisher: str) -> bool:
    reception = person.peer.receptions.get(publisher)
    return reception is not None and reception.packets["video"] > 3 and reception.packets["audio"] > 5


async def test_reconnect_keeps_the_seat_and_shuts_out_a_dismissed_officer(reconnect_suite):
    suite = reconnect_suite
    url = str(suite.server.make_url("/")).rstrip("/")
    media = suite.server.app[MEDIA]
    assert media.reconnect_policy.packet_timeout == 3.0
    meeting = await convene(suite)
    member = meeting.members()[0]
    await meeting.phase("open")
    people = ["convener", "officer.e.a", member]
    ids = {name: str(meeting.users[name]) for name in people}
    tokens = {name: (await meeting.join_token(name))["token"] for name in people}
    clients = {name: SocketParticipant(url, ids[name], seed=i) for i, name in enumerate(people)}
    try:
        for name in people:
            await clients[name].connect(tokens[name])
            await clients[name].publish()
        await wait_for(lambda: all(receiving(clients[a], ids[b]) for a in people for b in people if a != b),
                       30, "everyone receiving everyone")

        # a member's link drops: it comes back by itself, frames both ways, same seat
        cut = clients[member]
        before = clients["convener"].peer.receptions[ids[member]]
        await cut.cut()
        await wait_for(lambda: cut.reconnects, 20, "the server to find the member's path dead")
        await wait_for(lambda: receiving(clients["convener"], ids[member])
                       and clients["convener"].peer.receptions[ids[member]] is not before
                       and receiving(cut, ids["convener"]) and receiving(cut, ids["officer.e.a"]),
                       10, "frames to and from the member again")
        view = await meeting.get()
        events = [a["event"] for a in view["attendance"] if a["user_id"] == meeting.users[member]]
        assert events == ["join", "reconnect"], view["attendance"]
        assert {p["user_id"] for p in view["participants"] if p["present"]} >= {meeting.users[n] for n in people}
        manifest = media.recorders[meeting.code].manifest
        await wait_for(lambda: len([t for t in manifest.segments(ids[member], "video") if t.start is not None]) == 2,
                       20, "the member's second segment recording")

        # the officer is cut off; deliberation begins before the officer is back
        officer = clients["officer.e.a"]
        officer.client.handlers["/"]["reconnect"] = lambda data: officer.reconnects.append(data["reason"])
        await officer.cut()
        await wait_for(lambda: officer.reconnects, 20, "the server to find the officer's path dead")
        await meeting.seat(*meeting.members()[1:])
        await meeting.phase("deliberation")
        claims = next(c for c in media.signaling.connected(meeting.code) if c.user_id == ids[member])
        await media.readmit(claims)  # a member may renegotiate
        officer_claims = claims.__class__(user_id=ids["officer.e.a"], meeting_id=meeting.code, role="officer",
                                          display_name="", token_id="unused")
        with pytest.raises(InvalidJoinToken, match="officers"):
            await media.readmit(officer_claims)
        if officer.client.connected:  # its renegotiation, if the server has not sent it away yet
            try:
                await officer.rebuild()
            except (socketio.exceptions.SocketIOError, AssertionError):
                pass
        await wait_for(lambda: not officer.client.connected, 20, "the officer sent away")
        assert "revoked" in await refused(url, {"token": tokens["officer.e.a"]})
        await meeting.join_token("officer.e.a", expect=403)
        room = media.signaling.rooms.existing(meeting.code)
        assert ids["officer.e.a"] not in room.participants
        view = await meeting.get()
        events = [a["event"] for a in view["attendance"] if a["user_id"] == meeting.users["officer.e.a"]]
        assert events == ["join", "leave"], view["attendance"]
        assert [t.segment for t in manifest.segments(ids["officer.e.a"], "video")] == [1]
        assert receiving(clients["convener"], ids[member])
    finally:
        for client in clients.values():
            await client.close()
        await meeting.leave_all()
