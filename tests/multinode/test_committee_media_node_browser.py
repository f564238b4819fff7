"""The room page in Chromium follows the meeting's media node across two committee nodes.

The page is served by the suite (another origin than the committee nodes) and opens its
signaling at node A (``LOANCTL_COMMITTEE_URL``) while node B holds the meeting (a Python aiortc
participant took it first): A refuses the connection naming B (``{"media_node": url}``), the
page connects there with its join token in the Socket.IO auth payload (cross-origin: no cookie)
and receives the participant's video. Then B is killed (SIGKILL): the page goes back to A,
which takes the meeting once B's lease lapses, and frames resume within 15 s. The nodes accept
the suite's origin and refuse any other (the Origin check of their Socket.IO).
"""
from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest
import redis.asyncio
import socketio
from aiohttp.test_utils import TestServer

from committee.cluster import SOCKETIO_CHANNEL, ClusterSettings, allowed_origins, origin_check
from committee.registry import MediaRegistry
from core.config import Config, ConfigError
from core.context import SERVICES
from tests.committee_service.meeting import convene
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.multinode.committee_nodes import RoamingParticipant, start_committee_node
from tests.multinode.nodes import cluster_config, free_port, prepare_database
from tests.multinode.committee_nodes import LEASE_SECONDS, TAKEOVER_LIMIT
from tests.suite import Suite, sign_in_page
from tests.waiting import PATIENCE, limit
from web.app import create_app as create_web_app

from committee_loopback import use_loopback_host_candidates  # noqa: E402 (tests/committee, on sys.path)

pytestmark = pytest.mark.postgres


@pytest.fixture
def loopback_ice():
    undo = use_loopback_host_candidates()
    yield
    undo()


@contextlib.contextmanager
def two_nodes(config, workdir, redis_url: str, **settings: str):
    nodes = []
    try:
        nodes = [start_committee_node(n, config, workdir, redis_url, lease_seconds=LEASE_SECONDS, **settings)
                 for n in "AB"]
        for node in nodes:
            node.wait_healthy()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def refusal_from(base: str, origin: str, token: str):
    """Connect to a node's Socket.IO from a page of `origin`: the refusal's data, or the
    connection error when the node turned the WebSocket itself away."""
    async with aiohttp.ClientSession() as http:
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        refusals = []
        client.on("connect_error", lambda data: refusals.append(data))
        try:
            await client.connect(base, auth={"token": token}, headers={"Origin": origin},
                                 transports=["websocket"], wait_timeout=PATIENCE)
        except socketio.exceptions.ConnectionError as error:
            return refusals[0] if refusals else error
        finally:
            await client.shutdown()
    raise AssertionError(f"{base} accepted a connection from {origin}")


async def page_state(page) -> dict:
    return await page.evaluate("""async () => { const r = window.committeeRoom;
        return { node: r.node, home: r.home, moves: r.moves, trail: r.trail, connected: !!r.socket?.connected,
                 frames: await r.stats() }; }""")


async def wait_page(page, condition, what: str, seconds: float = PATIENCE, state=lambda: "") -> dict:
    deadline = time.monotonic() + limit(seconds)
    while True:
        current = await page_state(page)
        if condition(current):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit(seconds)} s; page {current}; {state()}")
        await asyncio.sleep(0.2)


async def test_room_page_follows_the_media_node_redirect_and_the_holders_death(
        tmp_path, redis_server, browser, loopback_ice):
    database_url, database = await _create_postgres_database()
    person = suite = None
    try:
        config = cluster_config(tmp_path, database_url, step_up="off")
        await prepare_database(config)
        suite_port = free_port()
        suite_origin = f"http://127.0.0.1:{suite_port}"
        with two_nodes(config, tmp_path, redis_server.url, LOANCTL_COMMITTEE_ORIGINS=suite_origin) as (entry, holder):
            # the suite's pages open the room's signaling at node A (as at the nodes' balancer)
            app = create_web_app(config.replace(committee_url=entry.base))
            server = TestServer(app, host="127.0.0.1", port=suite_port)
            await server.start_server()
            suite = Suite(server, app[SERVICES])
            base = str(server.make_url("/")).rstrip("/")
            assert base == suite_origin

            meeting = await convene(suite)
            await meeting.phase("open")
            member = meeting.members()[0]
            member_id, convener_id = str(meeting.users[member]), str(meeting.users["convener"])

            async def convener_token() -> str:
                return (await meeting.join_token("convener"))["token"]

            # the convener (a Python aiortc peer) joins first, through node B: B holds the meeting
            person = RoamingParticipant(convener_id, convener_token, [holder.base, entry.base],
                                        first=holder.base, seed=1)
            await person.join()
            lease = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
            store = MediaRegistry(lease, "test", LEASE_SECONDS)  # a look at the lease
            assert await store.holder(meeting.code) == holder.base

            # the Origin check: the suite's pages are let through to the redirect, others not
            token = (await meeting.join_token(member))["token"]
            refusal = await refusal_from(entry.base, suite_origin, token)
            assert isinstance(refusal, dict) and refusal.get("data") == {"media_node": holder.base}, refusal
            foreign = await refusal_from(entry.base, "http://127.0.0.2:9", token)
            assert not isinstance(foreign, dict), foreign

            page = await sign_in_page(browser, base, member)
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            await page.goto(f"{base}/committee/meetings/{meeting.id}")
            assert await page.get_attribute("[data-committee-room]", "data-committee-url") == entry.base

            def logs() -> str:
                return (f"console: {console[-20:]}\nparticipant: {person.timeline}\n"
                        + "\n".join(f"--- node {n.name}\n{n.log()[-2000:]}" for n in (entry, holder)))

            # refused at A naming B, connected to B, the convener's video decoded in the page
            first = await wait_page(page, lambda s: s["node"] == holder.base and s["connected"]
                                    and s["frames"].get(convener_id, 0) > 0,
                                    "the page on the media node with the convener's frames", state=logs)
            assert first["home"] == entry.base and first["moves"] == 1, first
            await page.wait_for_selector("[data-testid=connection][data-state=live]")
            await page.wait_for_selector(f"[data-tile='{convener_id}'][data-state=live]")
            # and the convener receives the page's camera through B
            deadline = time.monotonic() + limit(PATIENCE)
            while not person.receiving([member_id], 5):
                assert time.monotonic() < deadline, f"the convener got nothing from the page: {person.reception_counts()}"
                await asyncio.sleep(0.1)

            # a `media_node` event (what a node taking the meeting sends, through Redis) moves the
            # page: here it names A, which sends the page back to B, the holder, on new connections
            bus = socketio.AsyncRedisManager(redis_server.url, channel=SOCKETIO_CHANNEL, write_only=True)
            await bus.emit("media_node", {"url": entry.base}, room=meeting.code, namespace="/")
            await bus.redis.aclose()
            told = await wait_page(page, lambda s: s["moves"] >= 3 and s["node"] == holder.base and s["connected"]
                                   and s["frames"].get(convener_id, 0) > 0,
                                   "the page to follow the media_node event and come back", state=logs)
            assert told["trail"][:4] == [entry.base, holder.base, entry.base, holder.base], told
            await page.wait_for_selector("[data-testid=connection][data-state=live]")

            # node B dies: the page goes back to A, which takes the meeting when B's lease lapses
            killed_at = time.monotonic()
            holder.kill()
            moved = await wait_page(page, lambda s: s["node"] == entry.base and s["connected"]
                                    and s["frames"].get(convener_id, 0) > 0,
                                    "the page on the other node with the convener's frames again",
                                    seconds=TAKEOVER_LIMIT * 2, state=logs)
            resumed = time.monotonic() - killed_at
            assert resumed <= TAKEOVER_LIMIT, f"frames resumed {resumed:.1f} s after the kill; {logs()}"
            assert moved["moves"] >= 4 and moved["trail"][-1] == entry.base, moved
            assert await store.holder(meeting.code) == entry.base
            await page.wait_for_selector("[data-testid=connection][data-state=live]")
            await page.wait_for_selector(f"[data-tile='{convener_id}'][data-state=live]")
            await lease.aclose()
            await page.context.close()
    finally:
        if person is not None:
            await person.close()
        if suite is not None:
            await suite.close()
        await _drop_postgres_database(database)


def test_committee_origins_are_a_list_of_origins_never_a_wildcard():
    config = Config.from_env({"LOANCTL_COMMITTEE_ORIGINS": "https://suite.bank.local, https://suite2.bank.local:8443/",
                              "LOANCTL_COMMITTEE_URL": "https://cm.bank.local/"})
    assert config.committee_origins == ("https://suite.bank.local", "https://suite2.bank.local:8443")
    assert config.committee_url == "https://cm.bank.local"
    settings = ClusterSettings("redis://127.0.0.1:1/0", "https://cm2.bank.local:8443")
    assert allowed_origins(config, settings) == [
        "https://cm2.bank.local:8443", "https://suite.bank.local", "https://suite2.bank.local:8443"]
    # one node serving its own pages: its own origin only (None), not "no check"
    assert allowed_origins(Config.from_env({}), None) is None
    check = origin_check(config, settings)
    assert check("https://suite.bank.local", {"HTTP_HOST": "cm2.bank.local:8443"})
    assert not check("https://evil.example", {"HTTP_HOST": "cm2.bank.local:8443"})
    # the page's own origin: plain, or TLS said by the proxy in front
    alone = origin_check(Config.from_env({}), None)
    assert alone("http://127.0.0.1:8080", {"HTTP_HOST": "127.0.0.1:8080"})
    assert alone("https://suite.bank.local", {"HTTP_HOST": "suite.bank.local", "HTTP_X_FORWARDED_PROTO": "https"})
    assert not alone("http://127.0.0.2:8080", {"HTTP_HOST": "127.0.0.1:8080"})
    for bad in ("*", "suite.bank.local", "https://suite.bank.local/path"):
        with pytest.raises(ConfigError):
            Config.from_env({"LOANCTL_COMMITTEE_ORIGINS": bad})
    with pytest.raises(ConfigError):
        Config.from_env({"LOANCTL_COMMITTEE_URL": "ws://cm.bank.local"})
