"""Composing a real recording into one tiled, mixed, aligned video."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from committee.composite import CompositeError, compose_recording, grid
from committee.recorder import RoomRecorder
from committee.sfu import MediaRoom
from committee_peers import ClientParticipant


async def record_two_people(directory):
    room = MediaRoom("composite")
    recorder = RoomRecorder(directory, "composite")
    room.observers.append(recorder)
    early, late = ClientParticipant("early"), ClientParticipant("late", seed=3)
    try:
        await early.join(room)
        await asyncio.sleep(1.5)
        await late.join(room)
        await asyncio.sleep(2.0)
        await room.remove("late")
        await room.remove("early")
        return await recorder.close()
    finally:
        await room.close()
        await early.close()
        await late.close()


def test_grid_is_square_enough():
    assert [grid(n) for n in (1, 2, 3, 4, 5, 9, 10)] == [
        (1, 1), (2, 1), (2, 2), (2, 2), (3, 2), (3, 3), (4, 3)]


async def test_composite_tiles_mixes_and_aligns(tmp_path):
    manifest = await record_two_people(tmp_path / "rec")
    early_start = next(t.first_packet_time for t in manifest.tracks if t.participant_id == "early" and t.kind == "video")
    late_start = next(t.first_packet_time for t in manifest.tracks if t.participant_id == "late" and t.kind == "video")
    assert late_start - early_start > 1.2

    seen = []
    result = await asyncio.get_running_loop().run_in_executor(
        None,
        lambda: compose_recording(tmp_path / "rec", tmp_path / "all.webm", progress=seen.append),
    )
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3
    assert (result.width, result.height) == (640, 240)
    assert result.video_tracks == 2 and result.audio_tracks == 2

    with av.open(str(tmp_path / "all.webm")) as container:
        assert container.streams.audio and container.streams.video
        frames = [(float(f.time), f.to_ndarray(format="gray")) for f in container.decode(video=0)]
    with av.open(str(tmp_path / "all.webm")) as container:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert abs(len(frames) - result.video_frames) <= 1
    assert result.duration >= 3.0
    offset = late_start - early_start

    def tile_brightness(t: float, column: int) -> float:
        picture = min(frames, key=lambda f: abs(f[0] - t))[1]
        return float(picture[:, column * 320 : (column + 1) * 320].mean())

    # The late participant's tile stays black until they arrived, then shows them.
    assert tile_brightness(0.5, 0) > 60
    assert tile_brightness(offset - 0.5, 1) < 5
    assert tile_brightness(offset + 0.8, 1) > 60
    # Both microphones are in the mix: the tone is there.
    assert float(np.abs(audio).max()) > 0.05


def test_compose_refuses_an_empty_recording(tmp_path):
    RoomRecorder(tmp_path, "nothing")
    with pytest.raises(CompositeError, match="no recorded track files"):
        compose_recording(tmp_path, tmp_path / "out.webm")
