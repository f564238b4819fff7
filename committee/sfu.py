"""Selective forwarding of encoded VP8/Opus media between meeting participants.

Topology (one connection per direction and pair):

* **publish**: each participant has one peer connection to the server on which it
  *sends* its microphone and camera (the participant offers, the server answers).
  The server receives the encoded frames with
  :class:`committee.encodedreceiver.EncodedRtpReceiver` and never decodes them.
* **subscribe**: for every other participant it wants to see, a participant opens
  one more peer connection on which it *receives* that publisher's audio and
  video (the participant offers recvonly, the server answers with the forwarded
  tracks). A late joiner subscribes to everyone already published; everyone
  already present subscribes to the newcomer when told it has published.

A connection per subscription instead of renegotiating one connection per
participant keeps every negotiation a plain offer/answer started by the client
(aiortc has no ICE restart and its renegotiation of removed tracks is fragile),
makes leaving a matter of closing connections, and isolates a failing
subscriber. The price is one ICE/DTLS session per pair (n·(n-1) for n
participants), which costs a handshake at join time, not per packet.

Every published track is read once (:class:`PublishedTrack`) and each packet is
handed to every subscriber's :class:`ForwardedTrack` (and to a recorder, if any).
A subscriber that falls behind or joins mid-stream waits for the next key frame,
which it requests from the publisher; keyframe requests (PLI/FIR) from
subscribers are passed to the publisher, rate-limited by the receiver.

All participants must use VP8 and Opus: the server prefers them in its answers
and refuses offers without them. ``iceServers`` is empty (no public STUN in a
bank intranet). Bandwidth feedback (REMB) is not relayed: a browser publisher
should cap its bitrate (``RTCRtpSender.setParameters`` ``maxBitrate``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Optional, Protocol

import av
from aiortc import (
    RTCConfiguration,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encodedreceiver import EncodedPeerConnection, EncodedRtpReceiver
from .reconnection import LivenessMonitor, ReconnectPolicy

logger = logging.getLogger(__name__)

MEDIA_KINDS = ("audio", "video")
PREFERRED_CODECS = {"audio": ("audio/opus",), "video": ("video/VP8", "video/rtx")}
REQUIRED_SDP_CODEC = {"audio": "opus/48000", "video": "VP8/90000"}


class OfferError(ValueError):
    """A participant's SDP offer cannot be served by this room."""


class UnknownParticipant(KeyError):
    def __str__(self) -> str:
        return f"no participant {self.args[0]!r} in this room"


def ice_configuration() -> RTCConfiguration:
    # No STUN/TURN by default: aiortc would otherwise try a public STUN server.
    return RTCConfiguration(iceServers=[])


def codec_preferences(kind: str) -> list:
    wanted = PREFERRED_CODECS[kind]
    return [
        codec
        for codec in RTCRtpSender.getCapabilities(kind).codecs
        if codec.mimeType in wanted
    ]


def check_offer(offer: RTCSessionDescription, kinds: tuple[str, ...]) -> None:
    if not isinstance(offer, RTCSessionDescription) or offer.type != "offer":
        raise OfferError("expected an SDP offer (RTCSessionDescription type 'offer')")
    sdp = offer.sdp
    offered = [kind for kind in kinds if f"m={kind} " in sdp]
    if not offered:
        raise OfferError(f"the offer has no {' or '.join(kinds)} section")
    for kind in offered:
        if REQUIRED_SDP_CODEC[kind].lower() not in sdp.lower():
            raise OfferError(
                f"the offer's {kind} does not include {REQUIRED_SDP_CODEC[kind]}: "
                "this room forwards VP8 video and Opus audio only"
            )


class ForwardedTrack(MediaStreamTrack):
    """One subscriber's copy of a published track, yielding ``av.Packet``."""

    def __init__(self, source: "PublishedTrack", max_queue: int = 256) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.packets_delivered = 0
        self.packets_dropped = 0
        self._queue: asyncio.Queue = asyncio.Queue(max_queue)
        # A decoder can only start at a key frame; audio frames all are.
        self._needs_keyframe = source.kind == "video"

    def deliver(self, packet: Optional[av.Packet]) -> None:
        if packet is None:
            self._put(None)
            return
        if self._needs_keyframe:
            if not packet.is_keyframe:
                self.packets_dropped += 1
                self.request_keyframe()
                return
            self._needs_keyframe = False
        if self._queue.full():
            # Too slow a consumer: drop what is queued and restart at a key frame
            # rather than hand it a broken sequence.
            self.packets_dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            if self.kind == "video":
                self._needs_keyframe = True
                self.request_keyframe()
                self.packets_dropped += 1
                return
        self._put(packet)

    def _put(self, item: Optional[av.Packet]) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._queue.get_nowait()
            self._queue.put_nowait(item)

    def request_keyframe(self) -> None:
        self.source.request_keyframe()

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        self.packets_delivered += 1
        return packet

    def stop(self) -> None:
        super().stop()
        self.source.unsubscribe(self)


class PublishedTrack:
    """A participant's received track, read once and fanned out."""

    def __init__(
        self, participant_id: str, receiver: EncodedRtpReceiver, track: MediaStreamTrack
    ) -> None:
        self.participant_id = participant_id
        self.kind = track.kind
        self.track_id = f"{participant_id}-{track.kind}"
        self.receiver = receiver
        self.packets = 0
        self.first_packet_time: Optional[float] = None
        # monotonic time of the latest packet: a silent publisher's path is dead (reconnection)
        self.last_packet_at: Optional[float] = None
        self._track = track
        self._subscribers: list[ForwardedTrack] = []
        self._task: Optional[asyncio.Task] = None
        self.ended = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def subscribe(self, max_queue: int = 256) -> ForwardedTrack:
        forwarded = ForwardedTrack(self, max_queue=max_queue)
        if self.ended.is_set():
            forwarded.deliver(None)
        else:
            self._subscribers.append(forwarded)
            if self.kind == "video":
                forwarded.request_keyframe()
        return forwarded

    def unsubscribe(self, forwarded: ForwardedTrack) -> None:
        if forwarded in self._subscribers:
            self._subscribers.remove(forwarded)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def request_keyframe(self) -> None:
        self.receiver.request_keyframe()

    async def _run(self) -> None:
        try:
            while True:
                packet = await self._track.recv()
                if self.first_packet_time is None:
                    self.first_packet_time = time.time()
                self.last_packet_at = time.monotonic()
                self.packets += 1
                for subscriber in list(self._subscribers):
                    subscriber.deliver(packet)
        except MediaStreamError:
            pass
        finally:
            self.ended.set()
            for subscriber in list(self._subscribers):
                subscriber.deliver(None)
            self._subscribers.clear()

    async def stop(self) -> None:
        self._track.stop()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


@dataclass
class Participant:
    participant_id: str
    role: str
    display_name: str
    joined_at: float = field(default_factory=time.time)
    publish_connection: Optional[EncodedPeerConnection] = None
    tracks: dict[str, PublishedTrack] = field(default_factory=dict)
    # publisher id -> connection on which this participant receives that publisher
    subscriptions: dict[str, EncodedPeerConnection] = field(default_factory=dict)
    # "joined" (no media yet), "live" (publishing), "reconnecting" (its media path died; the
    # seat is kept until it publishes on a fresh connection or leaves)
    state: str = "joined"
    # how many times its media came back on a fresh connection
    reconnects: int = 0


class RoomObserver(Protocol):
    """Told about what happens in a room (a recorder, the signaling layer)."""

    async def participant_joined(self, participant: Participant) -> None: ...

    async def track_published(
        self, participant: Participant, track: PublishedTrack
    ) -> None: ...

    async def participant_left(self, participant: Participant) -> None: ...

    # Optional (an observer without them is not told): a participant's media path died and
    # its connections were closed; one subscription died.
    async def media_lost(self, participant: Participant, reason: str) -> None: ...

    async def subscription_lost(self, participant: Participant, publisher_id: str, reason: str) -> None: ...


class MediaRoom:
    """The media of one meeting: who publishes, who receives whom."""

    def __init__(self, room_id: str, policy: Optional[ReconnectPolicy] = None) -> None:
        self.room_id = room_id
        self.participants: dict[str, Participant] = {}
        self.observers: list[RoomObserver] = []
        self.policy = policy or ReconnectPolicy()
        self.monitor = LivenessMonitor(self, self.policy)
        self._closed = False

    # -- queries --------------------------------------------------------------

    def participant(self, participant_id: str) -> Participant:
        try:
            return self.participants[participant_id]
        except KeyError:
            raise UnknownParticipant(participant_id) from None

    def publishers(self) -> list[str]:
        return [p.participant_id for p in self.participants.values() if p.tracks]

    def connections(self) -> list[EncodedPeerConnection]:
        found = []
        for participant in self.participants.values():
            if participant.publish_connection is not None:
                found.append(participant.publish_connection)
            found.extend(participant.subscriptions.values())
        return found

    # -- commands -------------------------------------------------------------

    async def join(
        self, participant_id: str, *, role: str = "member", display_name: str = ""
    ) -> Participant:
        """Register a participant (no media yet); it may subscribe before publishing."""
        if self._closed:
            raise RuntimeError(f"room {self.room_id} is closed")
        if not participant_id:
            raise ValueError("a participant needs an id")
        participant = self.participants.get(participant_id)
        if participant is not None:
            return participant
        participant = Participant(participant_id, role, display_name)
        self.participants[participant_id] = participant
        for observer in list(self.observers):
            await observer.participant_joined(participant)
        return participant

    async def publish(
        self,
        participant_id: str,
        offer: RTCSessionDescription,
        *,
        role: str = "member",
        display_name: str = "",
    ) -> RTCSessionDescription:
        """Accept a participant's sendonly offer; returns the server's answer."""
        if self._closed:
            raise RuntimeError(f"room {self.room_id} is closed")
        check_offer(offer, MEDIA_KINDS)
        participant = await self.join(participant_id, role=role, display_name=display_name)
        if participant.publish_connection is not None:
            # The participant found its own path dead before the room did (or reloaded its
            # page): the fresh connection replaces the old one, as a reconnect.
            await self.media_lost(participant_id, "renegotiated")
        reconnecting = participant.state == "reconnecting"
        pc = EncodedPeerConnection(ice_configuration())
        # Claimed before the first await so that a concurrent publish is refused.
        participant.publish_connection = pc
        for kind in MEDIA_KINDS:
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(codec_preferences(kind))
        try:
            await pc.setRemoteDescription(offer)
            tracks = {}
            for transceiver in pc.getTransceivers():
                track = transceiver.receiver.track
                if track is not None and transceiver.kind in MEDIA_KINDS:
                    assert isinstance(transceiver.receiver, EncodedRtpReceiver)
                    tracks[track.kind] = PublishedTrack(participant_id, transceiver.receiver, track)
            if not tracks:
                raise OfferError("the publish offer sends no audio or video")
            await pc.setLocalDescription(await pc.createAnswer())
            if self.participants.get(participant_id) is not participant:
                raise OfferError(f"participant {participant_id!r} left while publishing")
            if participant.publish_connection is not pc:
                raise OfferError(f"participant {participant_id!r} published again meanwhile")
        except Exception as exc:
            if participant.publish_connection is pc:
                participant.publish_connection = None
            await pc.close()
            if isinstance(exc, OfferError):
                raise
            raise OfferError(f"cannot accept the publish offer: {exc}") from exc
        participant.tracks = tracks
        participant.state = "live"
        if reconnecting:
            participant.reconnects += 1
        self._watch(pc, participant_id, publish=True)
        self.monitor.start()
        for published in participant.tracks.values():
            published.start()
            for observer in list(self.observers):
                await observer.track_published(participant, published)
        return pc.localDescription

    async def subscribe(
        self, subscriber_id: str, publisher_id: str, offer: RTCSessionDescription
    ) -> RTCSessionDescription:
        """Answer a subscriber's recvonly offer with the publisher's tracks."""
        check_offer(offer, MEDIA_KINDS)
        subscriber = self.participant(subscriber_id)
        publisher = self.participant(publisher_id)
        if subscriber_id == publisher_id:
            raise OfferError("a participant does not subscribe to itself")
        if publisher.state == "reconnecting":
            # Its tracks are gone until it publishes again; the subscriber is told then.
            raise OfferError(f"participant {publisher_id!r} is reconnecting")
        if publisher_id in subscriber.subscriptions:
            await self._close_subscription(subscriber, publisher_id)
        pc = EncodedPeerConnection(ice_configuration())
        forwarded: list[ForwardedTrack] = []
        for kind in MEDIA_KINDS:
            published = publisher.tracks.get(kind)
            if published is None:
                continue
            track = published.subscribe()
            forwarded.append(track)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(codec_preferences(kind))
        try:
            await pc.setRemoteDescription(offer)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            for track in forwarded:
                track.stop()
            await pc.close()
            raise OfferError(f"cannot accept the subscribe offer: {exc}") from exc
        subscriber.subscriptions[publisher_id] = pc
        self._watch(pc, subscriber_id, publisher_id=publisher_id)
        return pc.localDescription

    async def remove(self, participant_id: str) -> None:
        """Close every connection of a participant, both directions."""
        participant = self.participants.pop(participant_id, None)
        if participant is None:
            return
        connections = list(participant.subscriptions.values())
        if participant.publish_connection is not None:
            connections.append(participant.publish_connection)
        participant.subscriptions.clear()
        for other in self.participants.values():
            pc = other.subscriptions.pop(participant_id, None)
            if pc is not None:
                connections.append(pc)
        for pc in connections:
            self.monitor.forget(pc)
        await asyncio.gather(*(pc.close() for pc in connections), return_exceptions=True)
        for published in participant.tracks.values():
            await published.stop()
        for observer in list(self.observers):
            await observer.participant_left(participant)

    async def close(self) -> None:
        self._closed = True
        await self.monitor.stop()
        for participant_id in list(self.participants):
            await self.remove(participant_id)

    async def media_lost(self, participant_id: str, reason: str) -> None:
        """A participant's media path is dead: close its connections (both directions) and
        end its published tracks (their recording segments end), keeping its seat. It comes
        back by publishing on a fresh connection (aiortc has no ICE restart)."""
        participant = self.participants.get(participant_id)
        if participant is None or participant.publish_connection is None:
            return
        logger.info("room %s: media of %s lost (%s)", self.room_id, participant_id, reason)
        pc, participant.publish_connection = participant.publish_connection, None
        tracks, participant.tracks = participant.tracks, {}
        participant.state = "reconnecting"
        closing = [pc]
        closing.extend(participant.subscriptions.values())
        participant.subscriptions.clear()
        for other in self.participants.values():
            subscription = other.subscriptions.pop(participant_id, None)
            if subscription is not None:
                closing.append(subscription)
        for connection in closing:
            self.monitor.forget(connection)
        await asyncio.gather(*(c.close() for c in closing), return_exceptions=True)
        for published in tracks.values():
            await published.stop()
        await self._tell("media_lost", participant, reason)

    async def subscription_lost(self, subscriber_id: str, publisher_id: str, reason: str) -> None:
        """One receiving path died: close it; the subscriber subscribes again."""
        participant = self.participants.get(subscriber_id)
        if participant is None or publisher_id not in participant.subscriptions:
            return
        logger.info("room %s: %s lost its subscription to %s (%s)", self.room_id, subscriber_id,
                    publisher_id, reason)
        self.monitor.forget(participant.subscriptions[publisher_id])
        await self._close_subscription(participant, publisher_id)
        await self._tell("subscription_lost", participant, publisher_id, reason)

    # -- internals ------------------------------------------------------------

    async def _tell(self, event: str, *args) -> None:
        for observer in list(self.observers):
            handler = getattr(observer, event, None)
            if handler is not None:
                await handler(*args)

    async def _close_subscription(self, subscriber: Participant, publisher_id: str) -> None:
        pc = subscriber.subscriptions.pop(publisher_id, None)
        if pc is not None:
            self.monitor.forget(pc)
            await pc.close()

    def _watch(
        self,
        pc: EncodedPeerConnection,
        participant_id: str,
        *,
        publish: bool = False,
        publisher_id: Optional[str] = None,
    ) -> None:
        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState != "failed":
                return
            logger.info(
                "room %s: connection of %s failed (%s)",
                self.room_id,
                participant_id,
                "publish" if publish else f"subscription to {publisher_id}",
            )
            participant = self.participants.get(participant_id)
            if participant is None:
                return
            # The seat is kept: the participant renegotiates a fresh connection (reconnection).
            if publish and participant.publish_connection is pc:
                await self.media_lost(participant_id, "ice-failed")
            elif publisher_id is not None and participant.subscriptions.get(publisher_id) is pc:
                await self.subscription_lost(participant_id, publisher_id, "ice-failed")
