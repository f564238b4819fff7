"""The committee room on the suite's own server: tokens from core's API, aiortc participants
over Socket.IO; officers cut off at deliberation and refused on rejoin (also by a restarted
media server: the revocation is in the database); on close the recording is filed in the
archive and the composite is made."""
from __future__ import annotations

import asyncio

import pytest
import socketio
from aiohttp import web
from sqlalchemy import select

from committee.app import MEDIA
from committee.app import create_app as create_committee_app
from committee.manifest import RecordingManifest
from core.servicetoken import ServiceTokens
from recordings.tables import ArchiveEntry

from committee_peers import SocketParticipant, wait_for  # tests/committee, on sys.path (conftest)
from tests.waiting import PATIENCE, limit

from .meeting import convene


async def refused(url: str, auth) -> str:
    """The server's reason for refusing the connection."""
    client = socketio.AsyncClient(reconnection=False)
    reasons: list = []

    @client.event
    async def connect_error(data):
        reasons.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=PATIENCE)
    await wait_for(lambda: reasons, 5, "the refusal's reason")
    return str(reasons[0])


async def test_room_officers_cut_off_recording_filed(suite):
    url = str(suite.server.make_url("/")).rstrip("/")
    meeting = await convene(suite)
    members = meeting.members()[:2]
    await meeting.phase("open")

    secret = suite.services.config.secret_key
    for auth in (None, {"token": ""}, {"token": "forged.token"},
                 {"token": ServiceTokens(secret).issue(subject="1", audience="core", scope="committee_join")}):
        await refused(url, auth)
    await meeting.join_token("manager.ho", expect=404)  # not a participant: as if there were no meeting

    people = ["convener", "officer.e.a", *members]
    tokens = {name: (await meeting.join_token(name))["token"] for name in people}
    clients = {name: SocketParticipant(url, str(meeting.users[name]), seed=i) for i, name in enumerate(people)}
    try:
        for name in people:
            await clients[name].connect(tokens[name])
            await clients[name].publish()

        def everyone_sees_everyone() -> bool:
            return all(
                len(c.peer.receptions) == len(people) - 1
                and all(r.packets["video"] > 10 and r.packets["audio"] > 10 for r in c.peer.receptions.values())
                for c in clients.values())
        await wait_for(everyone_sees_everyone, 30, "everyone's audio and video at everyone else")

        # deliberation: the rest of the panel takes its seats (the default quorum is every seat);
        # the officer is disconnected and refused with the same or a new token
        await meeting.seat(*meeting.members()[2:])
        await meeting.wait_present(*people)
        await meeting.phase("deliberation")
        officer = clients["officer.e.a"]
        await wait_for(lambda: not officer.client.connected, 10, "the officer to be disconnected")
        assert officer.removed and "officers" in officer.removed[0]
        assert "revoked" in await refused(url, {"token": tokens["officer.e.a"]})
        await meeting.join_token("officer.e.a", expect=403)
        await wait_for(lambda: "deliberation" in clients["convener"].phases, 10, "the phase event")
        assert clients[members[0]].client.connected

        # a restarted media server (fresh memory, same database) still refuses the officer
        restarted = create_committee_app(suite.services.config)
        runner = web.AppRunner(restarted)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        other = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        try:
            assert "revoked" in await refused(other, {"token": tokens["officer.e.a"]})
            probe = socketio.AsyncClient(reconnection=False)
            await probe.connect(other, auth={"token": (await meeting.join_token(members[1]))["token"]},
                                transports=["websocket"], wait_timeout=PATIENCE)
            await probe.disconnect()
        finally:
            await runner.cleanup()

        for phase in ("voting", "tallied", "closed"):
            await meeting.phase(phase)
        await wait_for(lambda: not clients["convener"].client.connected, 10, "the room to close")
    finally:
        for client in clients.values():
            await client.close()
        await meeting.leave_all()

    # on close: every track and the manifest filed for the loan, then the composite
    convener = await meeting.as_("convener")
    media = suite.server.app[MEDIA]
    # the composite runs in a child process (slow on a loaded machine): wait for its end
    await wait_for(lambda: meeting.code in media.jobs, 30, "the composite to start")
    await asyncio.wait_for(media.jobs[meeting.code].finished.wait(), limit(900))
    reply = await convener.request("GET", f"/committee/composites/{meeting.code}")
    job = await reply.json()
    assert job["state"] == "done", job
    async with suite.services.db.unit_of_work(write=False) as session:
        entries = (await session.execute(select(ArchiveEntry).where(ArchiveEntry.meeting_id == meeting.code))).scalars().all()
    kinds = [e.kind for e in entries]
    # one manifest per media-server session: the suite's, and the restarted server's that the
    # probe joined (filed too, as a session cut short by a restart would be)
    assert kinds.count("recording_manifest") == 2
    # every recorded segment (two tracks per participant who published, more for whoever lost
    # their media path on this loaded machine and reconnected), plus the composite
    manifests = [RecordingManifest.load(path) for path in (media.recordings_dir / meeting.code).glob("*/manifest.json")]
    segments = [t for m in manifests for t in m.tracks]
    assert {(t.participant_id, t.kind) for t in segments} >= {
        (str(meeting.users[name]), kind) for name in people for kind in ("audio", "video")}
    assert kinds.count("recording") == len(segments) + 1, kinds
    assert all(e.loan_id == meeting.loan_id for e in entries)
    assert "贷审会合成录像" in [e.title for e in entries]
