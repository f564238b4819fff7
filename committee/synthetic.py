"""A synthetic meeting recording, as the recorder would leave it, of any length and size.

For the composite's benchmark and tests: a long meeting cannot be recorded live on a test
machine. Each participant gets a short clip, encoded once (VP8 video with a key frame every
second, Opus audio with a tone of their own), whose packets are then repeated with advancing
timestamps into the track files through the recorder's own ``TrackFileWriter`` (packets are
muxed, not re-encoded, as in a live meeting). The manifest places each participant on the
meeting's clock: joins are staggered and some leave early.
"""
from __future__ import annotations

import fractions
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .manifest import RecordingManifest, TrackEntry
from .recorder import MANIFEST_NAME, TrackFileWriter

VIDEO_CLOCK = 90000  # RTP clock rates, as the SFU hands packets to the recorder
AUDIO_CLOCK = 48000
OPUS_FRAME = 960


@dataclass(frozen=True)
class Person:
    participant_id: str
    start: float  # seconds after the meeting's start
    end: float


def _video_clip(seed: int, width: int, height: int, fps: int, seconds: int) -> list[tuple[int, bytes, bool]]:
    """(pts in frames, data, key) of ``seconds`` of a moving pattern, a key frame each second."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = fractions.Fraction(1, fps)
    codec.framerate = fps
    codec.bit_rate = 150_000
    codec.gop_size = fps
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 220, size=3).astype(np.uint8)
    packets = []
    for index in range(seconds * fps):
        picture = np.empty((height, width, 3), np.uint8)
        picture[:] = base
        x = (index * 4) % width
        picture[:, x : x + 8] = 255 - base  # a moving bar: the encoder has something to do
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        frame.time_base = codec.time_base
        if index % fps == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in codec.encode(frame):
            packets.append((int(packet.pts), bytes(packet), bool(packet.is_keyframe)))
    for packet in codec.encode(None):
        packets.append((int(packet.pts), bytes(packet), bool(packet.is_keyframe)))
    return packets


def _audio_clip(seed: int, seconds: int) -> list[bytes]:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = AUDIO_CLOCK, "stereo", "s16"
    codec.bit_rate = 32_000
    tone = 220.0 + 40.0 * seed
    packets = []
    for index in range(seconds * AUDIO_CLOCK // OPUS_FRAME):
        t = (index * OPUS_FRAME + np.arange(OPUS_FRAME)) / AUDIO_CLOCK
        samples = (0.2 * 32767 * np.sin(2 * np.pi * tone * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(samples, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts = AUDIO_CLOCK, index * OPUS_FRAME
        packets.extend(bytes(p) for p in codec.encode(frame))
    packets.extend(bytes(p) for p in codec.encode(None))
    return packets


def _packet(data: bytes, pts: int, clock: int, key: bool) -> av.Packet:
    packet = av.Packet(data)
    packet.pts = packet.dts = pts
    packet.time_base = fractions.Fraction(1, clock)
    packet.is_keyframe = key
    return packet


def people(count: int, seconds: float) -> list[Person]:
    """``count`` participants: joins staggered over the first 5 %, every third leaves at 90 %."""
    return [Person(f"p{index + 1:02d}", start=seconds * 0.05 * index / max(1, count),
                   end=seconds * (0.9 if index % 3 == 2 else 1.0)) for index in range(count)]


def write_recording(directory: Path, meeting_id: str, participants: list[Person], *, width: int = 160,
                    height: int = 120, fps: int = 15, clip_seconds: int = 2,
                    started_at: float | None = None) -> RecordingManifest:
    """Write the track files and ``manifest.json`` of a meeting into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    started_at = time.time() - 3600 if started_at is None else started_at
    manifest = RecordingManifest(meeting_id=meeting_id, started_at=started_at)
    for seed, person in enumerate(participants):
        video = _video_clip(seed, width, height, fps, clip_seconds)
        audio = _audio_clip(seed, clip_seconds)
        length = person.end - person.start
        for kind in ("video", "audio"):
            name = f"{len(manifest.tracks) + 1:03d}-{person.participant_id}-{kind}.webm"
            writer = TrackFileWriter(directory / name, kind)
            if kind == "video":
                clip_ticks = clip_seconds * VIDEO_CLOCK
                loops = int(np.ceil(length / clip_seconds))
                for loop in range(loops):
                    for pts, data, key in video:
                        ticks = loop * clip_ticks + pts * VIDEO_CLOCK // fps
                        if ticks > length * VIDEO_CLOCK:
                            break
                        writer.write(_packet(data, ticks, VIDEO_CLOCK, key))
            else:
                for index in range(int(length * AUDIO_CLOCK / OPUS_FRAME)):
                    writer.write(_packet(audio[index % len(audio)], index * OPUS_FRAME, AUDIO_CLOCK, True))
            writer.close()
            manifest.tracks.append(TrackEntry(
                track_id=f"{len(manifest.tracks) + 1:03d}-{kind}", participant_id=person.participant_id,
                role="member", display_name=person.participant_id, kind=kind, file=name,
                codec="VP8" if kind == "video" else "opus", first_packet_time=started_at + person.start,
                last_packet_time=started_at + person.end, packets=writer.packets,
                width=writer.width, height=writer.height, finalised=True, size=(directory / name).stat().st_size))
        manifest.add_event("join", participant_id=person.participant_id, role="member", at=started_at + person.start)
        manifest.add_event("leave", participant_id=person.participant_id, role="member", at=started_at + person.end)
    manifest.add_event("closed", at=started_at + max(p.end for p in participants))
    manifest.closed_at = started_at + max(p.end for p in participants)
    manifest.save(directory / MANIFEST_NAME)
    return manifest
