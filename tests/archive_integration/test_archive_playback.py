"""Archive playback a person understands: one row per person (their audio and video played
together), the composite, and a timeline whose entries seek the composite or the person's track
to the right moment of the meeting clock."""
from __future__ import annotations

import hashlib
import json
import time

import pytest

from recordings.playback import FiledMedia, playback
from tests.archive_integration.helpers import file_over_api, webm_tone, webm_with_motion
from tests.suite import sign_in_page

MEETING = "M-2026-PLAY"


async def file_meeting(suite, loan_id: int, tmp_path) -> dict:
    """A closed meeting as the committee files it: per-track files (a person's audio and video
    apart; a second pair after a reconnect; an officer without camera), the composite, and the
    manifest placing them on the meeting clock (0 = ``started_at``)."""
    started = time.time() - 3600
    media = {  # file name: (bytes, media type, title)
        "a-video": (webm_with_motion(tmp_path / "a-v.webm", seconds=6.0), "video/webm", "张委员"),
        "a-audio": (webm_tone(tmp_path / "a-a.webm", seconds=5.8, frequency=300), "audio/webm", "张委员"),
        "b1-video": (webm_with_motion(tmp_path / "b1-v.webm", seconds=2.0), "video/webm", "李委员"),
        "b1-audio": (webm_tone(tmp_path / "b1-a.webm", seconds=2.0, frequency=400), "audio/webm", "李委员"),
        "b2-video": (webm_with_motion(tmp_path / "b2-v.webm", seconds=2.0), "video/webm", "李委员"),
        "b2-audio": (webm_tone(tmp_path / "b2-a.webm", seconds=2.0, frequency=400), "audio/webm", "李委员"),
        "c-audio": (webm_tone(tmp_path / "c-a.webm", seconds=5.0, frequency=500), "audio/webm", "王经理"),
    }
    # (file, participant, role, kind, first packet, last packet) in seconds on the meeting clock
    tracks = [("a-video", "11", "member", "video", 1.0, 7.0), ("a-audio", "11", "member", "audio", 1.2, 7.0),
              ("b1-video", "12", "member", "video", 2.0, 4.0), ("b1-audio", "12", "member", "audio", 2.0, 4.0),
              ("c-audio", "20", "officer", "audio", 1.5, 6.5),
              ("b2-video", "12", "member", "video", 5.0, 7.0), ("b2-audio", "12", "member", "audio", 5.0, 7.0)]
    filed = {}
    for name, (data, media_type, title) in media.items():
        filed[name] = await file_over_api(suite, loan_id, "recording", data, title, media_type=media_type,
                                          meeting_id=MEETING)
    composite = await file_over_api(suite, loan_id, "recording", webm_with_motion(tmp_path / "c.webm", seconds=7.0),
                                    "贷审会合成录像", media_type="video/webm", meeting_id=MEETING)
    names = {"11": "张委员", "12": "李委员", "20": "王经理"}
    manifest = {
        "version": 1, "meeting_id": MEETING, "started_at": started, "closed_at": started + 7.5,
        "tracks": [{"track_id": name, "participant_id": pid, "role": role, "display_name": names[pid], "kind": kind,
                    "file": f"{name}.webm", "codec": "VP8" if kind == "video" else "opus",
                    "first_packet_time": started + first, "last_packet_time": started + last, "packets": 1,
                    "width": 160 if kind == "video" else None, "height": 120 if kind == "video" else None,
                    "finalised": True, "sha256": hashlib.sha256(media[name][0]).hexdigest(),
                    "size": len(media[name][0])}
                   for name, pid, role, kind, first, last in tracks],
        "events": [{"at": started + at, "type": kind, "participant_id": pid, "role": role, "phase": phase}
                   for at, kind, pid, role, phase in [
                       (1.0, "join", "11", "member", None), (1.5, "join", "20", "officer", None),
                       (1.6, "phase", None, None, "open"), (2.0, "join", "12", "member", None),
                       (4.0, "leave", "12", "member", None), (5.0, "join", "12", "member", None),
                       (6.0, "phase", None, None, "voting"), (7.5, "closed", None, None, None)]]}
    await file_over_api(suite, loan_id, "recording_manifest", json.dumps(manifest).encode(), "贷审会录像清单",
                        media_type="application/json", meeting_id=MEETING)
    return {"filed": filed, "composite": composite, "started": started}


def test_composite_playback_pairs_each_persons_audio_and_video_unit():
    """The arrangement alone: pairs by overlap, a reconnect is a second segment, audio alone
    stays audio, the composite starts at the earliest first packet, votes join the timeline."""
    zero = 1000.0
    manifest = {"meeting_id": "M", "started_at": zero, "closed_at": zero + 30, "tracks": [
        {"participant_id": "1", "display_name": "甲", "role": "member", "kind": "video", "sha256": "v1",
         "first_packet_time": zero + 3, "last_packet_time": zero + 10},
        {"participant_id": "1", "display_name": "甲", "role": "member", "kind": "audio", "sha256": "a1",
         "first_packet_time": zero + 2.5, "last_packet_time": zero + 10},
        {"participant_id": "1", "display_name": "甲", "role": "member", "kind": "video", "sha256": "v2",
         "first_packet_time": zero + 15, "last_packet_time": zero + 30},
        {"participant_id": "1", "display_name": "甲", "role": "member", "kind": "audio", "sha256": "a2",
         "first_packet_time": zero + 15.1, "last_packet_time": zero + 30},
        {"participant_id": "2", "display_name": "乙", "role": "officer", "kind": "audio", "sha256": None,
         "first_packet_time": zero + 4, "last_packet_time": zero + 9}],
        "events": [{"at": zero + 3, "type": "join", "participant_id": "1"}, {"at": zero + 20, "type": "phase",
                                                                            "phase": "voting"}]}
    filed = [FiledMedia(n, d, t, m, f"/f/{n}") for n, d, t, m in [
        (1, "v1", "甲", "video/webm"), (2, "a1", "甲", "audio/webm"), (3, "a2", "甲", "audio/webm"),
        (4, "v2", "甲", "video/webm"), (5, "x", "乙", "audio/webm"), (6, "comp", "合成", "video/webm")]]
    arranged = playback(manifest, filed, selected_entry=3, votes=[(zero + 21, "1")])
    assert [p["participant_id"] for p in arranged["people"]] == ["1", "2"]
    first, second = arranged["people"][0]["segments"]
    assert (first["video"]["entry_id"], first["audio"]["entry_id"], first["start"]) == (1, 2, 2.5)
    assert (second["video"]["entry_id"], second["audio"]["entry_id"]) == (4, 3)
    officer = arranged["people"][1]["segments"]
    assert len(officer) == 1 and officer[0]["video"] is None and officer[0]["audio"]["entry_id"] == 5  # by title
    assert arranged["composite"] == {"entry_id": 6, "url": "/f/6", "kind": "video", "start": 2.5, "end": None}
    assert [(e["type"], e["at"], e["name"]) for e in arranged["timeline"]] == [
        ("join", 3.0, "甲"), ("phase", 20.0, None), ("vote", 21.0, "甲")]
    assert arranged["selected"] == {"row": "1", "segment": 1} and arranged["duration"] == 30.0


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_composite_and_person_playback_api_shape(suite, tmp_path):
    loan_id = await suite.add_loan(office="CU-CG", stage="active", customer="赵六", officer_a="officer.cg")
    meeting = await file_meeting(suite, loan_id, tmp_path)
    filed = meeting["filed"]
    archivist = await suite.login("archivist")
    view = await archivist.json("GET", f"/api/archive/loans/{loan_id}/recordings/{filed['a-audio']['entry_id']}")
    arranged = view["playback"]
    assert arranged["meeting_id"] == MEETING and arranged["duration"] == 7.5
    assert arranged["composite"]["entry_id"] == meeting["composite"]["entry_id"]
    assert arranged["composite"]["start"] == 1.0  # the earliest first packet
    rows = {p["participant_id"]: p for p in arranged["people"]}
    assert [p["name"] for p in arranged["people"]] == ["张委员", "王经理", "李委员"]  # by first appearance
    assert [(p["role"], len(p["segments"])) for p in arranged["people"]] == [("member", 1), ("officer", 1),
                                                                           ("member", 2)]
    a = rows["11"]["segments"][0]
    assert (a["video"]["entry_id"], a["audio"]["entry_id"]) == (filed["a-video"]["entry_id"], filed["a-audio"]["entry_id"])
    assert (a["video"]["start"], a["audio"]["start"], a["start"], a["end"]) == (1.0, 1.2, 1.0, 7.0)
    assert a["video"]["url"] == f"/api/archive/loans/{loan_id}/entries/{filed['a-video']['entry_id']}"
    b1, b2 = rows["12"]["segments"]
    assert (b1["start"], b1["end"], b2["start"]) == (2.0, 4.0, 5.0)
    assert b2["video"]["entry_id"] == filed["b2-video"]["entry_id"] and b2["audio"]["entry_id"] == filed["b2-audio"]["entry_id"]
    c = rows["20"]["segments"]
    assert c[0]["video"] is None and c[0]["audio"]["entry_id"] == filed["c-audio"]["entry_id"]
    assert [(e["type"], e["at"]) for e in arranged["timeline"]] == [
        ("join", 1.0), ("join", 1.5), ("phase", 1.6), ("join", 2.0), ("leave", 4.0), ("join", 5.0),
        ("phase", 6.0), ("closed", 7.5)]
    assert arranged["timeline"][1]["name"] == "王经理" and arranged["timeline"][6]["phase"] == "voting"
    assert arranged["selected"] == {"row": "11", "segment": 0}  # the audio opened belongs to 张委员's row
    # Without a manifest there is nothing to arrange; the recording itself is still served.
    other = await suite.add_loan(office="CU-CG", stage="active", customer="钱七", officer_a="officer.cg")
    alone = await file_over_api(suite, other, "recording", webm_tone(tmp_path / "x.webm", 1.0), "x",
                                media_type="audio/webm", meeting_id="M-NONE")
    view = await archivist.json("GET", f"/api/archive/loans/{other}/recordings/{alone['entry_id']}")
    assert view["playback"] is None and view["manifest_url"] is None


PLAYER = """() => {
    const root = document.querySelector('[data-testid=playback]');
    const video = root.querySelector('video[data-player]'), audio = root.querySelector('[data-testid=recording-audio]');
    return {source: root.dataset.source, segment: root.dataset.segment,
            video: {hidden: video.hidden, url: video.dataset.url || '', time: video.currentTime},
            audio: {hidden: audio.hidden, url: audio.dataset.url || '', time: audio.currentTime, controls: audio.controls}};
}"""


async def seek_by(page, selector: str, tag: str = "video") -> float:
    """Click a timeline button; the time the ``tag`` player reached by the seek it caused (read
    at its ``seeked`` event: the player goes on playing afterwards)."""
    await page.evaluate("() => { window.seeks = []; }")
    before = await page.get_attribute("[data-testid=playback]", "data-seeks")
    await page.click(selector)
    await page.wait_for_function("before => document.querySelector('[data-testid=playback]').dataset.seeks !== before",
                                 arg=before)
    await page.wait_for_function("tag => window.seeks.some(s => s.tag === tag)", arg=tag)
    return await page.evaluate("tag => window.seeks.find(s => s.tag === tag).time", tag)


RECORD_SEEKS = """() => {
    window.seeks = [];
    for (const element of document.querySelectorAll('[data-testid=playback] video, [data-testid=playback] audio')) {
        element.addEventListener('seeked', () => window.seeks.push({tag: element.tagName.toLowerCase(), time: element.currentTime}));
    }
}"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_composite_and_person_rows_play_together_and_timeline_seeks(suite, browser, tmp_path):
    loan_id = await suite.add_loan(office="CU-CG", stage="active", customer="赵六", officer_a="officer.cg")
    meeting = await file_meeting(suite, loan_id, tmp_path)
    filed = meeting["filed"]
    base = str(suite.server.make_url("")).rstrip("/")
    page = await sign_in_page(browser, base, "archivist")
    entries = f"/api/archive/loans/{loan_id}/entries"

    # Opened from 张委员's *audio* record: their row plays, the picture with the sound beside it.
    await page.goto(f"{base}/archive/loans/{loan_id}/recordings/{filed['a-audio']['entry_id']}")
    await page.wait_for_selector("[data-testid=playback][data-ready=true]")
    rows = await page.eval_on_selector_all("[data-testid=person]", "rows => rows.map(r => [r.dataset.row, "
                                           "r.querySelector('[data-name]').textContent, r.querySelectorAll('[data-segment]').length])")
    assert rows == [["11", "张委员", 1], ["20", "王经理", 1], ["12", "李委员", 2]]  # one row per person
    assert await page.locator("[data-testid=composite-row]").count() == 1
    assert "委员" in await page.inner_text("[data-testid=person][data-row='11']")  # role in the page's language
    state = await page.evaluate(PLAYER)
    assert state["source"] == "11" and not state["video"]["hidden"] and state["audio"]["hidden"]
    assert state["video"]["url"] == f"{entries}/{filed['a-video']['entry_id']}"
    assert state["audio"]["url"] == f"{entries}/{filed['a-audio']['entry_id']}"

    # Playing the row plays both: the hidden audio follows the video, 0.2 s behind it on the
    # meeting clock (its first packet came 0.2 s later).
    together = await page.evaluate("""async () => {
        const video = document.querySelector('video[data-player]'), audio = document.querySelector('[data-testid=recording-audio]');
        video.muted = true;
        await video.play();
        await new Promise((resolve) => { const check = () => (video.currentTime > 1.0 && !audio.paused) ? resolve() : requestAnimationFrame(check); check(); });
        const result = {video: video.currentTime, audio: audio.currentTime, audioPlaying: !audio.paused, muted: audio.muted};
        video.pause();
        return result;
    }""")
    assert together["audioPlaying"] and together["muted"]
    assert abs((together["video"] - together["audio"]) - 0.2) < 0.35, together

    # The timeline seeks the person's track: "voting" is 6.0 s into the meeting = 5.0 s into
    # 张委员's video (it starts at 1.0); the audio follows to 4.8 s (it starts at 1.2).
    await page.evaluate(RECORD_SEEKS)
    at = await seek_by(page, "[data-testid=timeline] li[data-type=phase][data-at='6.0'] [data-seek]")
    assert abs(at - 5.0) < 0.01, at
    await page.wait_for_function("() => window.seeks.some(s => s.tag === 'audio')")
    audio_at = await page.evaluate("() => window.seeks.find(s => s.tag === 'audio').time")
    assert abs(audio_at - 4.8) < 0.3, audio_at
    assert (await page.evaluate(PLAYER))["source"] == "11"

    # The composite starts at the earliest first packet (1.0): 李委员 joining at 2.0 is 1.0 s in.
    await page.click("[data-testid=composite-row] [data-play]")
    await page.wait_for_selector("[data-testid=playback][data-source=composite]")
    at = await seek_by(page, "[data-testid=timeline] li[data-type=join][data-at='2.0'] [data-seek]")
    state = await page.evaluate(PLAYER)
    assert state["source"] == "composite" and state["video"]["url"] == f"{entries}/{meeting['composite']['entry_id']}"
    assert abs(at - 1.0) < 0.01 and state["audio"]["hidden"], (at, state)

    # A person's name in the timeline plays that person at that moment: 李委员 rejoining at 5.0
    # is the start of their second segment (after the gap).
    at = await seek_by(page, "[data-testid=timeline] li[data-type=join][data-at='5.0'] [data-person-seek]")
    state = await page.evaluate(PLAYER)
    assert (state["source"], state["segment"]) == ("12", "1") and at < 0.01, (at, state)
    assert state["video"]["url"] == f"{entries}/{filed['b2-video']['entry_id']}"
    assert state["audio"]["url"] == f"{entries}/{filed['b2-audio']['entry_id']}"
    # ... and 李委员 leaving at 4.0 is the end of the first: 2.0 s into it.
    at = await seek_by(page, "[data-testid=timeline] li[data-type=leave] [data-person-seek]")
    state = await page.evaluate(PLAYER)
    assert (state["source"], state["segment"]) == ("12", "0") and abs(at - 2.0) < 0.05, (at, state)

    # 王经理 had no camera: their row plays in an audio player, no empty video frame; the
    # timeline seeks it (phase "open" at 1.6 = 0.1 s into an audio that starts at 1.5).
    await page.click("[data-testid=person][data-row='20'] [data-play]")
    await page.wait_for_selector("[data-testid=playback][data-source='20']")
    state = await page.evaluate(PLAYER)
    assert state["video"]["hidden"] and not state["audio"]["hidden"] and state["audio"]["controls"]
    assert state["audio"]["url"] == f"{entries}/{filed['c-audio']['entry_id']}"
    at = await seek_by(page, "[data-testid=timeline] li[data-type=phase][data-at='1.6'] [data-seek]", "audio")
    assert abs(at - 0.1) < 0.01, at

    # In English, the same page names rows and entries in English.
    await page.context.add_cookies([{"name": "lang", "value": "en", "url": base}])
    await page.reload()
    await page.wait_for_selector("[data-testid=playback][data-ready=true]")
    assert "Member" in await page.inner_text("[data-testid=person][data-row='11']")
    assert "voting" in (await page.inner_text("[data-testid=timeline]")).lower()
