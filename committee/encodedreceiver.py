"""Receive encoded VP8/Opus frames with aiortc instead of decoded ones.

aiortc's :class:`RTCRtpReceiver` always decodes: after the jitter buffer has
re-assembled a frame, ``_handle_rtp_packet`` puts ``(codec, frame)`` on the
receiver's private decoder queue and a decoder thread turns it into
``av.VideoFrame``/``av.AudioFrame`` (there is no public switch, aiortc #449).
An SFU must forward what it receives without decoding, so this module adapts
the receiver in one place:

* :class:`EncodedRtpReceiver` replaces the receiver's decoder queue with an
  :class:`EncodedFrameSink` that wraps every re-assembled frame in an
  ``av.Packet`` (with ``pts``, ``time_base`` and ``is_keyframe`` set) and hands it
  straight to the receiver's track. The decoder thread that aiortc still starts
  only ever waits for the stop signal: it never gets a frame, so it never
  creates a decoder.
* :class:`KeyframeForwardingSender` passes the keyframe requests (PLI/FIR) that a
  subscriber sends for a forwarded track on to that track
  (``track.request_keyframe()``), because aiortc only honours them when it
  encodes itself.
* :meth:`EncodedRtpReceiver.request_keyframe` sends a rate-limited PLI to the
  publisher.
* A video receiver whose jitter buffer stalls on a lost packet (no frame for
  ``VIDEO_STALL_TIMEOUT`` while packets arrive) starts a fresh buffer, resumes at
  the next key frame and requests one, instead of freezing for 512 packets.
* :class:`EncodedPeerConnection` is an ``RTCPeerConnection`` whose transceivers
  use both classes (aiortc creates them itself, with no factory hook, so they
  are specialised right after creation, before they are started).

The adaptation relies on aiortc internals (the name-mangled decoder queue and
transceiver factory, jitter buffer). It is written for aiortc |PINNED| exactly and refuses to
import on any other version: re-read ``rtcrtpreceiver.py`` and
``rtcpeerconnection.py`` of the new version before raising the pin.

:func:`decoder_creations` counts every decoder aiortc creates in this process,
so tests can prove that a forwarding server decodes nothing.
"""

from __future__ import annotations

import asyncio
import fractions
import queue
import time
from typing import Any, Callable, Optional

import aiortc
import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc import rtcrtpreceiver as _aiortc_receiver_module
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

PINNED_AIORTC_VERSION = "1.16.0"

__doc__ = (__doc__ or "").replace("|PINNED|", PINNED_AIORTC_VERSION)


class UnsupportedAiortcVersion(RuntimeError):
    """The installed aiortc is not the version this adaptation was written for."""


def check_aiortc_version(version: Optional[str] = None) -> None:
    """Refuse to run on an aiortc other than :data:`PINNED_AIORTC_VERSION`."""
    installed = aiortc.__version__ if version is None else version
    if installed != PINNED_AIORTC_VERSION:
        raise UnsupportedAiortcVersion(
            f"committee.encodedreceiver adapts private internals of aiortc "
            f"{PINNED_AIORTC_VERSION} (RTCRtpReceiver's decoder queue, "
            f"RTCPeerConnection's transceiver factory) but aiortc {installed} is "
            f"installed. Install aiortc=={PINNED_AIORTC_VERSION}, or review "
            f"rtcrtpreceiver.py and rtcpeerconnection.py of {installed} against "
            f"this module and update PINNED_AIORTC_VERSION."
        )


check_aiortc_version()


# -- decoder accounting -------------------------------------------------------

_original_get_decoder = _aiortc_receiver_module.get_decoder
_decoder_creations = 0


def _counting_get_decoder(codec: Any) -> Any:
    global _decoder_creations
    _decoder_creations += 1
    return _original_get_decoder(codec)


def decoder_creations() -> int:
    """How many decoders aiortc's receivers have created in this process."""
    return _decoder_creations


if _aiortc_receiver_module.get_decoder is not _counting_get_decoder:
    # The decoder thread looks the factory up in its module's globals, so
    # wrapping it there sees every decoder aiortc creates (observation only).
    _aiortc_receiver_module.get_decoder = _counting_get_decoder


# -- encoded frames -----------------------------------------------------------

VIDEO_CLOCK_RATE = 90000
OPUS_CLOCK_RATE = 48000


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame, whose
    header then carries the start code 9d 01 2a."""
    return len(data) >= 10 and (data[0] & 0x01) == 0 and data[3:6] == b"\x9d\x01\x2a"


def vp8_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from a VP8 key frame header (RFC 6386 section 9.1)."""
    if not is_vp8_keyframe(data):
        raise ValueError("not a VP8 key frame: cannot read its dimensions")
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class EncodedFrameSink:
    """Stands in for the receiver's decoder queue.

    aiortc calls :meth:`put` on the event loop thread with ``(codec, frame)``
    for every re-assembled frame and with ``None`` when the receiver stops. The
    frame goes to the track as an ``av.Packet``; the stop signal goes to the
    idle decoder thread (via :meth:`get`), which then ends the track the way
    aiortc always does.
    """

    def __init__(self, kind: str, track_queue: asyncio.Queue) -> None:
        self.kind = kind
        self.assembled = 0  # frames out of the jitter buffer
        self.frames = 0  # frames passed on
        self.keyframes = 0
        self.needs_keyframe = False
        self._track_queue = track_queue
        self._stop: queue.Queue = queue.Queue()

    def put(self, item: Optional[tuple[Any, Any]]) -> None:
        if item is None:
            self._stop.put(None)
            return
        codec, frame = item
        self.assembled += 1
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.dts = frame.timestamp
        packet.time_base = fractions.Fraction(1, codec.clockRate)
        keyframe = self.kind == "audio" or is_vp8_keyframe(frame.data)
        if self.needs_keyframe:
            if not keyframe:
                return
            self.needs_keyframe = False
        packet.is_keyframe = keyframe
        self.frames += 1
        self.keyframes += int(keyframe)
        self._track_queue.put_nowait(packet)

    def get(self) -> None:
        # Called by aiortc's decoder thread: block until the receiver stops.
        return self._stop.get()


# aiortc's video jitter buffer releases nothing after a packet that is never
# recovered (NACK failed) until 512 more packets have arrived: about 7 s of
# 500 kbit/s video, far longer at low bitrates, frozen for every subscriber.
# After this long without a frame while packets keep coming, the receiver
# starts a fresh buffer, skips to the next key frame and asks for one.
VIDEO_STALL_TIMEOUT = 1.0


class EncodedRtpReceiver(RTCRtpReceiver):
    """An ``RTCRtpReceiver`` whose track yields ``av.Packet`` (VP8 or Opus)."""

    keyframe_request_interval = 0.5
    _sink: EncodedFrameSink
    _last_keyframe_request: float
    _frames_seen: int
    _last_progress: float
    keyframe_requests_sent: int
    stalls_recovered: int

    @classmethod
    def adopt(cls, receiver: RTCRtpReceiver) -> "EncodedRtpReceiver":
        """Turn a freshly created, not yet started receiver into this class."""
        if receiver.__class__ is cls:
            return receiver  # type: ignore[return-value]
        if receiver.__class__ is not RTCRtpReceiver:
            raise TypeError(f"cannot adopt a {receiver.__class__.__name__}")
        receiver.__class__ = cls
        assert isinstance(receiver, EncodedRtpReceiver)
        receiver._last_keyframe_request = float("-inf")
        receiver.keyframe_requests_sent = 0
        receiver.stalls_recovered = 0
        receiver._frames_seen = 0
        receiver._last_progress = time.monotonic()
        return receiver

    @property
    def kind(self) -> str:
        return self._RTCRtpReceiver__kind  # type: ignore[attr-defined]

    @property
    def frames_received(self) -> int:
        sink = getattr(self, "_sink", None)
        return sink.frames if sink else 0

    async def receive(self, parameters: Any) -> None:
        if getattr(self, "_sink", None) is None:
            if self._track is None:
                raise RuntimeError("receiver started without a remote track")
            self._sink = EncodedFrameSink(self.kind, self._track._queue)
            # super().receive() hands this queue to its decoder thread and
            # _handle_rtp_packet() feeds it: both now meet our sink.
            self._RTCRtpReceiver__decoder_queue = self._sink
        await super().receive(parameters)

    async def _handle_rtp_packet(self, packet: Any, arrival_time_ms: int) -> None:
        await super()._handle_rtp_packet(packet, arrival_time_ms)
        sink = getattr(self, "_sink", None)
        if sink is None or self.kind != "video":
            return
        now = time.monotonic()
        if sink.assembled != self._frames_seen:
            self._frames_seen = sink.assembled
            self._last_progress = now
            if sink.needs_keyframe:
                self.request_keyframe()
        elif now - self._last_progress > VIDEO_STALL_TIMEOUT:
            self._recover_from_stall(sink, now)

    def _recover_from_stall(self, sink: "EncodedFrameSink", now: float) -> None:
        self._RTCRtpReceiver__jitter_buffer = JitterBuffer(capacity=512, is_video=True)
        # The new buffer may start inside a frame: pass nothing on before a
        # complete key frame.
        sink.needs_keyframe = True
        self._last_progress = now
        self.stalls_recovered += 1
        self._last_keyframe_request = float("-inf")
        self.request_keyframe()

    def request_keyframe(self) -> bool:
        """Ask the publisher for a key frame (PLI), at most once per interval.

        Returns whether a request was sent.
        """
        if self.kind != "video":
            return False
        now = time.monotonic()
        if now - self._last_keyframe_request < self.keyframe_request_interval:
            return False
        sources = self.getSynchronizationSources()
        if not sources:
            return False
        self._last_keyframe_request = now
        self.keyframe_requests_sent += 1
        newest = max(sources, key=lambda source: source.timestamp)
        asyncio.ensure_future(self._send_rtcp_pli(newest.source))
        return True


class KeyframeForwardingSender(RTCRtpSender):
    """An ``RTCRtpSender`` that passes a subscriber's PLI/FIR to its track."""

    keyframe_requests_received: int

    @classmethod
    def adopt(cls, sender: RTCRtpSender) -> "KeyframeForwardingSender":
        if sender.__class__ is cls:
            return sender  # type: ignore[return-value]
        if sender.__class__ is not RTCRtpSender:
            raise TypeError(f"cannot adopt a {sender.__class__.__name__}")
        sender.__class__ = cls
        assert isinstance(sender, KeyframeForwardingSender)
        sender.keyframe_requests_received = 0
        return sender

    def _send_keyframe(self) -> None:
        self.keyframe_requests_received += 1
        request: Optional[Callable[[], Any]] = getattr(
            self.track, "request_keyframe", None
        )
        if request is not None:
            request()
        else:
            super()._send_keyframe()


class EncodedPeerConnection(RTCPeerConnection):
    """``RTCPeerConnection`` that neither decodes what it receives nor re-encodes
    what it forwards: its receivers yield ``av.Packet`` and its senders pass
    keyframe requests to their tracks."""

    def _RTCPeerConnection__createTransceiver(
        self, direction: str, kind: str, sender_track: Any = None
    ) -> RTCRtpTransceiver:
        transceiver = super()._RTCPeerConnection__createTransceiver(  # type: ignore[misc]
            direction, kind, sender_track
        )
        EncodedRtpReceiver.adopt(transceiver.receiver)
        KeyframeForwardingSender.adopt(transceiver.sender)
        return transceiver
