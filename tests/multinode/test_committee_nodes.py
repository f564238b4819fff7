"""Two `loanctl serve committee` nodes on PostgreSQL and Redis hold one meeting together.

Participants (real aiortc peers) connect half to each node; the node that does not hold the
meeting's media sends them to the one that does (the lease in Redis), and everyone receives
everyone. Then the media node is killed (SIGKILL): its lease lapses, the participants come back
through the other node, which takes the meeting; within 15 s everyone receives everyone again
there, and the recording goes on as a new segment in the shared recordings folder.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import time
from dataclasses import dataclass, field

import pytest
import redis.asyncio

import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from committee.cluster import ClusterSettings, socketio_manager
from committee.registry import MediaRegistry
from committee.signaling import CommitteeSignaling, JoinClaims
from core.app import create_app as create_core_app
from tests.committee_service.meeting import convene
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.multinode.committee_nodes import RoamingParticipant, start_committee_node
from tests.multinode.nodes import cluster_config, prepare_database
from tests.multinode.committee_nodes import LEASE_SECONDS, TAKEOVER_LIMIT
from tests.suite import start_suite
from tests.waiting import PATIENCE, limit

from committee_loopback import use_loopback_host_candidates  # noqa: E402 (tests/committee, on sys.path)
from committee_peers import decode_vp8  # noqa: E402

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def committee_cluster(tmp_path_factory, redis_server):
    workdir = tmp_path_factory.mktemp("committee-cluster")
    url, name = asyncio.run(_create_postgres_database())
    config = cluster_config(workdir, url, step_up="off")
    try:
        asyncio.run(prepare_database(config))
        with committee_nodes(config, workdir, redis_server, "AB") as nodes:
            yield config, nodes, redis_server
    finally:
        asyncio.run(_drop_postgres_database(name))


@contextlib.contextmanager
def committee_nodes(config, workdir, redis_server, names: str, lease_seconds: float = LEASE_SECONDS):
    """Committee nodes on the module's database and Redis, stopped on the way out."""
    nodes = []
    try:
        nodes = [start_committee_node(n, config, workdir, redis_server.url, lease_seconds=lease_seconds)
                 for n in names]
        for node in nodes:
            node.wait_healthy()
        yield nodes
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)  # a node a test left stopped
            node.terminate()
        for node in nodes:
            node.stop()


_suites = itertools.count(1)


async def meeting_suite(config):
    """The test's in-process core API on the nodes' database (join tokens, phases). Tests of this
    module share the database: each numbers its customers in a range of its own."""
    suite = await start_suite(config, load_demo=False, app=create_core_app(config))
    suite._codes = itertools.count(1000 * next(_suites))
    return suite


@dataclass
class World:
    """What a test of meetings on the nodes holds: the core API in process, a look at the media
    registry in Redis, and its participants (closed at the end)."""

    suite: object
    store: redis.asyncio.Redis
    registry: MediaRegistry
    people: list[RoamingParticipant] = field(default_factory=list)

    @classmethod
    async def open(cls, config, redis_server) -> "World":
        store = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        return cls(await meeting_suite(config), store, MediaRegistry(store, "test", LEASE_SECONDS))

    async def close(self) -> None:
        for person in self.people:
            await person.close()
        await self.store.aclose()
        await self.suite.close()


@pytest.fixture
def loopback_ice():
    undo = use_loopback_host_candidates()
    yield
    undo()


async def wait_until(condition, what: str, seconds: float = PATIENCE, state=lambda: "") -> float:
    """Poll `condition` until it holds; the monotonic time it first held."""
    deadline = time.monotonic() + limit(seconds)
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit(seconds)} s; {state()}")
        await asyncio.sleep(0.05)
    return time.monotonic()


async def test_participants_on_two_nodes_meet_on_one_media_node_and_survive_its_death(
        committee_cluster, loopback_ice):
    config, nodes, redis_server = committee_cluster
    world = await World.open(config, redis_server)
    suite, registry, people = world.suite, world.registry, world.people
    try:
        meeting = await convene(suite)
        await meeting.phase("open")
        names = ["convener", *meeting.members()[:3]]
        bases = [node.base for node in nodes]

        def token_of(name: str):
            async def token() -> str:
                return (await meeting.join_token(name))["token"]
            return token

        started = time.monotonic()
        # half of them reach node A, half node B (as a load balancer would spread them)
        for i, name in enumerate(names):
            person = RoamingParticipant(str(meeting.users[name]), token_of(name), bases,
                                        first=bases[i % 2], seed=i)
            people.append(person)
            await person.join()

        ids = [p.user_id for p in people]
        holder = await registry.holder(meeting.code)
        assert holder in bases
        assert all(p.session.node == holder for p in people), [p.session.node for p in people]
        sent = [p for p in people if p.first != holder]
        assert sent and all(p.redirects == [(p.first, holder)] for p in sent), [p.redirects for p in people]

        def everyone_receives_everyone(packets: int) -> bool:
            return all(p.receiving([o for o in ids if o != p.user_id], packets) for p in people)

        def state() -> str:
            logs = "\n".join(f"--- node {n.name}\n{n.log()[-3000:]}" for n in nodes)
            timelines = "\n".join(f"{p.user_id}: " + ", ".join(f"{t - started:.2f} {what}" for t, what in p.timeline)
                                  for p in people)
            firsts = [(p.user_id, {k: round(r.first_packet.get("video", started) - started, 2)
                                   for k, r in p.session.peer.receptions.items()}) for p in people]
            return (f"received: {[(p.user_id, p.session.node, p.reception_counts()) for p in people]}\n"
                    f"first video packets: {firsts}\n"
                    f"{timelines}\n{logs}")

        await wait_until(lambda: everyone_receives_everyone(20), "everyone's audio and video at everyone else",
                         state=state)
        for p in people:  # real pictures, not just packets
            for reception in p.session.peer.receptions.values():
                assert decode_vp8(reception.video_packets), f"{p.user_id} decoded nothing from {reception.publisher_id}"

        # the media node dies: no goodbye, its lease simply stops being renewed
        media_node = next(n for n in nodes if n.base == holder)
        survivor = next(n for n in nodes if n.base != holder)
        first_sessions = {p.user_id: p.session for p in people}
        killed_at = time.monotonic()
        media_node.kill()

        def moved() -> bool:
            return all(p.session is not first_sessions[p.user_id] for p in people)

        await wait_until(moved, "every participant to rejoin after the kill")
        resumed_at = await wait_until(lambda: everyone_receives_everyone(1), "media again between everyone", state=state)
        assert resumed_at - killed_at <= TAKEOVER_LIMIT, (
            f"the meeting continued {resumed_at - killed_at:.1f} s after its media node died "
            f"(killed at {killed_at - started:.2f}); {state()}")
        assert await registry.holder(meeting.code) == survivor.base
        assert all(p.session.node == survivor.base for p in people)
        await wait_until(lambda: everyone_receives_everyone(20), "steady media on the new media node", state=state)
        assert survivor.healthy()

        # the recording: the dead node's segment (readable up to the kill) and the new one
        recordings = config.data_dir / "committee" / "recordings" / meeting.code
        segments = sorted(p.parent for p in recordings.glob("*/manifest.json"))
        assert len(segments) == 2, segments

        def tracks(segment) -> list[dict]:
            return json.loads((segment / "manifest.json").read_text())["tracks"]
        for segment in segments:
            assert len(tracks(segment)) == 2 * len(people), (segment, tracks(segment))
        new_segment = max(segments, key=lambda s: s.stat().st_mtime)
        files = [new_segment / t["file"] for t in tracks(new_segment)]
        await wait_until(lambda: all(f.exists() and f.stat().st_size > 0 for f in files),
                         "the new segment's tracks written")
    finally:
        await world.close()


async def test_a_stalled_media_node_loses_its_meeting_and_its_participants_follow(
        committee_cluster, loopback_ice, tmp_path):
    """The media node stops (SIGSTOP) past its lease; a participant joining through the other
    node moves the meeting there. When the stalled node runs again, its participants are told
    `media_node` (through Redis by the new holder, and by the stalled node finding its lease
    gone) and join the meeting on the new node; the stalled node gives its room up."""
    config, _, redis_server = committee_cluster
    world = await World.open(config, redis_server)
    suite, registry, people = world.suite, world.registry, world.people
    with committee_nodes(config, tmp_path, redis_server, "XY") as (stalled, taker):
        try:
            meeting = await convene(suite)
            await meeting.phase("open")
            names = ["convener", *meeting.members()[:2]]

            def person(i: int, first: str) -> RoamingParticipant:
                async def token() -> str:
                    return (await meeting.join_token(names[i]))["token"]
                return RoamingParticipant(str(meeting.users[names[i]]), token, [stalled.base, taker.base],
                                          first=first, seed=i)

            people.extend([person(0, stalled.base), person(1, stalled.base)])
            for p in people:
                await p.join()
            assert await registry.holder(meeting.code) == stalled.base
            await wait_until(lambda: all(p.receiving([o.user_id for o in people if o is not p], 5) for p in people),
                             "the first two receiving each other")

            os.kill(stalled.process.pid, signal.SIGSTOP)
            await wait_until_async(lambda: registry.holder(meeting.code), None)  # the lease lapsed
            newcomer = person(2, taker.base)
            people.append(newcomer)
            await newcomer.join()
            assert newcomer.session.node == taker.base and not newcomer.redirects
            assert await registry.holder(meeting.code) == taker.base
            os.kill(stalled.process.pid, signal.SIGCONT)

            await wait_until(lambda: all(p.session.node == taker.base for p in people),
                             "the stalled node's participants to move to the new media node")
            ids = [p.user_id for p in people]
            await wait_until(lambda: all(p.receiving([o for o in ids if o != p.user_id], 5) for p in people),
                             "everyone receiving everyone on the new media node",
                             state=lambda: str([(p.user_id, p.session.node, p.reception_counts()) for p in people]))
            await wait_until(lambda: "giving its room up" in stalled.log(), "the stalled node to give the room up")
            assert stalled.healthy() and await registry.holder(meeting.code) == taker.base
        finally:
            await world.close()


async def test_a_media_node_stopped_gracefully_hands_its_meetings_over_at_once(
        committee_cluster, loopback_ice, tmp_path):
    """SIGTERM: the node closes its rooms and releases its leases before it exits, so the
    participants' next join takes the meeting elsewhere without waiting for a lease to lapse
    (the lease here outlasts the test's patience: only a release lets the meeting move)."""
    config, _, redis_server = committee_cluster
    world = await World.open(config, redis_server)
    suite, registry, people = world.suite, world.registry, world.people
    with committee_nodes(config, tmp_path, redis_server, "PQ", lease_seconds=10 * PATIENCE) as (leaving, staying):
        try:
            meeting = await convene(suite)
            await meeting.phase("open")
            for i, name in enumerate(["convener", meeting.members()[0]]):
                async def token(name=name) -> str:
                    return (await meeting.join_token(name))["token"]
                people.append(RoamingParticipant(str(meeting.users[name]), token, [leaving.base, staying.base],
                                                 first=leaving.base, seed=i))
                await people[-1].join()
            assert await registry.holder(meeting.code) == leaving.base
            leaving.terminate()
            await asyncio.to_thread(leaving.process.wait, PATIENCE)
            assert await registry.holder(meeting.code) != leaving.base  # released, not left to lapse
            await wait_until(lambda: all(p.session.node == staying.base for p in people),
                             "the participants to join on the remaining node")
            await wait_until(lambda: all(p.receiving([o.user_id for o in people if o is not p], 5) for p in people),
                             "media between them on the remaining node")
        finally:
            await world.close()


async def test_the_media_lease_has_one_holder_and_lapses_without_renewal(redis_server):
    """The registry against the real Redis: concurrent claims get one holder; only the holder
    renews or releases; an unrenewed lease lapses and the next claim takes it."""
    store = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        a = MediaRegistry(store, "http://a", 0.5)
        b = MediaRegistry(store, "http://b", 0.5)
        results = await asyncio.gather(*(r.claim("CM-LEASE") for r in (a, b, a, b)))
        holders = {holder for holder, _ in results}
        assert len(holders) == 1 and sum(taken for _, taken in results) == 1, results
        owner, other = (a, b) if holders == {"http://a"} else (b, a)
        assert await other.renew(["CM-LEASE"]) == {"CM-LEASE": owner.node_url}
        assert not await other.release("CM-LEASE")
        assert await owner.renew(["CM-LEASE"]) == {}
        # no renewal: the lease lapses and the other node takes the meeting
        await wait_until_async(lambda: other.claim("CM-LEASE"), other.node_url)
        assert await owner.renew(["CM-LEASE"]) == {"CM-LEASE": other.node_url}
        assert await other.release("CM-LEASE")
        assert await owner.holder("CM-LEASE") is None
    finally:
        await store.aclose()


async def wait_until_async(read, expected) -> None:
    """Poll an async read until it gives `expected` (for a claim: its holder)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        value = await read()
        if (value[0] if isinstance(value, (list, tuple)) else value) == expected:
            return
        assert time.monotonic() < deadline, f"still {value!r}, not {expected!r}"
        await asyncio.sleep(0.05)


async def test_an_event_for_a_meeting_reaches_its_sockets_on_every_node(redis_server):
    """Socket.IO through Redis: what one node emits to a meeting reaches the meeting's sockets
    connected to another node (how the node that takes a meeting tells a stalled holder's
    participants where the meeting went)."""
    servers, clients = [], []
    try:
        signalings = []
        for _ in range(2):
            claims = iter([JoinClaims(str(n), "CM-BUS", "member", f"member {n}", f"token-{n}") for n in (1, 2)])
            signaling = CommitteeSignaling(lambda token, claims=claims: next(claims), client_manager=socketio_manager(
                ClusterSettings(redis_server.url, "http://unused")))
            app = web.Application()
            signaling.attach(app)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            signalings.append(signaling)
        received: list[tuple[int, dict]] = []
        for n, server in enumerate(servers):
            client = socketio.AsyncClient(reconnection=False)
            client.on("phase", lambda data, n=n: received.append((n, data)))
            await client.connect(str(server.make_url("/")).rstrip("/"), auth={"token": "t"},
                                 transports=["websocket"], wait_timeout=PATIENCE)
            clients.append(client)
        # the second node emits; the first node's socket can only hear it through Redis
        await signalings[1].emit_to_meeting("CM-BUS", "phase", {"phase": "deliberation"})
        await wait_until(lambda: len(received) == 2, "the event at the sockets of both nodes",
                         state=lambda: str(received))
        assert sorted(n for n, _ in received) == [0, 1]
        assert all(data == {"phase": "deliberation"} for _, data in received)
    finally:
        for client in clients:
            await client.disconnect()
        for server in servers:
            await server.close()
