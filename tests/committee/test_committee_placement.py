"""The signaling's hooks for several committee nodes (committee.cluster): a node that does not
serve a meeting refuses its participants naming the media node; a node that gives a meeting up
tells its participants where it went and lets them go (their seats left)."""
from __future__ import annotations

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from committee.signaling import CommitteeSignaling, JoinClaims
from committee_peers import wait_for
from tests.waiting import PATIENCE


def verify(token: str) -> JoinClaims:
    user, meeting = token.split("@")
    return JoinClaims(user, meeting, "member", user.title(), f"tok-{user}")


@pytest.fixture
async def node():
    signaling = CommitteeSignaling(verify)
    placed: dict[str, str | None] = {}
    signaling.placement = lambda meeting: _answer(placed.get(meeting))
    seats: list[tuple[str, str]] = []

    async def on_seat(claims: JoinClaims, event: str) -> None:
        seats.append((claims.user_id, event))
    signaling.on_seat = on_seat
    app = web.Application()
    signaling.attach(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield signaling, str(server.make_url("/")).rstrip("/"), placed, seats
    await server.close()


async def _answer(value):
    return value


async def test_a_meeting_served_elsewhere_is_refused_with_its_media_node(node):
    signaling, url, placed, seats = node
    placed["CM-ELSEWHERE"] = "http://10.1.0.22:8443"
    client = socketio.AsyncClient(reconnection=False)
    refusals = []
    client.on("connect_error", lambda data: refusals.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, auth={"token": "mike@CM-ELSEWHERE"}, transports=["websocket"],
                             wait_timeout=PATIENCE)
    await wait_for(lambda: refusals, 5, "the refusal")
    assert refusals[0]["data"] == {"media_node": "http://10.1.0.22:8443"}
    assert signaling.connected("CM-ELSEWHERE") == [] and seats == []
    await client.shutdown()


async def test_relocate_sends_the_meetings_sockets_to_the_new_media_node(node):
    signaling, url, _placed, seats = node
    clients, moved = {}, []
    for user, meeting in (("mike", "CM-1"), ("mary", "CM-1"), ("otto", "CM-2")):
        client = socketio.AsyncClient(reconnection=False)
        client.on("media_node", lambda data, user=user: moved.append((user, data)))
        await client.connect(url, auth={"token": f"{user}@{meeting}"}, transports=["websocket"],
                             wait_timeout=PATIENCE)
        clients[user] = client
    try:
        assert await signaling.relocate("CM-1", "http://10.1.0.22:8443") == 2
        await wait_for(lambda: not clients["mike"].connected and not clients["mary"].connected, 10,
                       "the meeting's sockets closed")
        assert sorted(moved) == [("mary", {"url": "http://10.1.0.22:8443"}), ("mike", {"url": "http://10.1.0.22:8443"})]
        assert clients["otto"].connected and [c.user_id for c in signaling.connected("CM-2")] == ["otto"]
        assert signaling.connected("CM-1") == []
        assert sorted(e for e in seats if e[1] == "leave") == [("mary", "leave"), ("mike", "leave")]
    finally:
        for client in clients.values():
            if client.connected:
                await client.disconnect()
