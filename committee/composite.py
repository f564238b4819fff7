"""Compose a meeting's per-track recordings into one video for archivists.

Each person gets one tile in a grid (in manifest order); a person's video segments (a new
track file each time they publish again, e.g. after a reconnect) share their tile. The audio
tracks are mixed, and everything is placed on one timeline by the manifest's first-packet
wall-clock times: a track whose first packet arrived ``d`` seconds after the earliest one
starts ``d`` seconds into the composite. Before its first frame, after its last and between
segments a tile is black; between frames the last picture is held, which also covers pauses.
The output is WebM (VP8 + Opus). The per-track files are only read.

Memory stays bounded whatever the meeting's length: each track is decoded as it is needed
(the current picture and one decoded ahead), audio in 20 ms blocks.

This is CPU and memory the serving process must not pay: the suite runs it in a child process
with its own memory limit (``committee.compositejob``) and follows the ``progress`` callback
(0.0 to 1.0).
"""

from __future__ import annotations

import fractions
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import av
import numpy as np

from .manifest import RecordingManifest, TrackEntry

SAMPLE_RATE = 48000
AUDIO_BLOCK = 960
Progress = Callable[[float], None]


class CompositeError(ValueError):
    """The recording cannot be composed."""


@dataclass
class CompositeResult:
    path: Path
    duration: float
    video_frames: int
    audio_tracks: int
    video_tracks: int
    width: int
    height: int
    tiles: int = 0  # people shown (a person's segments share one tile)


def grid(count: int) -> tuple[int, int]:
    """Columns and rows for ``count`` tiles, as square as possible."""
    if count < 1:
        return 1, 1
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


class _VideoSource:
    """A track's decoded pictures, as tiles, on the meeting timeline."""

    def __init__(self, path: Path, offset: float, width: int, height: int) -> None:
        self.offset = offset
        self.width, self.height = width, height
        self._container = av.open(str(path))
        self._frames = self._decode()
        self._next: Optional[tuple[float, np.ndarray]] = next(self._frames, None)
        self.current: Optional[np.ndarray] = None
        self.last_time = offset

    def _decode(self) -> Iterator[tuple[float, np.ndarray]]:
        try:
            for frame in self._container.decode(video=0):
                if frame.time is None:
                    continue
                tile = frame.reformat(width=self.width, height=self.height, format="rgb24")
                yield self.offset + float(frame.time), tile.to_ndarray()
        except av.FFmpegError:
            return  # a file cut short by a crash ends where its data ends

    def at(self, t: float) -> Optional[np.ndarray]:
        while self._next is not None and self._next[0] <= t:
            self.current = self._next[1]
            self.last_time = max(self.last_time, self._next[0])
            self._next = next(self._frames, None)
        if self._next is None and self.current is not None and t > self.last_time + 1.0:
            return None  # the participant left
        return self.current

    def close(self) -> None:
        self._container.close()


class _Tile:
    """One person's tile: their video segments (a new file each time they publish again, e.g.
    after a reconnect) on the meeting's clock; black in the gaps between segments."""

    def __init__(self, segments: list[_VideoSource]) -> None:
        self.segments = sorted(segments, key=lambda s: s.offset)

    def at(self, t: float) -> Optional[np.ndarray]:
        current = None
        for segment in self.segments:  # the latest segment that has begun
            if segment.offset > t:
                break
            current = segment
        return current.at(t) if current is not None else None

    def close(self) -> None:
        for segment in self.segments:
            segment.close()


class _AudioSource:
    """A track's decoded samples (mono float32), read block by block.

    Only the decoded chunks that overlap the block being mixed (plus one decoded ahead) are
    held, each at its own position on the meeting timeline; a gap (paused recording, lost
    packets, a timestamp that jumps far ahead) is never filled with materialised silence, so
    memory stays a few chunks whatever the meeting's length or the file's timestamps.
    """

    def __init__(self, path: Path, offset: float) -> None:
        self.start_sample = int(round(offset * SAMPLE_RATE))
        self._container = av.open(str(path))
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        self._chunks = self._decode()
        self._held: deque[tuple[int, np.ndarray]] = deque()  # (first sample, samples), in order
        self._next_position = self.start_sample
        self._done = False

    def _decode(self) -> Iterator[tuple[Optional[int], np.ndarray]]:
        try:
            for frame in self._container.decode(audio=0):
                position = None
                if frame.time is not None:
                    position = self.start_sample + int(round(float(frame.time) * SAMPLE_RATE))
                for out in self._resampler.resample(frame):
                    yield position, out.to_ndarray().reshape(-1).astype(np.float32)
                    position = None
        except av.FFmpegError:
            return

    def _pull(self) -> bool:
        item = next(self._chunks, None)
        if item is None:
            self._done = True
            return False
        position, samples = item
        # A chunk without a time continues the previous one; one that starts earlier than
        # where the previous ended (a resampler's delay, a late packet) is placed right after it.
        start = self._next_position if position is None else max(position, self._next_position)
        self._held.append((start, samples))
        self._next_position = start + len(samples)
        return True

    def read(self, start: int, count: int) -> np.ndarray:
        """Samples [start, start + count) of the meeting timeline."""
        end = start + count
        while not self._done and self._next_position < end:
            self._pull()
        out = np.zeros(count, np.float32)
        for first, samples in self._held:
            if first >= end:
                break
            lo, hi = max(start, first), min(end, first + len(samples))
            if hi > lo:
                out[lo - start : hi - start] = samples[lo - first : hi - first]
        # Drop what is behind us to keep memory bounded.
        while self._held and self._held[0][0] + len(self._held[0][1]) <= end:
            self._held.popleft()
        return out

    def close(self) -> None:
        self._container.close()


def _timeline(manifest: RecordingManifest, directory: Path) -> tuple[list[TrackEntry], float, float]:
    entries = [
        t
        for t in manifest.tracks
        if t.first_packet_time is not None and (directory / t.file).exists()
    ]
    if not entries:
        raise CompositeError(f"no recorded track files in {directory}")
    start = min(t.first_packet_time for t in entries)
    end = max((t.last_packet_time or t.first_packet_time) for t in entries)
    return entries, start, end


def compose_recording(
    directory: Path,
    output: Path,
    *,
    fps: int = 15,
    tile: tuple[int, int] = (320, 240),
    video_bitrate: int = 1_000_000,
    progress: Optional[Progress] = None,
) -> CompositeResult:
    """Compose ``directory`` (a recording with its ``manifest.json``) into ``output``."""
    directory, output = Path(directory), Path(output)
    manifest = RecordingManifest.load(directory / "manifest.json")
    entries, start, end = _timeline(manifest, directory)
    duration = max(end - start, 1.0 / fps)
    segments: dict[str, list[_VideoSource]] = {}  # one tile per person, in manifest order
    for t in entries:
        if t.kind == "video":
            segments.setdefault(t.participant_id, []).append(
                _VideoSource(directory / t.file, t.first_packet_time - start, *tile))
    videos = [_Tile(parts) for parts in segments.values()]
    audios = [
        _AudioSource(directory / t.file, t.first_packet_time - start)
        for t in entries
        if t.kind == "audio"
    ]
    columns, rows = grid(len(videos))
    width, height = columns * tile[0], rows * tile[1]

    container = av.open(str(output), "w", format="webm")
    # The encoder's options must be given when the stream is made: set afterwards, PyAV 18
    # ignores them and libvpx encodes at its slow "good" deadline (measured 2.5x the time).
    video_stream = container.add_stream("libvpx", rate=fps, options={
        "deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"})
    video_stream.width, video_stream.height = width, height
    video_stream.pix_fmt = "yuv420p"
    video_stream.bit_rate = video_bitrate
    audio_stream = container.add_stream("libopus", rate=SAMPLE_RATE)
    audio_stream.layout = "mono"
    audio_stream.format = "flt"

    total_frames = max(1, int(math.ceil(duration * fps)))
    samples_written = 0
    report_every = max(1, fps)
    try:
        for index in range(total_frames):
            t = index / fps
            canvas = np.zeros((height, width, 3), np.uint8)
            for position, source in enumerate(videos):
                picture = source.at(t)
                if picture is not None:
                    row, column = divmod(position, columns)
                    y, x = row * tile[1], column * tile[0]
                    canvas[y : y + tile[1], x : x + tile[0]] = picture
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = fractions.Fraction(1, fps)
            for packet in video_stream.encode(frame):
                container.mux(packet)

            audio_until = int((index + 1) * SAMPLE_RATE / fps)
            while samples_written + AUDIO_BLOCK <= audio_until:
                mix = np.zeros(AUDIO_BLOCK, np.float32)
                for source in audios:
                    mix += source.read(samples_written, AUDIO_BLOCK)
                np.clip(mix, -1.0, 1.0, out=mix)
                block = av.AudioFrame.from_ndarray(mix.reshape(1, -1), format="flt", layout="mono")
                block.sample_rate = SAMPLE_RATE
                block.pts = samples_written
                block.time_base = fractions.Fraction(1, SAMPLE_RATE)
                for packet in audio_stream.encode(block):
                    container.mux(packet)
                samples_written += AUDIO_BLOCK

            if progress is not None and (index + 1) % report_every == 0:
                progress((index + 1) / total_frames)
        for packet in video_stream.encode(None):
            container.mux(packet)
        for packet in audio_stream.encode(None):
            container.mux(packet)
    finally:
        container.close()
        for source in videos:
            source.close()
        for source in audios:
            source.close()
    if progress is not None:
        progress(1.0)
    return CompositeResult(
        path=output,
        duration=total_frames / fps,
        video_frames=total_frames,
        audio_tracks=len(audios),
        video_tracks=sum(len(v.segments) for v in videos),
        tiles=len(videos),
        width=width,
        height=height,
    )
