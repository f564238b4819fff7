"""The SFU with real aiortc peers on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

from committee.encodedreceiver import (
    PINNED_AIORTC_VERSION,
    EncodedPeerConnection,
    UnsupportedAiortcVersion,
    check_aiortc_version,
    decoder_creations,
    is_vp8_keyframe,
)
from committee.sfu import MediaRoom, OfferError
from committee_peers import (
    ClientParticipant,
    GatedTrack,
    SyntheticCameraTrack,
    ToneMicrophoneTrack,
    decode_vp8,
    wait_for,
)


async def join_everyone(room: MediaRoom, peers: list[ClientParticipant]) -> None:
    """What signaling does: a newcomer subscribes to everyone, everyone to it."""
    for peer in peers:
        await peer.join(room)
        for other in peers:
            if other is not peer and other.publish_connection is not None:
                if peer.participant_id not in other.receptions:
                    await other.subscribe_to(room, peer.participant_id)


def test_version_guard_refuses_other_aiortc():
    check_aiortc_version(PINNED_AIORTC_VERSION)
    with pytest.raises(UnsupportedAiortcVersion) as info:
        check_aiortc_version("1.17.0")
    assert "1.17.0" in str(info.value) and PINNED_AIORTC_VERSION in str(info.value)


async def test_five_peers_receive_everyone_and_server_decodes_nothing():
    decoders_before = decoder_creations()
    room = MediaRoom("meeting-5")
    peers = [ClientParticipant(f"p{i}", seed=i, keep_video=20) for i in range(5)]
    try:
        await join_everyone(room, peers)
        assert sorted(room.publishers()) == [p.participant_id for p in peers]

        def everyone_has_video() -> bool:
            return all(
                len(r.video_packets) >= 20 and r.packets["audio"] >= 25
                for peer in peers
                for r in peer.receptions.values()
            )

        await wait_for(everyone_has_video, 20, "every peer to receive every other peer")
        for peer in peers:
            others = {p.participant_id for p in peers} - {peer.participant_id}
            assert set(peer.receptions) == others
            for publisher_id, reception in peer.receptions.items():
                # Later joiners subscribed mid-stream: they can only decode because
                # the first packet forwarded is a key frame the publisher sent on
                # request (aiortc's encoder sends one only every 3000 frames).
                assert is_vp8_keyframe(bytes(reception.video_packets[0]))
                frames = decode_vp8(reception.video_packets)
                assert len(frames) == len(reception.video_packets)
                assert (frames[0].width, frames[0].height) == (320, 240)
        # Not one decoder was created in this process: not by the server's
        # receivers, nor by the peers' (which receive encoded too).
        assert decoder_creations() == decoders_before
        total_tracks = sum(len(p.tracks) for p in room.participants.values())
        assert total_tracks == 10
    finally:
        await room.close()
        for peer in peers:
            await peer.close()


async def test_room_of_9_every_participant_receives_every_other():
    """Nine real aiortc peers in one room: each of the 72 (receiver, publisher) pairs gets the
    publisher's own pictures and sound. Each publisher sends a width of its own, so a frame
    decoded from a pair names the publisher it came from (a mixed-up forwarding would show).
    Small pictures at 10 fps keep nine live encoders light on a loaded 2-core machine."""
    widths = {f"n{i}": 160 + 16 * i for i in range(9)}
    room = MediaRoom("meeting-9")
    go = asyncio.Event()
    peers = [ClientParticipant(pid, keep_video=8,
                               camera=GatedTrack(SyntheticCameraTrack(width, 96, 10, seed=i), go),
                               microphone=GatedTrack(ToneMicrophoneTrack(300.0 + 50 * i), go))
             for i, (pid, width) in enumerate(widths.items())]
    try:
        await join_everyone(room, peers)
        assert sorted(room.publishers()) == sorted(widths)
        connections = [p.publish_connection for p in peers] + [r.connection for p in peers for r in p.receptions.values()]
        connections += [pc for p in room.participants.values() for pc in [p.publish_connection, *p.subscriptions.values()]]
        assert len(connections) == 2 * (9 + 72)
        await wait_for(lambda: all(pc.connectionState == "connected" for pc in connections), 60,
                       "the room's 162 connections to connect")
        go.set()

        def pairs_missing() -> list[tuple[str, str]]:
            return [(peer.participant_id, publisher)
                    for peer in peers for publisher in widths if publisher != peer.participant_id
                    if publisher not in peer.receptions
                    or len(peer.receptions[publisher].video_packets) < 8
                    or peer.receptions[publisher].packets["audio"] < 25]

        missing: list = []

        def everyone_has_everyone() -> bool:
            missing[:] = pairs_missing()
            return not missing

        try:
            await wait_for(everyone_has_everyone, 60, "all 72 pairs to receive video and audio")
        except AssertionError as error:
            counts = {(r, p): (peer.receptions[p].packets, peer.receptions[p].connection.connectionState)
                      if p in peer.receptions else None
                      for peer in peers for r, p in missing if r == peer.participant_id}
            raise AssertionError(f"{error}; pairs (receiver, publisher) still missing: {counts}") from None
        for peer in peers:
            assert set(peer.receptions) == set(widths) - {peer.participant_id}
            for publisher, reception in peer.receptions.items():
                frames = decode_vp8(reception.video_packets)
                assert len(frames) == len(reception.video_packets), (peer.participant_id, publisher)
                assert {(f.width, f.height) for f in frames} == {(widths[publisher], 96)}, (peer.participant_id, publisher)
                assert reception.packets["audio"] >= 25
        # 9 publishers x (audio + video) in the server, 72 subscriptions, nothing decoded.
        assert sum(len(p.tracks) for p in room.participants.values()) == 18
        assert sum(len(p.subscriptions) for p in room.participants.values()) == 72
    finally:
        await room.close()
        for peer in peers:
            await peer.close()


async def test_decoder_counter_counts_plain_aiortc_receivers():
    """Control for the test above: an ordinary aiortc receiver is counted."""
    before = decoder_creations()
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    camera = SyntheticCameraTrack(frame_limit=None)
    sender.addTrack(camera)
    frames = []

    @receiver.on("track")
    def on_track(track):
        async def read():
            while True:
                frames.append(await track.recv())

        asyncio.ensure_future(read())

    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        await wait_for(lambda: len(frames) >= 3, 10, "decoded frames")
        assert decoder_creations() > before
    finally:
        await sender.close()
        await receiver.close()


async def test_removed_participant_connections_are_closed():
    room = MediaRoom("meeting-remove")
    peers = [ClientParticipant(f"r{i}", seed=i) for i in range(3)]
    try:
        await join_everyone(room, peers)
        leaving, staying = peers[0], peers[1:]
        await wait_for(
            lambda: all(r.packets["video"] > 5 for p in staying for r in p.receptions.values()),
            15,
            "media to flow",
        )
        server_side = [room.participant("r0").publish_connection]
        server_side += list(room.participant("r0").subscriptions.values())
        server_side += [p.subscriptions["r0"] for p in room.participants.values() if p.participant_id != "r0"]
        assert len(server_side) == 1 + 2 + 2

        await room.remove("r0")

        assert all(pc.connectionState == "closed" for pc in server_side)
        assert "r0" not in room.participants
        assert all("r0" not in p.subscriptions for p in room.participants.values())
        assert room.publishers() == ["r1", "r2"]
        # The leaver's own connection sees the server hang up (DTLS close).
        await wait_for(
            lambda: leaving.publish_connection.connectionState in ("closed", "failed"),
            10,
            "the removed participant's publish connection to close",
        )
        counts = [p.receptions["r0"].packets["video"] for p in staying]
        await asyncio.sleep(0.7)
        assert [p.receptions["r0"].packets["video"] for p in staying] == counts
        # The others still see each other.
        before = peers[1].receptions["r2"].packets["video"]
        await wait_for(lambda: peers[1].receptions["r2"].packets["video"] > before, 10, "r1 to keep receiving r2")
        with pytest.raises(KeyError, match="no participant 'r0'"):
            await room.subscribe("r1", "r0", await peers[1].subscribe_offer("r0"))
    finally:
        await room.close()
        for peer in peers:
            await peer.close()


async def test_subscriber_keyframe_request_reaches_publisher():
    room = MediaRoom("meeting-pli")
    alice, bob = ClientParticipant("alice"), ClientParticipant("bob", seed=1)
    try:
        await join_everyone(room, [alice, bob])
        await wait_for(lambda: alice.receptions["bob"].packets["video"] > 3, 10, "video")
        publisher_receiver = room.participant("bob").tracks["video"].receiver
        server_sender = next(
            t.sender
            for t in room.participant("alice").subscriptions["bob"].getTransceivers()
            if t.kind == "video"
        )
        requests_before = publisher_receiver.keyframe_requests_sent
        received_before = server_sender.keyframe_requests_received
        keyframes_before = sum(
            is_vp8_keyframe(bytes(p)) for p in alice.receptions["bob"].video_packets
        )
        alice.receptions["bob"].keep_video = 10_000
        await asyncio.sleep(publisher_receiver.keyframe_request_interval)
        # Alice's receiver reports picture loss, as a browser does after loss.
        alice_receiver = next(
            t.receiver
            for t in alice.receptions["bob"].connection.getTransceivers()
            if t.kind == "video"
        )
        ssrc = alice_receiver.getSynchronizationSources()[0].source
        await alice_receiver._send_rtcp_pli(ssrc)
        await wait_for(
            lambda: server_sender.keyframe_requests_received > received_before,
            5,
            "the server's sender to get the PLI",
        )
        assert publisher_receiver.keyframe_requests_sent > requests_before
        await wait_for(
            lambda: sum(is_vp8_keyframe(bytes(p)) for p in alice.receptions["bob"].video_packets)
            > keyframes_before,
            5,
            "a new key frame from the publisher",
        )
    finally:
        await room.close()
        await alice.close()
        await bob.close()


async def test_offer_without_vp8_is_refused():
    room = MediaRoom("meeting-h264")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver(SyntheticCameraTrack(), direction="sendonly")
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
        )
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(OfferError, match="VP8"):
            await room.publish("h", pc.localDescription)
        assert room.participants == {}
        with pytest.raises(OfferError, match="offer"):
            await room.publish("h", pc.localDescription.__class__(sdp="v=0", type="answer"))
    finally:
        await pc.close()
        await room.close()


async def test_encoded_peer_connection_yields_packets_not_frames():
    room = MediaRoom("meeting-packets")
    alice, bob = ClientParticipant("a", keep_video=5), ClientParticipant("b", seed=1)
    try:
        await join_everyone(room, [alice, bob])
        await wait_for(lambda: len(alice.receptions["b"].video_packets) >= 5, 10, "packets")
        assert isinstance(alice.receptions["b"].connection, EncodedPeerConnection)
        packet = alice.receptions["b"].video_packets[0]
        assert packet.time_base.denominator == 90000 and packet.pts is not None
    finally:
        await room.close()
        await alice.close()
        await bob.close()


async def test_unrecoverable_packet_loss_does_not_freeze_video():
    room = MediaRoom("meeting-loss")
    alice = ClientParticipant("alice", keep_video=100_000)
    bob = ClientParticipant("bob", seed=1)
    try:
        await join_everyone(room, [alice, bob])
        received = alice.receptions["bob"].video_packets
        await wait_for(lambda: len(received) >= 10, 10, "video")
        receiver = room.participant("bob").tracks["video"].receiver
        buffer = receiver._RTCRtpReceiver__jitter_buffer
        add = buffer.add
        lost: set[int] = set()

        def lossy_add(packet):
            # Fault injection: the next five packets never arrive, not even
            # when retransmitted after a NACK (this sits after RTX unwrapping).
            if not lost:
                lost.update((packet.sequence_number + i) % 65536 for i in range(1, 6))
            if packet.sequence_number in lost:
                return False, None
            return add(packet)

        buffer.add = lossy_add
        before = len(received)
        await wait_for(lambda: receiver.stalls_recovered >= 1, 5, "the stall to be detected")
        await wait_for(lambda: len(received) > before + 10, 5, "video to resume")
        step = 90000 // 15
        gaps = [i for i in range(before, len(received)) if received[i].pts - received[i - 1].pts > 2 * step]
        assert gaps, "the injected loss should leave a gap"
        assert is_vp8_keyframe(bytes(received[gaps[0]])), "video resumes at a key frame"
        assert decode_vp8(received[gaps[0]:])  # and decodes from there
    finally:
        await room.close()
        await alice.close()
        await bob.close()
