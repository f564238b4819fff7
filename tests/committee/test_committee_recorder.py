"""Recording the forwarded packets into WebM files, and surviving a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from committee.manifest import ManifestError, RecordingManifest, file_sha256, verify_files
from committee.recorder import RecordingPolicy, RoomRecorder, TrackFileWriter
from committee.sfu import MediaRoom
from committee_peers import ClientParticipant, wait_for

HERE = Path(__file__).parent


def count_frames(path: Path, kind: str) -> tuple[int, float]:
    """Decodable frames in a file and the end time of the last one (seconds)."""
    frames, end = 0, 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        for frame in container.decode(stream):
            frames += 1
            duration = frame.samples / frame.sample_rate if kind == "audio" else 0.0
            end = max(end, float(frame.time) + duration)
    return frames, end


async def test_recording_holds_every_frame_sent(tmp_path):
    sent = 45
    room = MediaRoom("rec-meeting")
    recorder = RoomRecorder(tmp_path, "rec-meeting")
    room.observers.append(recorder)
    officer = ClientParticipant("officer-a", frame_limit=sent)
    member = ClientParticipant("member-1", frame_limit=sent, seed=1)
    try:
        await officer.join(room, role="officer")
        await member.join(room, role="member")
        await officer.subscribe_to(room, "member-1")
        await wait_for(
            lambda: officer.camera.frames_sent == sent and member.camera.frames_sent == sent,
            15,
            "both cameras to send their frames",
        )
        await asyncio.sleep(0.5)
        recorder.phase_changed("deliberation", record=True)
        await room.remove("officer-a")
        await room.remove("member-1")
        manifest = await recorder.close()
    finally:
        await room.close()
        await officer.close()
        await member.close()

    assert [t.kind for t in manifest.tracks] == ["audio", "video", "audio", "video"]
    for entry in manifest.tracks:
        path = tmp_path / entry.file
        assert entry.finalised and entry.sha256 == file_sha256(path)
        assert entry.first_packet_time is not None
        frames, _ = count_frames(path, entry.kind)
        assert frames == entry.packets
        if entry.kind == "video":
            # The receiver's jitter buffer releases a frame when the next one
            # starts, so the very last frame sent may never arrive.
            assert sent - 2 <= frames <= sent, (entry.file, frames)
            assert (entry.width, entry.height) == (320, 240)
        else:
            assert frames >= 100  # 20 ms Opus frames over 3 s
    roles = {t.participant_id: t.role for t in manifest.tracks}
    assert roles == {"officer-a": "officer", "member-1": "member"}
    types = [e.type for e in manifest.events]
    assert types == ["join", "join", "phase", "leave", "leave", "closed"]
    reloaded = RecordingManifest.load(tmp_path / "manifest.json")
    assert reloaded == manifest
    assert all(verify_files(reloaded, tmp_path).values())
    # A changed byte is detected.
    victim = tmp_path / manifest.tracks[1].file
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert verify_files(reloaded, tmp_path)[manifest.tracks[1].file] is False


async def test_paused_phase_is_not_recorded(tmp_path):
    room = MediaRoom("pause-meeting")
    recorder = RoomRecorder(
        tmp_path, "pause-meeting", RecordingPolicy(record_deliberation_and_voting=False)
    )
    room.observers.append(recorder)
    peer = ClientParticipant("m")
    try:
        await peer.join(room)
        await wait_for(lambda: all(r.writer.packets > 10 for r in recorder.recordings), 10, "packets")
        recorder.enter_phase("voting")
        await asyncio.sleep(0.2)
        paused_at = [r.writer.packets for r in recorder.recordings]
        await asyncio.sleep(1.0)
        assert [r.writer.packets for r in recorder.recordings] == paused_at
        recorder.enter_phase("tallied")
        # Video resumes at a key frame it asked the publisher for.
        await wait_for(
            lambda: all(r.writer.packets > n + 5 for r, n in zip(recorder.recordings, paused_at)),
            10,
            "recording to resume",
        )
        await room.remove("m")
        manifest = await recorder.close()
    finally:
        await room.close()
        await peer.close()
    video = next(t for t in manifest.tracks if t.kind == "video")
    frames, end = count_frames(tmp_path / video.file, "video")
    assert frames == video.packets
    assert [e.type for e in manifest.events][:5] == [
        "join", "phase", "recording-paused", "phase", "recording-resumed",
    ]


def test_kill_9_leaves_files_playable_to_two_seconds_before(tmp_path):
    child = subprocess.Popen(
        [sys.executable, str(HERE / "committee_record_child.py"), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE.parent.parent,
        env={**os.environ, "PYTHONPATH": str(HERE.parent.parent)},
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "recording", child.stderr.read()
        time.sleep(3.5)
        killed_at = time.time()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    manifest = RecordingManifest.load(tmp_path / "manifest.json")
    assert {t.kind for t in manifest.tracks} == {"audio", "video"}
    for entry in manifest.tracks:
        assert not entry.finalised
        frames, end = count_frames(tmp_path / entry.file, entry.kind)
        assert frames > 0
        playable_until = entry.first_packet_time + end
        lost = killed_at - playable_until
        assert lost <= 2.0, f"{entry.file}: {lost:.2f}s lost before the kill"


def test_recording_policy():
    assert RecordingPolicy().records("deliberation")
    assert not RecordingPolicy(record_deliberation_and_voting=False).records("voting")
    assert RecordingPolicy(record_deliberation_and_voting=False).records("open")
    with pytest.raises(ValueError, match="unknown meeting phase 'lunch'"):
        RecordingPolicy().records("lunch")


def test_writer_refuses_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="cannot record a 'data' track"):
        TrackFileWriter(tmp_path / "x.webm", "data")


def test_manifest_rejects_malformed(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text('{"version": 1, "meeting_id": "m"}')
    with pytest.raises(ManifestError, match="malformed"):
        RecordingManifest.load(path)
    with pytest.raises(ManifestError, match="no recording manifest"):
        RecordingManifest.load(tmp_path / "missing.json")
