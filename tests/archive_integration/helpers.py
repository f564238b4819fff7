"""Talking to the running suite's archive as a browser's tus client would, and real media."""
from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from recordings.api import ARCHIVE, ARCHIVE_AUDIENCE, ARCHIVE_FILE_SCOPE
from core.orm import AuditRecord
from core.servicetoken import ServiceTokens
from recordings.tus import encode_metadata
from tests.suite import ApiClient, Suite

TUS = {"Tus-Resumable": "1.0.0"}


async def create_upload(client: ApiClient, loan_id: int, code: str, length: int, filename: str = "scan",
                        expect: int = 201) -> Any:
    response = await client.request("POST", "/api/uploads/", headers={
        **TUS, "Upload-Length": str(length),
        "Upload-Metadata": encode_metadata({"loan": str(loan_id), "code": code, "filename": filename})})
    assert response.status == expect, (response.status, await response.text())
    return response.headers["Location"] if expect == 201 else await response.json()


async def patch(client: ApiClient, location: str, offset: int, data: bytes, expect: int = 204):
    response = await client.request("PATCH", location, data=data, headers={
        **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
    assert response.status == expect, (response.status, await response.text())
    return response


async def server_offset(client: ApiClient, location: str) -> int:
    response = await client.request("HEAD", location, headers=TUS)
    assert response.status == 200, response.status
    return int(response.headers["Upload-Offset"])


async def upload(client: ApiClient, loan_id: int, code: str, data: bytes, *, filename: str = "scan",
                 chunk: int = 64 * 1024) -> dict:
    """A whole upload in chunks, as upload.js sends it; returns the filed record."""
    location = await create_upload(client, loan_id, code, len(data), filename)
    offset = 0
    while offset < len(data):
        await patch(client, location, offset, data[offset:offset + chunk])
        offset = await server_offset(client, location) if offset + chunk < len(data) else len(data)
    status = await client.json("GET", location, headers=TUS)
    assert status["status"] == "complete" and status["digest"] == hashlib.sha256(data).hexdigest()
    return status["record"]


async def audit_count(suite: Suite, action: str, object_type: str | None = None) -> int:
    query = select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
    if object_type:
        query = query.where(AuditRecord.object_type == object_type)
    async with suite.services.db.unit_of_work(write=False) as session:
        return (await session.execute(query)).scalar_one()


async def file_over_api(suite: Suite, loan_id: int, kind: str, data: bytes, title: str, *,
                        media_type: str, meeting_id: str | None = None) -> dict:
    """What the committee server does: put the file in the shared store, then file it with its
    archive service token."""
    stored = await suite.server.app[ARCHIVE].store.put_bytes(data)
    token = ServiceTokens(suite.services.config.secret_key).issue(
        subject="committee", audience=ARCHIVE_AUDIENCE, scope=ARCHIVE_FILE_SCOPE)
    client = await suite.client()
    body = {"loan_id": loan_id, "kind": kind, "digest": stored.digest, "size": stored.size, "title": title,
            "media_type": media_type}
    if meeting_id:
        body["meeting_id"] = meeting_id
    return await client.json("POST", "/api/archive/records", body,
                             headers={"Authorization": f"Bearer {token}"}, expect=201)


def webm_with_motion(path: Path, seconds: float = 4.0, fps: int = 15) -> bytes:
    """A real VP8 WebM (PyAV/libvpx): a bar crossing the frame, a keyframe every second so a
    player can seek anywhere."""
    import av
    import numpy as np

    frames = int(seconds * fps)
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = fps
        for i in range(frames):
            arr = np.full((120, 160, 3), 40, dtype=np.uint8)
            x = int(i * 150 / frames)
            arr[:, x:x + 10] = (250, 200, 30)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def meeting_manifest(meeting_id: str, started_at: float, recording_digest: str) -> bytes:
    """A manifest as committee/manifest.py writes it (version 1)."""
    return json.dumps({
        "version": 1, "meeting_id": meeting_id, "started_at": started_at, "closed_at": started_at + 4,
        "tracks": [{"track_id": "composite", "participant_id": "composite", "role": "composite",
                    "display_name": "合成画面", "kind": "video", "file": "composite.webm", "codec": "vp8",
                    "first_packet_time": started_at, "last_packet_time": started_at + 4, "packets": 60,
                    "width": 160, "height": 120, "finalised": True, "sha256": recording_digest, "size": 1}],
        "events": [
            {"at": started_at + 0.0, "type": "join", "participant_id": "member01", "role": "committee_member"},
            {"at": started_at + 0.5, "type": "phase", "phase": "presentation"},
            {"at": started_at + 1.0, "type": "join", "participant_id": "member02", "role": "committee_member"},
            {"at": started_at + 2.0, "type": "phase", "phase": "voting"},
            {"at": started_at + 3.0, "type": "leave", "participant_id": "member02", "role": "committee_member"},
            {"at": started_at + 4.0, "type": "closed"},
        ]}, sort_keys=True).encode()


def webm_tone(path: Path, seconds: float = 4.0, frequency: float = 440.0) -> bytes:
    """A real Opus WebM (PyAV/libopus): a person's microphone track as the recorder files it."""
    import av
    import numpy as np

    rate, block = 48000, 960
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=rate)
        stream.layout = "stereo"
        for index in range(int(seconds * rate / block)):
            t = (index * block + np.arange(block)) / rate
            mono = (0.2 * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo")
            frame.sample_rate, frame.pts = rate, index * block
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()
