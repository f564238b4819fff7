"""Composing a real recording into one tiled, mixed, aligned video."""

from __future__ import annotations

import asyncio
import os
import signal

import av
import numpy as np
import pytest

from committee.composite import CompositeError, compose_recording, grid
from committee.compositejob import CompositeFailed, CompositeJob, CompositeRunner
from committee.recorder import RoomRecorder
from committee.sfu import MediaRoom
from committee.synthetic import people, write_recording
from tests.waiting import limit
from committee_peers import ClientParticipant, wait_for


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


# --- the composite in its own process (committee.compositejob) -------------------------------

def synthetic(directory, count=3, seconds=6.0):
    return write_recording(directory, "CM-SYN", people(count, seconds))


async def test_composite_child_composes_a_synthetic_multitrack_recording(tmp_path):
    synthetic(tmp_path / "rec", count=4, seconds=6.0)
    job = CompositeJob("CM-SYN")
    result = await CompositeRunner(attempts=1).run(job, tmp_path / "rec", tmp_path / "rec" / "composite.webm")
    assert job.progress == 1.0 and job.attempt == 1 and job.pid is None
    assert (result["video_tracks"], result["audio_tracks"]) == (4, 4)
    assert (result["width"], result["height"]) == (640, 480)
    assert result["peak_rss_mb"] > 0
    with av.open(result["path"]) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - result["video_frames"]) <= 1 and result["duration"] >= 5.9
    with av.open(result["path"]) as container:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert float(np.abs(audio).max()) > 0.05  # the tones are mixed in


async def test_composite_child_over_its_memory_limit_fails_and_is_retried(tmp_path):
    synthetic(tmp_path / "rec", count=2, seconds=2.0)
    # 4000x4000 tiles need far more than 400 MB: the child's own limit stops it, not the machine.
    runner = CompositeRunner(memory_mb=400, attempts=2, retry_delay=0.5, options={"tile": [4000, 4000]})
    job = CompositeJob("CM-SYN")
    run = asyncio.ensure_future(runner.run(job, tmp_path / "rec", tmp_path / "rec" / "composite.webm"))
    # between the attempts the job says it is retrying, and why the first one failed
    await wait_for(lambda: "attempt 1/2 failed" in job.message, 60, "the first attempt to fail")
    assert job.state == "retrying" and "memory limit of 400 MB" in job.message
    with pytest.raises(CompositeFailed, match="memory limit of 400 MB"):
        await run
    assert job.attempt == 2 and "attempt 2/2 failed" in job.message
    assert not (tmp_path / "rec" / "composite.webm").exists()  # no half-written video is kept


async def test_composite_child_killed_mid_run_is_retried_and_succeeds(tmp_path):
    synthetic(tmp_path / "rec", count=3, seconds=20.0)
    job = CompositeJob("CM-SYN")
    run = asyncio.ensure_future(CompositeRunner(attempts=2, retry_delay=0).run(
        job, tmp_path / "rec", tmp_path / "rec" / "composite.webm"))
    await wait_for(lambda: job.pid is not None and job.progress > 0, 60, "the first attempt to be under way")
    os.kill(job.pid, signal.SIGKILL)  # a crash of the child (a codec's segfault, the OOM killer)
    result = await asyncio.wait_for(run, limit(180))
    assert job.attempt == 2 and "SIGKILL" in job.message
    assert result["video_frames"] == 300


async def test_composite_child_ends_when_the_job_is_cancelled(tmp_path):
    synthetic(tmp_path / "rec", count=3, seconds=20.0)
    job = CompositeJob("CM-SYN")
    run = asyncio.ensure_future(CompositeRunner(attempts=1).run(
        job, tmp_path / "rec", tmp_path / "rec" / "composite.webm"))
    await wait_for(lambda: job.pid is not None, 60, "the child to start")
    pid = job.pid
    run.cancel()  # the server stopping: no composite process outlives it
    with pytest.raises(asyncio.CancelledError):
        await run
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_composite_audio_gap_far_ahead_stays_bounded(tmp_path):
    """A track whose timestamps jump hours ahead (a browser's RTP clock, a corrupt packet) is
    silence across the jump, not hours of materialised samples."""
    from committee.composite import _AudioSource

    synthetic(tmp_path / "rec", count=1, seconds=2.0)
    rewritten = tmp_path / "jump.webm"
    with av.open(str(tmp_path / "rec" / "002-p01-audio.webm")) as source, \
            av.open(str(rewritten), "w", format="webm") as target:
        stream = target.add_stream_from_template(source.streams.audio[0])
        for index, packet in enumerate(source.demux(audio=0)):
            if packet.dts is None:
                continue
            if index >= 50:  # after 1 s, ten hours ahead
                packet.pts = packet.dts = packet.pts + 36000 * 1000
            packet.stream = stream
            target.mux(packet)
    audio = _AudioSource(rewritten, 0.0)
    try:
        for block in range(200):
            audio.read(block * 960, 960)
            held = sum(len(samples) for _, samples in audio._held)
            assert held < 48000, f"{held} samples held at block {block}"
    finally:
        audio.close()


def test_composite_segments_of_one_person_share_a_tile_with_the_gap_black(tmp_path):
    """A person who published twice (a reconnect, a reloaded page) is one tile: the first
    segment, black while they were away, then the second segment."""
    from committee.synthetic import Person

    write_recording(tmp_path / "rec", "CM-SEG", [Person("p01", 0.0, 10.0), Person("p02", 0.0, 3.0),
                                                 Person("p02", 6.0, 10.0)])
    result = compose_recording(tmp_path / "rec", tmp_path / "out.webm")
    assert (result.tiles, result.video_tracks, result.width, result.height) == (2, 3, 640, 240)
    with av.open(str(tmp_path / "out.webm")) as container:
        frames = [(float(f.time), f.to_ndarray(format="gray")) for f in container.decode(video=0)]

    def tile_brightness(t: float, column: int) -> float:
        picture = min(frames, key=lambda f: abs(f[0] - t))[1]
        return float(picture[:, column * 320 : (column + 1) * 320].mean())

    assert tile_brightness(1.5, 1) > 40  # first segment
    assert tile_brightness(5.0, 1) < 5  # away: black
    assert tile_brightness(8.0, 1) > 40  # back, in the same tile
    assert tile_brightness(5.0, 0) > 40  # the other person all along
