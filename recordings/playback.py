"""A meeting's recordings arranged for playback: the composite, one row per person, a timeline.

The committee files each person's audio and video as separate records (and a new pair after a
reconnect), plus the composite and the manifest. A person watching the archive wants one row per
person whose audio and video play together, and a timeline whose entries seek what is playing to
the right moment. Everything is placed on the *meeting clock*: seconds after the manifest's
``started_at``. A file's time 0 is its first packet (``first_packet_time``); the composite's is
the earliest first packet of the tracks it was made of (``committee.composite``), so a moment
``t`` of the meeting is ``t - start`` seconds into a file that starts at ``start``.

Pure functions over the manifest (a dict, as filed) and the filed records: no I/O here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional


@dataclass(frozen=True)
class FiledMedia:
    """A recording record of the meeting as the archive holds it."""

    entry_id: int
    digest: str
    title: str
    media_type: str
    url: str


def _media(filed: FiledMedia, start: float, end: Optional[float], kind: str) -> dict[str, Any]:
    return {"entry_id": filed.entry_id, "url": filed.url, "kind": kind, "start": round(start, 3),
            "end": None if end is None else round(end, 3)}


def _kind_of(filed: FiledMedia) -> str:
    return "audio" if filed.media_type.startswith("audio/") else "video"


def _match_tracks(tracks: list[dict], filed: list[FiledMedia]) -> dict[int, FiledMedia]:
    """Track index -> its filed record: by SHA-256 when the manifest has it (a finalised track),
    else by the title the committee files it under (the display name) and kind, in order."""
    matched: dict[int, FiledMedia] = {}
    used: set[int] = set()
    by_digest = {f.digest: f for f in filed}
    for index, track in enumerate(tracks):
        found = by_digest.get(track.get("sha256") or "")
        if found is not None and found.entry_id not in used:
            matched[index] = found
            used.add(found.entry_id)
    for index, track in enumerate(tracks):
        if index in matched:
            continue
        name = track.get("display_name") or track.get("participant_id")
        for candidate in filed:
            if (candidate.entry_id not in used and candidate.title == name
                    and _kind_of(candidate) == track.get("kind")):
                matched[index] = candidate
                used.add(candidate.entry_id)
                break
    return matched


def _segments(videos: list[dict], audios: list[dict]) -> list[dict[str, Any]]:
    """Pair each video file with the audio file of the same person that overlaps it most (they
    were published together); what is left plays alone. Sorted on the meeting clock."""
    def overlap(a: dict, b: dict) -> float:
        return min(a["end"] if a["end"] is not None else a["start"], b["end"] if b["end"] is not None else b["start"]) \
            - max(a["start"], b["start"])

    segments, free = [], list(audios)
    for video in sorted(videos, key=lambda m: m["start"]):
        best = max(free, key=lambda a: overlap(video, a), default=None)
        # A track with no last packet time yet (a crash) has no length: pair it by its start.
        if best is not None and (overlap(video, best) > 0 or abs(best["start"] - video["start"]) < 2):
            free.remove(best)
        else:
            best = None
        segments.append({"video": video, "audio": best})
    segments += [{"video": None, "audio": audio} for audio in free]
    for segment in segments:
        parts = [m for m in (segment["video"], segment["audio"]) if m is not None]
        segment["start"] = min(m["start"] for m in parts)
        ends = [m["end"] for m in parts if m["end"] is not None]
        segment["end"] = max(ends) if ends else None
    return sorted(segments, key=lambda s: s["start"])


def playback(manifest: dict[str, Any], filed: Iterable[FiledMedia], *, selected_entry: Optional[int] = None,
             votes: Iterable[tuple[float, str]] = ()) -> dict[str, Any]:
    """The meeting's playback: ``composite`` (the latest, or None), ``people`` (one row each,
    segments of paired audio and video), ``timeline`` (events on the meeting clock, with the
    person's name), ``duration`` and ``selected`` (the row of ``selected_entry``).

    ``votes`` are (Unix time, participant id) of ballots cast: when, never how."""
    filed = list(filed)
    zero = float(manifest.get("started_at") or 0.0)
    tracks = [t for t in manifest.get("tracks") or [] if t.get("participant_id") != "composite"]
    matched = _match_tracks(tracks, filed)
    people: dict[str, dict[str, Any]] = {}
    media: dict[str, dict[str, list]] = {}
    for index, track in enumerate(tracks):
        pid = str(track.get("participant_id"))
        person = people.setdefault(pid, {"participant_id": pid, "name": track.get("display_name") or pid,
                                          "role": track.get("role") or "", "segments": []})
        if track.get("display_name"):
            person["name"] = track["display_name"]
        found = matched.get(index)
        first = track.get("first_packet_time")
        if found is None or first is None:
            continue  # not filed (a file lost in a crash), or nothing was ever received
        last = track.get("last_packet_time")
        entry = _media(found, first - zero, None if last is None else last - zero, track.get("kind", "video"))
        media.setdefault(pid, {"video": [], "audio": []})[entry["kind"]].append(entry)
    for pid, kinds in media.items():
        people[pid]["segments"] = _segments(kinds["video"], kinds["audio"])

    track_entries = {matched[i].entry_id for i in matched}
    composites = [f for f in filed if f.entry_id not in track_entries and _kind_of(f) == "video"]
    firsts = [t["first_packet_time"] for i, t in enumerate(tracks)
              if i in matched and t.get("first_packet_time") is not None]
    composite = None
    if composites:
        latest = max(composites, key=lambda f: f.entry_id)
        composite = _media(latest, (min(firsts) - zero) if firsts else 0.0, None, "video")

    names = {pid: p["name"] for pid, p in people.items()}
    events = [dict(e) for e in manifest.get("events") or []]
    events += [{"at": at, "type": "vote", "participant_id": pid} for at, pid in votes]
    timeline = []
    for event in sorted(events, key=lambda e: float(e.get("at") or 0.0)):
        pid = event.get("participant_id")
        timeline.append({"at": round(max(0.0, float(event.get("at") or zero) - zero), 3), "type": event.get("type"),
                         "participant_id": pid, "name": names.get(pid, pid) if pid else None,
                         "role": event.get("role"), "phase": event.get("phase")})

    ends = [s["end"] for p in people.values() for s in p["segments"] if s["end"] is not None]
    closed = manifest.get("closed_at")
    duration = max(ends + ([closed - zero] if closed else []), default=0.0)
    selected = None
    if selected_entry is not None:
        if composite and composite["entry_id"] == selected_entry:
            selected = {"row": "composite"}
        for person in people.values():
            for number, segment in enumerate(person["segments"]):
                if any(m and m["entry_id"] == selected_entry for m in (segment["video"], segment["audio"])):
                    selected = {"row": person["participant_id"], "segment": number}
    rows = sorted(people.values(), key=lambda p: min((s["start"] for s in p["segments"]), default=float("inf")))
    return {"meeting_id": manifest.get("meeting_id"), "started_at": zero, "duration": round(duration, 3),
            "composite": composite, "people": rows, "timeline": timeline, "selected": selected}
