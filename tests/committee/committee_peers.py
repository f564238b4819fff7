"""Real aiortc participants for committee tests and the benchmark.

A participant publishes synthetic camera and microphone tracks (really encoded
by aiortc's VP8 and Opus encoders) on one connection, and receives each other
participant on its own connection. Receiving uses
:class:`committee.encodedreceiver.EncodedPeerConnection`, so the test process
decodes nothing through aiortc either; tests decode what they received with
PyAV directly when they need to look at pictures.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
from dataclasses import dataclass, field
from typing import Optional

import av
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
import socketio
from aiohttp import web

from committee.encodedreceiver import EncodedPeerConnection
from tests.waiting import PATIENCE, limit

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms


class SyntheticCameraTrack(MediaStreamTrack):
    """Moving gradient at a fixed frame rate; stops after ``frame_limit`` frames."""

    kind = "video"

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        frame_limit: Optional[int] = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.frame_limit = frame_limit
        self.frames_sent = 0
        self._start: Optional[float] = None
        y = np.arange(height, dtype=np.uint16)[:, None]
        x = np.arange(width, dtype=np.uint16)[None, :]
        self._base = ((x + y + seed * 40) % 256).astype(np.uint8)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.frame_limit is not None and self.frames_sent >= self.frame_limit:
            self.stop()
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.frames_sent / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        shift = (self.frames_sent * 4) % 256
        luma = (self._base + shift).astype(np.uint8)
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(_pad(luma, frame.planes[0].line_size))
        chroma = np.full((self.height // 2, self.width // 2), 128, np.uint8)
        frame.planes[1].update(_pad(chroma, frame.planes[1].line_size))
        frame.planes[2].update(_pad(chroma, frame.planes[2].line_size))
        frame.pts = int(self.frames_sent * 90000 / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame


def _pad(plane: np.ndarray, line_size: int) -> bytes:
    if plane.shape[1] == line_size:
        return plane.tobytes()
    padded = np.zeros((plane.shape[0], line_size), np.uint8)
    padded[:, : plane.shape[1]] = plane
    return padded.tobytes()


class ToneMicrophoneTrack(MediaStreamTrack):
    """A sine tone in 20 ms stereo s16 frames at 48 kHz."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self.frequency = frequency
        self.frames_sent = 0
        self._start: Optional[float] = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.frames_sent * AUDIO_SAMPLES / AUDIO_RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        first = self.frames_sent * AUDIO_SAMPLES
        t = (np.arange(first, first + AUDIO_SAMPLES) / AUDIO_RATE).astype(np.float64)
        mono = (np.sin(2 * math.pi * self.frequency * t) * 8000).astype(np.int16)
        samples = np.repeat(mono, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = first
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.frames_sent += 1
        return frame


class GatedTrack(MediaStreamTrack):
    """Another track's frames, from the moment ``go`` is set: media starts once every connection
    of a big room is up, so that on a loaded machine the set-up (ICE checks, DTLS handshakes)
    does not compete with dozens of streams already flowing."""

    def __init__(self, track: MediaStreamTrack, go: asyncio.Event) -> None:
        super().__init__()
        self.kind = track.kind
        self.track, self.go = track, go

    @property
    def frames_sent(self) -> int:
        return self.track.frames_sent

    async def recv(self):
        await self.go.wait()
        return await self.track.recv()

    def stop(self) -> None:
        super().stop()
        self.track.stop()


def prefer(transceiver, kind: str) -> None:
    wanted = {"audio": ("audio/opus",), "video": ("video/VP8", "video/rtx")}[kind]
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType in wanted]
    )


@dataclass
class Reception:
    """What one participant received from one publisher."""

    publisher_id: str
    connection: EncodedPeerConnection
    packets: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    video_packets: list[av.Packet] = field(default_factory=list)
    keep_video: int = 0
    tasks: list[asyncio.Task] = field(default_factory=list)
    first_packet: dict[str, float] = field(default_factory=dict)

    async def consume(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                packet = await track.recv()
                self.first_packet.setdefault(track.kind, time.monotonic())
                self.packets[track.kind] += 1
                if track.kind == "video" and len(self.video_packets) < self.keep_video:
                    self.video_packets.append(packet)
        except MediaStreamError:
            pass


class ClientParticipant:
    """An aiortc participant driving a :class:`committee.sfu.MediaRoom`-like API."""

    def __init__(
        self,
        participant_id: str,
        *,
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        frame_limit: Optional[int] = None,
        keep_video: int = 0,
        seed: int = 0,
        camera: Optional[MediaStreamTrack] = None,
        microphone: Optional[MediaStreamTrack] = None,
    ) -> None:
        self.participant_id = participant_id
        self.seed = seed
        self.camera = camera or SyntheticCameraTrack(width, height, fps, frame_limit, seed)
        self.microphone = microphone or ToneMicrophoneTrack(300.0 + 50 * seed)
        self.publish_connection: Optional[RTCPeerConnection] = None
        self.receptions: dict[str, Reception] = {}
        self.keep_video = keep_video

    async def publish_offer(self) -> RTCSessionDescription:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        prefer(pc.addTransceiver(self.microphone, direction="sendonly"), "audio")
        prefer(pc.addTransceiver(self.camera, direction="sendonly"), "video")
        await pc.setLocalDescription(await pc.createOffer())
        self.publish_connection = pc
        return pc.localDescription

    async def publish_answer(self, answer: RTCSessionDescription) -> None:
        assert self.publish_connection is not None
        await self.publish_connection.setRemoteDescription(answer)

    async def subscribe_offer(self, publisher_id: str) -> RTCSessionDescription:
        old = self.receptions.pop(publisher_id, None)
        if old is not None:
            await old.connection.close()
        pc = EncodedPeerConnection(RTCConfiguration(iceServers=[]))
        reception = Reception(publisher_id, pc, keep_video=self.keep_video)
        self.receptions[publisher_id] = reception
        prefer(pc.addTransceiver("audio", direction="recvonly"), "audio")
        prefer(pc.addTransceiver("video", direction="recvonly"), "video")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            reception.tasks.append(asyncio.ensure_future(reception.consume(track)))

        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription

    async def subscribe_answer(
        self, publisher_id: str, answer: RTCSessionDescription
    ) -> None:
        await self.receptions[publisher_id].connection.setRemoteDescription(answer)

    async def join(self, room, role: str = "member") -> None:
        """Publish, then subscribe to everyone already publishing."""
        answer = await room.publish(
            self.participant_id, await self.publish_offer(), role=role
        )
        await self.publish_answer(answer)
        for publisher_id in room.publishers():
            if publisher_id != self.participant_id:
                await self.subscribe_to(room, publisher_id)

    async def subscribe_to(self, room, publisher_id: str) -> None:
        offer = await self.subscribe_offer(publisher_id)
        answer = await room.subscribe(self.participant_id, publisher_id, offer)
        await self.subscribe_answer(publisher_id, answer)

    def connections(self) -> list[RTCPeerConnection]:
        found = [self.publish_connection] if self.publish_connection is not None else []
        return found + [r.connection for r in self.receptions.values()]

    async def cut(self) -> None:
        """The network goes: every connection's ICE transport stops, nothing is said to the
        server (no DTLS close, no BYE), as when a branch's link drops."""
        for pc in self.connections():
            for transceiver in pc.getTransceivers():
                transport = transceiver.sender.transport
                if transport is not None:
                    await transport.transport.stop()

    async def close(self) -> None:
        if self.publish_connection is not None:
            await self.publish_connection.close()
        for reception in self.receptions.values():
            await reception.connection.close()
            for task in reception.tasks:
                task.cancel()


def decode_vp8(packets: list[av.Packet]) -> list[av.VideoFrame]:
    """Decode received VP8 packets with PyAV (not through aiortc)."""
    decoder = av.CodecContext.create("libvpx", "r")
    frames: list[av.VideoFrame] = []
    for packet in packets:
        frames.extend(decoder.decode(av.Packet(bytes(packet))))
    return frames


async def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll until `predicate()` holds; fail naming `what` once the limit passes (`timeout`, but
    never less than the suite's patience: tests/waiting.py)."""
    timeout = limit(timeout)
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serving(signaling):
    """``signaling`` served on an ephemeral loopback port; yields its URL."""
    app = web.Application()
    signaling.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


class SocketParticipant:
    """An aiortc participant that signals through Socket.IO like the browser page."""

    def __init__(self, url: str, user: str, role: str = "member", seed: int = 0):
        self.url = url
        self.peer = ClientParticipant(user, seed=seed)
        self.client = socketio.AsyncClient(reconnection=False)
        self.removed: list[str] = []
        self.left: list[str] = []
        self.phases: list[str] = []
        self.reconnects: list[str] = []  # the reasons the server gave
        self.refusals: list[str] = []
        self.states: list[tuple[str, str]] = []  # (participant, state) told by the server
        self.user, self.role = user, role
        self._pending: list[asyncio.Task] = []

        @self.client.on("reconnect")
        async def on_reconnect(data):
            # The server found our media path dead: a fresh connection (aiortc has no ICE restart).
            self.reconnects.append(data["reason"])
            self._pending.append(asyncio.ensure_future(self.rebuild()))

        @self.client.on("resubscribe")
        async def on_resubscribe(data):
            self._pending.append(asyncio.ensure_future(self.subscribe(data["publisher_id"])))

        @self.client.on("participant-state")
        async def on_state(data):
            self.states.append((data["participant_id"], data["state"]))

        @self.client.on("participants")
        async def on_participants(items):
            for item in items:
                self._pending.append(asyncio.ensure_future(self.subscribe(item["participant_id"])))

        @self.client.on("published")
        async def on_published(item):
            self._pending.append(asyncio.ensure_future(self.subscribe(item["participant_id"])))

        @self.client.on("removed")
        async def on_removed(data):
            self.removed.append(data["reason"])

        @self.client.on("left")
        async def on_left(data):
            self.left.append(data["participant_id"])

        @self.client.on("phase")
        async def on_phase(data):
            self.phases.append(data["phase"])

    async def connect(self, tok: str) -> None:
        await self.client.connect(self.url, auth={"token": tok}, transports=["websocket"], wait_timeout=PATIENCE)

    async def publish(self) -> None:
        offer = await self.peer.publish_offer()
        answer = await self.client.call("publish", {"sdp": offer.sdp, "type": offer.type})
        if answer.get("refused"):
            self.refusals.append(answer["error"])
            return
        assert "error" not in answer, answer
        await self.peer.publish_answer(RTCSessionDescription(**answer))

    async def cut(self) -> None:
        await self.peer.cut()

    async def rebuild(self) -> None:
        """Publish on a fresh connection and receive everyone again on fresh ones."""
        publishers = list(self.peer.receptions)
        await self.peer.close()
        self.peer.receptions = {}
        self.peer.camera = SyntheticCameraTrack(seed=self.peer.seed)
        self.peer.microphone = ToneMicrophoneTrack(300.0 + 50 * self.peer.seed)
        await self.publish()
        if self.refusals:
            return
        for publisher_id in publishers:
            try:
                await self.subscribe(publisher_id)
            except AssertionError:  # that one is reconnecting too: its "published" will come
                pass

    async def subscribe(self, publisher_id: str) -> None:
        offer = await self.peer.subscribe_offer(publisher_id)
        answer = await self.client.call(
            "subscribe", {"publisher_id": publisher_id, "sdp": offer.sdp, "type": offer.type})
        assert "error" not in answer, answer
        await self.peer.subscribe_answer(publisher_id, RTCSessionDescription(**answer))

    async def close(self) -> None:
        for task in self._pending:
            task.cancel()
        if self.client.connected:
            await self.client.disconnect()
        await self.peer.close()
