"""Socket.IO signaling on a real aiohttp server with aiortc peers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
import socketio

from committee.signaling import CommitteeSignaling, InvalidJoinToken, JoinClaims
from committee_peers import SocketParticipant, serving, wait_for
from tests.waiting import PATIENCE

KEY = b"test-signing-key-for-join-tokens"


def sign(**claims) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    mac = hmac.new(KEY, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def verify(token: str) -> JoinClaims:
    """A real (HMAC) verifier, standing where core's token check plugs in."""
    body, _, mac = token.partition(".")
    expected = hmac.new(KEY, body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        raise InvalidJoinToken("bad join token signature")
    return JoinClaims(**json.loads(base64.urlsafe_b64decode(body)))


def token(user: str, role: str = "member", meeting: str = "mtg-1", tid: str | None = None) -> str:
    return sign(user_id=user, meeting_id=meeting, role=role, display_name=user.title(),
                token_id=tid or f"tok-{user}")


@pytest.fixture
async def server():
    signaling = CommitteeSignaling(verify)
    async with serving(signaling) as url:
        yield signaling, url


async def test_connection_without_valid_token_is_refused(server):
    signaling, url = server
    for auth in (None, {"token": "garbage"}, {"token": token("x")[:-2] + "00"}):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=PATIENCE)
    assert signaling.connected("mtg-1") == []


async def test_meeting_media_flows_and_removed_officer_cannot_rejoin(server):
    signaling, url = server
    convener = SocketParticipant(url, "carol", "convener")
    member = SocketParticipant(url, "mike", "member", seed=1)
    officer = SocketParticipant(url, "olga", "officer", seed=2)
    people = [convener, member, officer]
    try:
        for person in people:
            await person.connect(token(person.user, person.role))
            await person.publish()
        await wait_for(
            lambda: all(
                len(p.peer.receptions) == 2
                and all(r.packets["video"] > 3 and r.packets["audio"] > 5
                        for r in p.peer.receptions.values())
                for p in people
            ),
            20,
            "everyone to receive the two others",
        )
        assert {c.role for c in signaling.connected("mtg-1")} == {"convener", "member", "officer"}

        # Deliberation: the officer is cut off and cannot come back.
        assert await signaling.remove_user("mtg-1", "olga", "deliberation started") == 1
        await wait_for(lambda: not officer.client.connected, 5, "the officer to be disconnected")
        await wait_for(lambda: "olga" in convener.left, 5, "the others to be told")
        room = signaling.rooms.get("mtg-1")
        assert "olga" not in room.participants and sorted(room.publishers()) == ["carol", "mike"]
        again = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await again.connect(url, auth={"token": token("olga", "officer", tid="fresh")},
                                transports=["websocket"], wait_timeout=PATIENCE)
        # The others keep talking.
        before = member.peer.receptions["carol"].packets["video"]
        await wait_for(lambda: member.peer.receptions["carol"].packets["video"] > before, 10,
                       "the member to keep receiving carol")
    finally:
        for person in people:
            await person.close()


async def test_revoked_token_is_disconnected_and_refused(server):
    signaling, url = server
    person = SocketParticipant(url, "tom", "officer")
    try:
        await person.connect(token("tom", "officer", tid="t-1"))
        assert await signaling.revoke("t-1") == 1
        await wait_for(lambda: not person.client.connected, 5, "disconnect")
        retry = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await retry.connect(url, auth={"token": token("tom", "officer", tid="t-1")},
                                transports=["websocket"], wait_timeout=PATIENCE)
    finally:
        await person.close()


async def test_bad_offer_is_answered_with_an_error(server):
    signaling, url = server
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, auth={"token": token("ann")}, transports=["websocket"], wait_timeout=PATIENCE)
    try:
        assert "error" in await client.call("publish", {"nope": 1})
        reply = await client.call("subscribe", {"publisher_id": "ghost", "sdp": "v=0", "type": "offer"})
        assert "error" in reply
    finally:
        await client.disconnect()


def test_claims_refuse_unknown_role():
    with pytest.raises(ValueError, match="unknown meeting role"):
        JoinClaims("u", "m", "king", "U", "t")
