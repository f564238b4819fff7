"""The manifest of a meeting recording: which file holds whose track, and when.

Each track file's timestamps start at 0 at its first recorded packet;
``first_packet_time`` (Unix time, seconds) is the wall-clock time that packet
reached the server, which is what aligns the tracks with each other (RTCP sender
reports are not used). Events record joins, leaves, phase changes, pauses of
the recording, and media paths lost (``reconnecting``) and renegotiated (``reconnected``).
``sha256`` is filled in when a file is finalised.

A person's track may be recorded in several *segments*, one file each: after a reconnect
(:mod:`committee.reconnection`) the fresh connection's packets go to a new file. ``segment``
numbers them (1, 2, ...) per person and kind, and ``start``/``end`` place each on the
meeting's clock (seconds since ``started_at``); between two segments is the gap.

The manifest is plain JSON, rewritten atomically (temporary file + rename) after
every change so that a crash leaves the last complete version.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

MANIFEST_VERSION = 1
EVENT_TYPES = frozenset(
    {"join", "leave", "phase", "recording-paused", "recording-resumed", "closed",
     "reconnecting", "reconnected"}
)


class ManifestError(ValueError):
    """A manifest file is missing fields or inconsistent."""


@dataclass
class TrackEntry:
    track_id: str
    participant_id: str
    role: str
    display_name: str
    kind: str
    file: str
    codec: str
    first_packet_time: Optional[float] = None
    last_packet_time: Optional[float] = None
    packets: int = 0
    width: Optional[int] = None
    height: Optional[int] = None
    finalised: bool = False
    sha256: Optional[str] = None
    size: Optional[int] = None
    segment: int = 1
    start: Optional[float] = None  # the meeting's clock: seconds since the manifest's started_at
    end: Optional[float] = None


@dataclass
class ManifestEvent:
    at: float
    type: str
    participant_id: Optional[str] = None
    role: Optional[str] = None
    phase: Optional[str] = None
    reason: Optional[str] = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ManifestError(
                f"unknown manifest event type {self.type!r}; expected one of "
                f"{sorted(EVENT_TYPES)}"
            )


@dataclass
class RecordingManifest:
    meeting_id: str
    started_at: float = field(default_factory=time.time)
    closed_at: Optional[float] = None
    tracks: list[TrackEntry] = field(default_factory=list)
    events: list[ManifestEvent] = field(default_factory=list)
    version: int = MANIFEST_VERSION

    def track(self, track_id: str) -> TrackEntry:
        for entry in self.tracks:
            if entry.track_id == track_id:
                return entry
        raise KeyError(f"no track {track_id!r} in the manifest of {self.meeting_id}")

    def add_event(self, type: str, **details: Any) -> ManifestEvent:
        event = ManifestEvent(at=details.pop("at", None) or time.time(), type=type, **details)
        self.events.append(event)
        return event

    def clock(self, unix_time: float) -> float:
        """A wall-clock time on the meeting's clock."""
        return round(unix_time - self.started_at, 3)

    def segments(self, participant_id: str, kind: str) -> list[TrackEntry]:
        """One person's track, segment by segment."""
        return sorted((t for t in self.tracks if t.participant_id == participant_id and t.kind == kind),
                      key=lambda t: t.segment)

    def gaps(self, participant_id: str, kind: str) -> list[tuple[float, float]]:
        """The stretches (meeting clock) between a person's recorded segments."""
        found = []
        parts = [t for t in self.segments(participant_id, kind) if t.start is not None]
        for before, after in zip(parts, parts[1:]):
            found.append((before.end if before.end is not None else before.start, after.start))
        return found

    def phases(self) -> list[ManifestEvent]:
        return [event for event in self.events if event.type == "phase"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RecordingManifest":
        try:
            if data.get("version") != MANIFEST_VERSION:
                raise ManifestError(
                    f"manifest version {data.get('version')!r} is not "
                    f"{MANIFEST_VERSION}"
                )
            return cls(
                meeting_id=data["meeting_id"],
                started_at=data["started_at"],
                closed_at=data.get("closed_at"),
                tracks=[TrackEntry(**entry) for entry in data["tracks"]],
                events=[ManifestEvent(**event) for event in data["events"]],
                version=data["version"],
            )
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"malformed recording manifest: {exc}") from exc

    def save(self, path: Path) -> None:
        path = Path(path)
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> "RecordingManifest":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(f"no recording manifest at {path}") from None
        except json.JSONDecodeError as exc:
            raise ManifestError(f"recording manifest {path} is not JSON: {exc}") from exc
        return cls.from_dict(data)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(manifest: RecordingManifest, directory: Path) -> dict[str, bool]:
    """For each finalised track file: does its SHA-256 still match the manifest?"""
    results = {}
    for entry in manifest.tracks:
        if not entry.finalised:
            continue
        path = Path(directory) / entry.file
        results[entry.file] = path.exists() and file_sha256(path) == entry.sha256
    return results
