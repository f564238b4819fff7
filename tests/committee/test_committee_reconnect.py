"""Reconnection with real aiortc peers over Socket.IO: a participant's transport is cut mid-call
(its ICE transports stop, nothing is said to the server); the server finds the path dead, the
participant renegotiates fresh connections on the same seat, frames flow again both ways, and
the recording holds two segments of the person's track with the gap between them. A
participant whom the rules no longer admit (an officer after deliberation began) is refused."""
from __future__ import annotations

import asyncio

import av
import pytest

from committee.composite import compose_recording
from committee.manifest import RecordingManifest
from committee.reconnection import PathWatch, ReconnectPolicy
from committee.recorder import RoomRecorder
from committee.signaling import CommitteeSignaling, InvalidJoinToken, MeetingRooms
from committee_peers import SocketParticipant, serving, wait_for
from test_committee_signaling import token, verify

# Short limits keep the test quick; the detection is the same as with the defaults.
POLICY = ReconnectPolicy(disconnected_grace=1.0, packet_timeout=2.0, check_interval=0.25)
# The acceptance figure: frames flow again within this long of the cut.
RECOVERY_SECONDS = 10.0


@pytest.fixture
async def room_server(tmp_path):
    recorders: dict[str, RoomRecorder] = {}
    seats: list[tuple[str, str]] = []
    closed_to: set[str] = set()  # users the meeting's rules no longer admit

    def on_created(room):
        recorder = RoomRecorder(tmp_path / room.room_id, room.room_id)
        room.observers.append(recorder)
        recorders[room.room_id] = recorder

    signaling = CommitteeSignaling(verify, MeetingRooms(on_created=on_created, policy=POLICY))

    async def on_seat(claims, event):
        seats.append((claims.user_id, event))

    async def readmit(claims):
        if claims.user_id in closed_to:
            raise InvalidJoinToken("the officers' part of the meeting has ended")

    signaling.on_seat, signaling.readmit = on_seat, readmit
    async with serving(signaling) as url:
        yield signaling, url, recorders, seats, closed_to


def receiving(person: SocketParticipant, publisher: str, more_than: int = 3) -> bool:
    reception = person.peer.receptions.get(publisher)
    return reception is not None and reception.packets["video"] > more_than and reception.packets["audio"] > 5


async def meet(url: str, *people: SocketParticipant) -> None:
    for person in people:
        await person.connect(token(person.user, person.role))
        await person.publish()
    await wait_for(lambda: all(receiving(p, q.user) for p in people for q in people if q is not p),
                   30, "everyone receiving everyone")


def count_video_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_reconnect_after_cut_transport_resumes_frames_and_records_two_segments(room_server):
    signaling, url, recorders, seats, _ = room_server
    alice = SocketParticipant(url, "alice", "convener")
    bob = SocketParticipant(url, "bob", "member", seed=1)
    try:
        await meet(url, alice, bob)
        # A first segment long enough to be seen in the composite before the cut (on a loaded
        # machine "receiving" can come a third of a second after the first packet).
        await wait_for(lambda: receiving(bob, "alice", more_than=20), 30, "a second of alice's video")
        before_to, before_from = bob.peer.receptions["alice"], alice.peer.receptions["bob"]
        loop = asyncio.get_running_loop()
        cut_at = loop.time()
        await alice.cut()

        # the server finds the path dead by itself and says so: to alice, and to bob
        await wait_for(lambda: alice.reconnects, 20, "the server to find alice's path dead")
        assert alice.reconnects[0] in ("no-packets", "ice-failed", "ice-disconnected", "closed")
        await wait_for(lambda: ("alice", "reconnecting") in bob.states, 20, "bob told alice is reconnecting")
        # frames from and to alice flow again, on fresh connections, without anyone's action
        await wait_for(lambda: receiving(bob, "alice") and bob.peer.receptions["alice"] is not before_to
                       and receiving(alice, "bob") and alice.peer.receptions["bob"] is not before_from,
                       RECOVERY_SECONDS, "frames to and from alice again")
        recovered = loop.time() - cut_at
        assert recovered < RECOVERY_SECONDS, f"media came back {recovered:.1f} s after the cut"

        # same seat: one participant, live again, counted as a reconnect; attendance has the gap
        room = signaling.rooms.existing("mtg-1")
        assert sorted(room.participants) == ["alice", "bob"]
        assert (room.participants["alice"].state, room.participants["alice"].reconnects) == ("live", 1)
        assert [e for u, e in seats if u == "alice"] == ["join", "join"]  # the record: a reconnect
        assert [e for u, e in seats if u == "bob"] == ["join"]
        # the second segment records too
        recorder = recorders["mtg-1"]
        await wait_for(lambda: all(t.first_packet_time for t in recorder.manifest.tracks), 20,
                       "every segment's first packet recorded")
    finally:
        await alice.close()
        await bob.close()
    manifest = await recorders["mtg-1"].close()
    manifest = RecordingManifest.load(recorders["mtg-1"].manifest_path)  # as filed
    for kind in ("audio", "video"):
        segments = manifest.segments("alice", kind)
        assert [s.segment for s in segments] == [1, 2], [(s.file, s.segment) for s in manifest.tracks]
        first, second = segments
        assert first.start is not None and first.end is not None and second.start is not None
        assert first.start < first.end < second.start <= second.end
        (gap_start, gap_end), = manifest.gaps("alice", kind)
        assert gap_end - gap_start > 0.5  # the cut, seen on the meeting's clock
        assert [s.segment for s in manifest.segments("bob", kind)] == [1]
    for segment in manifest.segments("alice", "video"):
        assert count_video_frames(recorders["mtg-1"].directory / segment.file) > 3
    types = [(e.type, e.participant_id) for e in manifest.events]
    assert ("reconnecting", "alice") in types and ("reconnected", "alice") in types
    assert types.index(("reconnecting", "alice")) < types.index(("reconnected", "alice"))

    # the composite: alice's two segments in one tile at their times, black in the gap
    directory = recorders["mtg-1"].directory
    result = await asyncio.get_running_loop().run_in_executor(
        None, lambda: compose_recording(directory, directory / "composite.webm"))
    assert (result.tiles, result.video_tracks) == (2, 3)
    with av.open(str(directory / "composite.webm")) as container:
        frames = [(float(f.time), f.to_ndarray(format="gray")) for f in container.decode(video=0)]
    zero = min(t.first_packet_time for t in manifest.tracks) - manifest.started_at  # composite's 0
    first, second = manifest.segments("alice", "video")
    column = [t.participant_id for t in manifest.tracks if t.kind == "video"].index("alice")

    def alice_brightness(meeting_time: float) -> float:
        picture = min(frames, key=lambda f: abs(f[0] - (meeting_time - zero)))[1]
        return float(picture[:, column * 320 : (column + 1) * 320].mean())

    assert second.start - first.end > 1.6, (first.end, second.start)
    assert alice_brightness((first.start + first.end) / 2) > 40
    assert alice_brightness(second.start - 0.3) < 5  # the gap: black (a held picture lasts 1 s)
    assert alice_brightness(second.start + 0.8) > 40


async def test_reconnect_refused_when_the_rules_no_longer_admit(room_server):
    signaling, url, recorders, seats, closed_to = room_server
    convener = SocketParticipant(url, "carol", "convener")
    officer = SocketParticipant(url, "olga", "officer", seed=2)
    try:
        await meet(url, convener, officer)
        officer.client.handlers["/"]["reconnect"] = lambda data: officer.reconnects.append(data["reason"])
        await officer.cut()
        await wait_for(lambda: officer.reconnects, 20, "the server to find the officer's path dead")
        closed_to.add("olga")  # deliberation began while the officer was cut off
        await officer.rebuild()
        assert officer.refusals == ["the officers' part of the meeting has ended"]
        await wait_for(lambda: officer.removed and not officer.client.connected, 20, "the officer sent away")
        room = signaling.rooms.existing("mtg-1")
        assert sorted(room.participants) == ["carol"]
        assert [e for u, e in seats if u == "olga"] == ["join", "leave"]
    finally:
        await convener.close()
        await officer.close()
    manifest = await recorders["mtg-1"].close()
    assert [s.segment for s in manifest.segments("olga", "video")] == [1]
    assert [s.segment for s in manifest.segments("carol", "video")] == [1]


class FakeConnection:
    def __init__(self, state: str = "connected") -> None:
        self.connectionState = self.iceConnectionState = state


def test_reconnect_path_verdicts_follow_the_policy():
    now = [100.0]
    policy = ReconnectPolicy(disconnected_grace=3.0, packet_timeout=5.0, check_interval=0.5)
    pc = FakeConnection()
    watch = PathWatch(pc, policy, clock=lambda: now[0])
    assert watch.verdict(100.0, expects_packets=True) is None
    now[0] = 104.0
    assert watch.verdict(100.0, expects_packets=True) is None
    now[0] = 105.5
    assert watch.verdict(100.0, expects_packets=True) == "no-packets"
    assert watch.verdict() is None  # a subscription is not judged by packets
    pc.connectionState = pc.iceConnectionState = "disconnected"
    assert watch.verdict() is None  # a glitch: within the grace
    now[0] = 107.0
    assert watch.verdict() is None
    now[0] = 108.6
    assert watch.verdict() == "ice-disconnected"
    pc.connectionState = pc.iceConnectionState = "connected"
    assert watch.verdict() is None and watch.disconnected_since is None
    pc.connectionState = "failed"
    assert watch.verdict() == "ice-failed"
    pc.connectionState = pc.iceConnectionState = "closed"
    assert watch.verdict() == "closed"


def test_reconnect_policy_settings():
    assert ReconnectPolicy.from_env({}) == ReconnectPolicy()
    tuned = ReconnectPolicy.from_env({"LOANCTL_MEDIA_DISCONNECTED_GRACE": "1.5",
                                      "LOANCTL_MEDIA_PACKET_TIMEOUT": "0.4"})
    assert (tuned.disconnected_grace, tuned.packet_timeout, tuned.check_interval) == (1.5, 0.4, 0.4)
    assert tuned.for_page() == {"grace_ms": 1500, "stall_ms": 400}
    for bad in ({"LOANCTL_MEDIA_PACKET_TIMEOUT": "soon"}, {"LOANCTL_MEDIA_DISCONNECTED_GRACE": "-1"}):
        with pytest.raises(ValueError):
            ReconnectPolicy.from_env(bad)
    with pytest.raises(ValueError):
        ReconnectPolicy(disconnected_grace=1.0, packet_timeout=5.0, check_interval=2.0)
