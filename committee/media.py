"""The committee media server's meeting logic: who may connect, following each meeting's
phase from the database, recording open to close, filing the recordings and composing them.

The database is the authority (the core API writes phases, revocations and ballots), so the
media server works the same inside ``loanctl serve`` and as ``loanctl serve committee`` in
its own process: it checks every connection against the database and looks at the phase and
the revoked tokens of each live meeting every ``poll_seconds``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from core import audit
from core.audit import Actor
from core.config import Config
from core.db import Database

from . import service
from .cluster import CommitteeCluster, cluster_settings, origin_check, socketio_manager
from .compositejob import CompositeFailed, CompositeJob, CompositeRunner, runner_from
from .reconnection import ReconnectPolicy
from .recorder import RecordingPolicy, RoomRecorder
from .sfu import MediaRoom
from .signaling import CommitteeSignaling, InvalidJoinToken, JoinClaims, MeetingRooms
from .tables import Meeting

logger = logging.getLogger(__name__)

COMPOSITE_NAME = "composite.webm"
COMPOSED_MARK, FAILED_MARK = ".composed", ".composite-failed"  # in the composed session folder


def recording_policy(env: dict[str, str] | None = None) -> RecordingPolicy:
    """LOANCTL_RECORD_DELIBERATION (default on): whether deliberation and voting are recorded."""
    value = (env if env is not None else os.environ).get("LOANCTL_RECORD_DELIBERATION", "1").strip().lower()
    if value not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(f"LOANCTL_RECORD_DELIBERATION must be on or off, got {value!r}")
    return RecordingPolicy(record_deliberation_and_voting=value in ("1", "true", "yes", "on"))


class CommitteeMedia:
    """Signaling plus the meeting rules, for one process."""

    def __init__(self, config: Config, database: Callable[[], Database], *, poll_seconds: float = 0.5,
                 policy: RecordingPolicy | None = None, compositor: CompositeRunner | None = None,
                 reconnect: ReconnectPolicy | None = None) -> None:
        self.config = config
        self.database = database
        self.poll_seconds = poll_seconds
        self.policy = policy or recording_policy()
        self.compositor = compositor or runner_from(config)
        self.recordings_dir = config.data_dir / "committee" / "recordings"
        self.recorders: dict[str, RoomRecorder] = {}
        self.phases: dict[str, str] = {}
        self.jobs: dict[str, CompositeJob] = {}
        settings = cluster_settings(config)  # several nodes on Redis, or None
        self.cluster = CommitteeCluster(settings, self) if settings else None
        self.reconnect_policy = reconnect or ReconnectPolicy.from_env()
        self.signaling = CommitteeSignaling(
            self.verify, MeetingRooms(on_created=self._room_created, policy=self.reconnect_policy),
            client_manager=socketio_manager(settings) if settings else None,
            cors_allowed_origins=origin_check(config, settings))
        self.signaling.on_seat = self.seat
        self.signaling.readmit = self.readmit
        if self.cluster is not None:
            self.signaling.placement = self.cluster.place
        self._watcher: asyncio.Task | None = None
        self._closing: set[str] = set()
        self._background: set[asyncio.Task] = set()
        self.archive = None

    # -- connections ------------------------------------------------------------------------

    async def verify(self, token: str) -> JoinClaims:
        async with self.database().unit_of_work(write=False) as session:
            try:
                claims = await service.verify_join(session, self.config.secret_key, token)
                meeting = (await session.execute(select(Meeting).where(Meeting.code == claims.meeting_id))).scalar_one()
            except PermissionError as error:
                raise InvalidJoinToken(str(error)) from None
        self.phases.setdefault(claims.meeting_id, meeting.phase)
        return claims

    async def seat(self, claims: JoinClaims, event: str) -> None:
        """Write a seat taken or left on the meeting's record (the database: attendance and
        quorum are checked by core's API, whichever process serves the media)."""
        async with self.database().unit_of_work() as session:
            await service.record_attendance(session, claims.meeting_id, int(claims.user_id), claims.role, event)

    async def readmit(self, claims: JoinClaims) -> None:
        """A seated participant renegotiating its dead media path: the meeting's rules now."""
        async with self.database().unit_of_work(write=False) as session:
            try:
                await service.readmit(session, claims)
            except PermissionError as error:
                raise InvalidJoinToken(str(error)) from None

    def _room_created(self, room: MediaRoom) -> None:
        meeting_id = room.room_id
        directory = self.recordings_dir / meeting_id / time.strftime("%Y%m%dT%H%M%S")
        suffix = 1
        while directory.exists():  # a restart within the same second: never reuse a folder
            suffix += 1
            directory = directory.with_name(f"{directory.name.split('.')[0]}.{suffix}")
        recorder = RoomRecorder(directory, meeting_id, self.policy)
        phase = self.phases.get(meeting_id)
        if phase:
            recorder.enter_phase(phase)
        room.observers.append(recorder)
        self.recorders[meeting_id] = recorder

    # -- following the database -------------------------------------------------------------

    async def start(self) -> None:
        from recordings.service import Archive

        self.archive = Archive.open(self.config)
        self.archive.start(self.config)
        if self.cluster is not None:
            await self.cluster.start()
        self._watcher = asyncio.create_task(self._watch(), name="committee-phase-watcher")
        try:
            await self.resume_composites()
        except Exception:  # a database hiccup at start: the composites wait for the next start
            logger.exception("resuming the composites of closed meetings")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            try:
                await self._watcher
            except asyncio.CancelledError:
                pass
        for task in list(self._background):
            task.cancel()
        # Wait for them: a cancelled composite kills its child process on the way out.
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.signaling.rooms.close_all()
        for recorder in self.recorders.values():
            await recorder.close()
        self.recorders.clear()
        if self.cluster is not None:  # after the rooms: the leases go once nothing is served
            await self.cluster.stop()
        if self.archive is not None:
            await self.archive.close()

    async def _watch(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the watcher
                logger.exception("committee watcher")
            await asyncio.sleep(self.poll_seconds)

    def live_meetings(self) -> list[str]:
        return sorted(self.signaling.meetings() | set(self.recorders))

    async def poll_once(self) -> None:
        for code in self.live_meetings():
            if code in self._closing:
                continue
            async with self.database().unit_of_work(write=False) as session:
                meeting = (await session.execute(select(Meeting).where(Meeting.code == code))).scalar_one_or_none()
                revoked = await service.revoked_tokens(session, code)
            if meeting is None:
                continue
            for claims in self.signaling.connected(code):
                if claims.token_id in revoked:
                    await self.signaling.revoke(claims.token_id, revoked[claims.token_id])
                elif claims.role == "officer" and meeting.phase not in service.OFFICER_PHASES:
                    await self.signaling.revoke(claims.token_id, "the officers' part of the meeting has ended")
            if self.phases.get(code) != meeting.phase:
                await self._phase_changed(code, meeting)

    async def _phase_changed(self, code: str, meeting: Meeting) -> None:
        self.phases[code] = meeting.phase
        recorder = self.recorders.get(code)
        if recorder is not None and meeting.phase != "closed":
            recorder.enter_phase(meeting.phase)
        await self.signaling.emit_to_meeting(code, "phase", {"phase": meeting.phase})
        if meeting.phase == "closed":
            self._closing.add(code)
            await self.close_meeting(code, meeting.loan_id)

    # -- closing: file the recording, compose -----------------------------------------------

    async def close_meeting(self, code: str, loan_id: int) -> None:
        for claims in self.signaling.connected(code):
            await self.signaling.revoke(claims.token_id, "the meeting is closed")
        await self.signaling.rooms.close(code)
        recorder = self.recorders.pop(code, None)
        if recorder is not None:
            await recorder.close()
        # Every session folder of the meeting is filed, also one left by a media server that
        # was restarted mid-meeting (its files are readable up to the crash).
        for manifest in sorted((self.recordings_dir / code).glob("*/manifest.json")):
            marker = manifest.parent / ".filed"
            if not marker.exists():
                await self.file_recording(manifest.parent, code, loan_id)
                marker.write_text("filed\n")
        if recorder is not None:
            self.compose(code, recorder.directory, loan_id)
        if self.cluster is not None:
            await self.cluster.release(code)

    async def give_up(self, code: str, holder: str | None) -> None:
        """Another node took this meeting's media (this node lost its lease): send the sockets
        there, close the room and finish this node's recording segment (filed at the close)."""
        await self.signaling.relocate(code, holder or None)
        await self.signaling.rooms.close(code)
        recorder = self.recorders.pop(code, None)
        if recorder is not None:
            await recorder.close()

    async def resume_composites(self) -> list[str]:
        """Compose again the closed meetings whose composite a stopped server left unfinished
        (their recordings filed, no ``.composed`` nor ``.composite-failed`` mark): a restart
        loses no composite."""
        started = []
        for meeting_dir in sorted(p for p in self.recordings_dir.glob("*") if p.is_dir()):
            sessions = sorted(m.parent for m in meeting_dir.glob("*/manifest.json"))
            if not sessions or not all((s / ".filed").exists() for s in sessions):
                continue
            latest = sessions[-1]  # the session a close composes (that of the closing server)
            if (latest / COMPOSED_MARK).exists() or (latest / FAILED_MARK).exists() or meeting_dir.name in self.jobs:
                continue
            async with self.database().unit_of_work(write=False) as session:
                meeting = (await session.execute(select(Meeting).where(
                    Meeting.code == meeting_dir.name))).scalar_one_or_none()
            if meeting is None or meeting.phase != "closed":
                continue
            self.compose(meeting.code, latest, meeting.loan_id)
            started.append(meeting.code)
        return started

    def compose(self, code: str, directory: Path, loan_id: int) -> CompositeJob:
        """Start the composite of a recording folder in the background; its job is what
        ``GET /committee/composites/<code>`` shows."""
        job = self.jobs[code] = CompositeJob(code)
        task = asyncio.create_task(self._compose(job, directory, loan_id), name=f"composite-{code}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return job

    async def file_recording(self, directory: Path, code: str, loan_id: int) -> list[dict]:
        from recordings.service import file_record

        from .manifest import RecordingManifest

        manifest = RecordingManifest.load(directory / "manifest.json")
        filed = []
        items = [(directory / t.file, "recording", t.display_name or t.participant_id,
                  "video/webm" if t.kind == "video" else "audio/webm") for t in manifest.tracks
                 if (directory / t.file).exists()]
        items.append((directory / "manifest.json", "recording_manifest", f"贷审会{code}录像清单", "application/json"))
        async with self.database().unit_of_work() as session:
            for path, kind, title, media_type in items:
                blob = await self.archive.store.put_file(path)
                filed.append(await file_record(session, self.archive, loan_id, kind, blob.digest, blob.size, title,
                                               actor=Actor.system("committee"), media_type=media_type,
                                               meeting_id=code))
        return filed

    async def _compose(self, job: CompositeJob, directory: Path, loan_id: int) -> None:
        """The composite runs in a child process with its own memory limit and is retried
        (``committee.compositejob``); here we only wait on it, file it, and say how it went."""
        from recordings.service import file_record

        try:
            result = await self.compositor.run(job, directory, directory / COMPOSITE_NAME)
            async with self.database().unit_of_work() as session:
                blob = await self.archive.store.put_file(Path(result["path"]))
                await file_record(session, self.archive, loan_id, "recording", blob.digest, blob.size,
                                  "贷审会合成录像", actor=Actor.system("committee"), media_type="video/webm",
                                  meeting_id=job.meeting_id)
                await audit.append(session, Actor.system("committee"), "committee.composite_done",
                                   "committee_meeting", job.meeting_id,
                                   {"attempt": job.attempt, "duration": result["duration"]})
            job.state, job.progress = "done", 1.0
            (directory / COMPOSED_MARK).write_text("composed\n")
            job.message = f"{result['video_frames']} frames, {result['duration']:.1f} s"
        except CompositeFailed as error:  # the per-track files are filed already
            logger.error("composite of %s failed: %s", job.meeting_id, error)
            job.state, job.message = "failed", str(error)
            (directory / FAILED_MARK).write_text(job.message + "\n")  # not retried at every start
            await self._audit_failure(job)
        except Exception as error:  # filing failed: the composite file is kept for a retry by hand
            logger.exception("composite of %s could not be filed", job.meeting_id)
            job.state, job.message = "failed", f"filing the composite failed: {error}"
            await self._audit_failure(job)
        finally:
            job.finished.set()

    async def _audit_failure(self, job: CompositeJob) -> None:
        try:
            async with self.database().unit_of_work() as session:
                await audit.append(session, Actor.system("committee"), "committee.composite_failed",
                                   "committee_meeting", job.meeting_id,
                                   {"attempts": job.attempt, "reason": job.message[:500]})
        except Exception:  # the job's state still says it failed
            logger.exception("audit of the failed composite of %s", job.meeting_id)
