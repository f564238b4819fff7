"""Committee nodes (`loanctl serve committee` processes on PostgreSQL + Redis) and participants
that roam between them, for the multi-node committee tests and the benchmark.

A participant connects its Socket.IO signaling to any node; a node that does not hold the
meeting's media refuses it naming the media node (``{"media_node": url}``) and the participant
connects there. When its node dies (the socket drops) or the meeting moves (``media_node``
event), it builds a fresh peer connection — aiortc has no ICE restart — with a fresh join
token, trying the nodes in turn until one serves the meeting (the lapsed lease taken).
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import aiohttp
import socketio
from aiortc import RTCSessionDescription

from core.config import Config
from tests.multinode.nodes import ROOT, Node, free_port, node_environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "committee"))

from committee_peers import ClientParticipant  # noqa: E402

LEASE_SECONDS = 3.0
TAKEOVER_LIMIT = 15.0  # the promise: the meeting continues on another node within 15 s

# How often a participant whose node is gone tries the nodes again: the polling interval of a
# reconnecting client (a browser's back-off), not a guess at when the meeting has moved.
RETRY_SECONDS = 0.25


def start_committee_node(name: str, config: Config, workdir: Path, redis_url: str, *,
                         lease_seconds: float, **settings: str) -> Node:
    """A committee node on its own loopback port, advertising that port as its media URL."""
    port = free_port()
    log_path = workdir / f"committee-{name}-{port}.log"
    env = node_environment(config, LOANCTL_REDIS_URL=redis_url,
                           LOANCTL_MEDIA_NODE_URL=f"http://127.0.0.1:{port}",
                           LOANCTL_MEDIA_LEASE_SECONDS=str(lease_seconds), **settings)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.multinode.committee_node", "--no-demo", "--host", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Node(name, port, process, log_path)


class Refused(Exception):
    def __init__(self, data) -> None:
        super().__init__(str(data))
        self.data = data


@dataclass
class Session:
    """One stay of a participant on one media node."""

    node: str
    peer: ClientParticipant
    client: socketio.AsyncClient
    started: float = field(default_factory=time.monotonic)
    # Set once connect() returned: the server sends the publishers already there from its
    # connect handler, before the client counts the namespace as connected (no call yet).
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Publishers subscribed to (or being): a publisher can come both in the `participants` list
    # and in a `published` event; one subscription each, again only after it `left`.
    subscribed: set[str] = field(default_factory=set)


class RoamingParticipant:
    def __init__(self, user_id: str, token: Callable[[], Awaitable[str]], nodes: list[str], *,
                 first: str, seed: int, media: Callable[[], tuple] | None = None) -> None:
        self.user_id, self.token, self.nodes, self.first, self.seed = user_id, token, nodes, first, seed
        self.media = media  # () -> (camera, microphone) tracks; default: synthetic, encoded live
        self.sessions: list[Session] = []  # the established ones, in order
        self.current: Session | None = None  # the one being established or in use
        self.redirects: list[tuple[str, str]] = []  # (node asked, media node it named)
        self.moved = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._roaming: asyncio.Task | None = None
        self._closed = False
        self.timeline: list[tuple[float, str]] = []  # (monotonic time, what): for failure reports

    def note(self, what: str) -> None:
        self.timeline.append((time.monotonic(), what))

    @property
    def session(self) -> Session | None:
        return self.sessions[-1] if self.sessions else None

    async def join(self) -> Session:
        """Connect through `first` (or wherever it sends us), publish, subscribe to everyone."""
        candidates = [self.first] + [n for n in self.nodes if n != self.first]
        turn = 0
        while True:
            url = candidates[turn % len(candidates)]
            self.note(f"connect {url}")
            try:
                session = await self._connect(url)
                break
            except Refused as refusal:
                named = (refusal.data.get("data") or {}).get("media_node") if isinstance(refusal.data, dict) else None
                if not named:
                    raise AssertionError(f"{url} refused {self.user_id}: {refusal.data}")
                self.redirects.append((url, named))
                self.note(f"sent to {named}")
                try:
                    session = await self._connect(named)
                    break
                except (Refused, socketio.exceptions.ConnectionError):
                    pass  # the named node is gone (its lease not lapsed yet): try the nodes again
            except socketio.exceptions.ConnectionError:
                pass  # the node is down
            turn += 1
            await asyncio.sleep(RETRY_SECONDS)
        offer = await session.peer.publish_offer()
        answer = await session.client.call("publish", {"sdp": offer.sdp, "type": offer.type})
        assert "error" not in answer, answer
        await session.peer.publish_answer(RTCSessionDescription(**answer))
        self.note(f"publishing on {session.node}")
        return session

    async def _connect(self, url: str) -> Session:
        # Our own HTTP session, closed with the session: a refused or failed connect leaves the
        # client's own one open.
        http = aiohttp.ClientSession()
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        camera, microphone = self.media() if self.media else (None, None)
        peer = ClientParticipant(self.user_id, seed=self.seed, keep_video=30, camera=camera, microphone=microphone)
        session = Session(url, peer, client)
        refusals: list = []
        connected_before: list[bool] = []

        @client.event
        async def connect_error(data):
            refusals.append(data)

        @client.on("participants")
        async def on_participants(items):
            for item in items:
                self._spawn(self._subscribe(session, item["participant_id"]))

        @client.on("published")
        async def on_published(item):
            self._spawn(self._subscribe(session, item["participant_id"]))

        @client.on("left")
        async def on_left(data):
            session.subscribed.discard((data or {}).get("participant_id"))

        @client.on("media_node")
        async def on_media_node(data):
            self.first = (data or {}).get("url") or self.first
            self._roam(session)

        @client.event
        async def disconnect(*args):
            if connected_before:
                self._roam(session)

        # Current before connecting: the server sends the publishers already there (to subscribe
        # to) as soon as it accepts, possibly before connect() returns here.
        self.current = session
        try:
            await client.connect(url, auth={"token": await self.token()}, transports=["websocket"],
                                 wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            await client.shutdown()
            await http.close()
            await peer.close()
            if refusals and isinstance(refusals[0], dict):
                raise Refused(refusals[0]) from None
            raise
        connected_before.append(True)
        self.sessions.append(session)
        session.ready.set()
        return session

    async def _subscribe(self, session: Session, publisher_id: str) -> None:
        if publisher_id == self.user_id or publisher_id in session.subscribed:
            return
        session.subscribed.add(publisher_id)
        await session.ready.wait()
        if self.current is not session or not session.client.connected:
            return
        offer = await session.peer.subscribe_offer(publisher_id)
        answer = await session.client.call(
            "subscribe", {"publisher_id": publisher_id, "sdp": offer.sdp, "type": offer.type}, timeout=30)
        if "error" in answer:  # the publisher left meanwhile: nothing to receive
            return
        await session.peer.subscribe_answer(publisher_id, RTCSessionDescription(**answer))

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _roam(self, session: Session) -> None:
        """The session's node died or gave the meeting up: start again elsewhere (once)."""
        if self._closed or self.current is not session or (self._roaming and not self._roaming.done()):
            return

        async def again() -> None:
            self.note("roaming")
            await self._end(session)
            await self.join()
            self.moved.set()

        self._roaming = asyncio.ensure_future(again())

    async def _end(self, session: Session) -> None:
        if session.client.connected:
            await session.client.disconnect()
        await session.client.eio.http.close()
        await session.peer.close()

    def receiving(self, others: list[str], packets: int) -> bool:
        """This participant's current session receives audio and video from every other."""
        session = self.session
        if session is None:
            return False
        receptions = session.peer.receptions
        return all(o in receptions and receptions[o].packets["video"] >= packets
                   and receptions[o].packets["audio"] >= packets for o in others)

    def reception_counts(self) -> dict[str, dict[str, int]]:
        session = self.session
        return {} if session is None else {k: dict(r.packets) for k, r in session.peer.receptions.items()}

    async def close(self) -> None:
        self._closed = True
        if self._roaming is not None:
            self._roaming.cancel()
        for task in list(self._tasks):
            task.cancel()
        for session in self.sessions:
            await self._end(session)
