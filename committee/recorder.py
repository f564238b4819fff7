"""Record a meeting: one WebM file per track, muxed from the encoded packets.

Nothing is decoded or re-encoded: the VP8 and Opus packets the SFU forwards are
written into WebM with PyAV. The Matroska muxer keeps the open cluster in memory,
so it is told to close a cluster every second (``cluster_time_limit=1000``) and
to flush its output after each write (``flush_packets=1``): a ``kill -9`` of the
process loses at most the open cluster (measured: 0.4-0.5 s before the kill; the
file then lacks its index and duration but decodes and plays).

A video file starts at a key frame (its dimensions come from the VP8 key frame
header); each file's timestamps start at 0 at its first packet and the manifest
keeps that packet's wall-clock time (see :mod:`committee.manifest`).

Recording can be paused (e.g. for the deliberation and voting phases when a
bank's setting says so): packets are dropped meanwhile, the file's timeline keeps
the gap, and video resumes at a requested key frame.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import av
from aiortc.mediastreams import MediaStreamError

from .encodedreceiver import vp8_dimensions
from .manifest import RecordingManifest, TrackEntry, file_sha256
from .sfu import ForwardedTrack, Participant, PublishedTrack

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MUXER_OPTIONS = {"flush_packets": "1", "cluster_time_limit": "1000"}
OPUS_CHANNELS = 2
OPUS_PRE_SKIP = 312


def opus_head(channels: int = OPUS_CHANNELS) -> bytes:
    """RFC 7845 identification header, the WebM CodecPrivate of an Opus track."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, OPUS_PRE_SKIP, 48000, 0, 0)


def safe_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")
    if not cleaned:
        raise ValueError(f"cannot make a file name from {text!r}")
    return cleaned[:64]


MEETING_PHASES = ("scheduled", "open", "deliberation", "voting", "tallied", "closed")


@dataclass(frozen=True)
class RecordingPolicy:
    """Which meeting phases are recorded (a bank setting; default: all of them)."""

    record_deliberation_and_voting: bool = True

    def records(self, phase: str) -> bool:
        if phase not in MEETING_PHASES:
            raise ValueError(f"unknown meeting phase {phase!r}; expected one of {MEETING_PHASES}")
        if phase in ("deliberation", "voting"):
            return self.record_deliberation_and_voting
        return True


class TrackFileWriter:
    """Writes one track's packets into one WebM file."""

    def __init__(self, path: Path, kind: str) -> None:
        if kind not in ("audio", "video"):
            raise ValueError(f"cannot record a {kind!r} track")
        self.path = Path(path)
        self.kind = kind
        self.packets = 0
        # CPU time spent muxing, on the thread that writes (for cost reports).
        self.cpu_seconds = 0.0
        self.width: Optional[int] = None
        self.height: Optional[int] = None
        self._container: Optional[av.container.OutputContainer] = None
        self._stream = None
        self._origin: Optional[int] = None
        self._last_pts: Optional[int] = None
        self._time_base: Optional[fractions.Fraction] = None

    @property
    def opened(self) -> bool:
        return self._container is not None

    def _open(self, packet: av.Packet) -> None:
        data = bytes(packet)
        container = av.open(str(self.path), "w", format="webm", options=MUXER_OPTIONS)
        if self.kind == "video":
            self.width, self.height = vp8_dimensions(data)
            stream = container.add_stream("vp8", rate=30)
            stream.width, stream.height = self.width, self.height
            stream.pix_fmt = "yuv420p"
        else:
            stream = container.add_stream("opus", rate=48000)
            stream.codec_context.layout = "stereo"
            stream.codec_context.extradata = opus_head()
        stream.time_base = packet.time_base
        self._container, self._stream = container, stream
        self._time_base = packet.time_base
        self._origin = packet.pts

    def write(self, packet: av.Packet) -> bool:
        """Mux one packet; returns False if it was skipped."""
        started = time.thread_time()
        try:
            return self._write(packet)
        finally:
            self.cpu_seconds += time.thread_time() - started

    def _write(self, packet: av.Packet) -> bool:
        if self._container is None:
            if self.kind == "video" and not packet.is_keyframe:
                return False
            self._open(packet)
        assert self._origin is not None
        pts = int(fractions.Fraction(packet.pts) * packet.time_base / self._time_base)
        pts -= self._origin
        if self._last_pts is not None and pts <= self._last_pts:
            # WebM needs increasing timestamps; a late duplicate is dropped.
            return False
        copy = av.Packet(bytes(packet))
        copy.pts = copy.dts = pts
        copy.time_base = self._time_base
        copy.is_keyframe = packet.is_keyframe
        copy.stream = self._stream
        self._container.mux(copy)
        self._last_pts = pts
        self.packets += 1
        return True

    def close(self) -> bool:
        """Finish the file (index, duration); returns whether a file exists."""
        if self._container is None:
            return False
        self._container.close()
        self._container = None
        return True


class TrackRecording:
    """Reads one forwarded track into a :class:`TrackFileWriter`."""

    def __init__(
        self,
        entry: TrackEntry,
        writer: TrackFileWriter,
        source: ForwardedTrack,
        on_change: Callable[[], None],
        origin: float = 0.0,
    ) -> None:
        self.entry = entry
        self.origin = origin  # the meeting's clock starts here (Unix time)
        self.writer = writer
        self.source = source
        self.paused = False
        self._on_change = on_change
        self._waiting_for_keyframe = False
        self.task = asyncio.ensure_future(self._run())
        self.finished = asyncio.Event()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.writer.kind == "video" and self.writer.opened:
            self._waiting_for_keyframe = True
            self.source.request_keyframe()
        self.paused = False

    async def _run(self) -> None:
        try:
            while True:
                packet = await self.source.recv()
                if self.paused:
                    continue
                if self._waiting_for_keyframe:
                    if not packet.is_keyframe:
                        continue
                    self._waiting_for_keyframe = False
                try:
                    written = self.writer.write(packet)
                except (av.FFmpegError, ValueError) as exc:
                    logger.warning("recording %s: packet skipped: %s", self.entry.file, exc)
                    continue
                if not written:
                    continue
                now = time.time()
                self.entry.last_packet_time = now
                self.entry.packets = self.writer.packets
                if self.entry.first_packet_time is None:
                    self.entry.first_packet_time = now
                    self.entry.start = round(now - self.origin, 3)
                    self.entry.width, self.entry.height = self.writer.width, self.writer.height
                    self._on_change()
        except (MediaStreamError, asyncio.CancelledError):
            pass
        finally:
            self._finalise()
            self.finished.set()

    async def stop(self) -> None:
        self.source.stop()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        # A task cancelled before it first ran never reached its finally block.
        self._finalise()
        self.finished.set()

    def _finalise(self) -> None:
        if self.entry.finalised:
            return
        path = self.writer.path
        if self.writer.close():
            self.entry.sha256 = file_sha256(path)
            self.entry.size = path.stat().st_size
        self.entry.packets = self.writer.packets
        if self.entry.last_packet_time is not None:
            self.entry.end = round(self.entry.last_packet_time - self.origin, 3)
        self.entry.finalised = True
        self._on_change()


class RoomRecorder:
    """Records every track of a :class:`committee.sfu.MediaRoom` it observes.

    Attach with ``room.observers.append(recorder)`` before participants join.
    """

    def __init__(
        self, directory: Path, meeting_id: str, policy: RecordingPolicy = RecordingPolicy()
    ) -> None:
        self.policy = policy
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.manifest = RecordingManifest(meeting_id=meeting_id)
        self.manifest_path = self.directory / MANIFEST_NAME
        self.recordings: list[TrackRecording] = []
        self.paused = False
        self._sequence = 0
        self._save()

    def _save(self) -> None:
        self.manifest.save(self.manifest_path)

    @property
    def cpu_seconds(self) -> float:
        """CPU time spent muxing packets into the track files so far."""
        return sum(r.writer.cpu_seconds for r in self.recordings)

    async def participant_joined(self, participant: Participant) -> None:
        self.manifest.add_event(
            "join", participant_id=participant.participant_id, role=participant.role
        )
        self._save()

    async def participant_left(self, participant: Participant) -> None:
        self.manifest.add_event(
            "leave", participant_id=participant.participant_id, role=participant.role
        )
        self._save()

    async def media_lost(self, participant: Participant, reason: str) -> None:
        # Its tracks have ended (their segments close as their sources end).
        self.manifest.add_event("reconnecting", participant_id=participant.participant_id,
                                role=participant.role, reason=reason)
        self._save()

    async def track_published(
        self, participant: Participant, track: PublishedTrack
    ) -> None:
        segment = 1 + len(self.manifest.segments(participant.participant_id, track.kind))
        if segment > 1 and not any(
            t.participant_id == participant.participant_id and t.segment == segment
            for t in self.manifest.tracks
        ):
            self.manifest.add_event("reconnected", participant_id=participant.participant_id,
                                    role=participant.role)
        self._sequence += 1
        name = f"{self._sequence:03d}-{safe_name(participant.participant_id)}-{track.kind}.webm"
        entry = TrackEntry(
            track_id=f"{self._sequence:03d}-{track.track_id}",
            participant_id=participant.participant_id,
            role=participant.role,
            display_name=participant.display_name,
            kind=track.kind,
            file=name,
            codec="VP8" if track.kind == "video" else "opus",
            segment=segment,
        )
        self.manifest.tracks.append(entry)
        recording = TrackRecording(
            entry,
            TrackFileWriter(self.directory / name, track.kind),
            track.subscribe(max_queue=1024),
            self._save,
            self.manifest.started_at,
        )
        if self.paused:
            recording.pause()
        self.recordings.append(recording)
        self._save()

    def enter_phase(self, phase: str) -> None:
        """Log a phase change; pause or resume as the recording policy says."""
        self.phase_changed(phase, record=self.policy.records(phase))

    def phase_changed(self, phase: str, *, record: bool = True) -> None:
        """Log a phase change and pause or resume recording for it."""
        self.manifest.add_event("phase", phase=phase)
        if record and self.paused:
            self.paused = False
            self.manifest.add_event("recording-resumed", phase=phase)
            for recording in self.recordings:
                recording.resume()
        elif not record and not self.paused:
            self.paused = True
            self.manifest.add_event("recording-paused", phase=phase)
            for recording in self.recordings:
                recording.pause()
        self._save()

    async def close(self) -> RecordingManifest:
        """Finalise every file (hashes in the manifest) and close the manifest."""
        for recording in self.recordings:
            await recording.stop()
        self.manifest.add_event("closed")
        self.manifest.closed_at = time.time()
        self._save()
        return self.manifest
