"""Committee SFU: server CPU per forwarded stream and per room, delivered frame rate.

    python bench/committee.py                 # full run, about 3 minutes
    python bench/committee.py --quick         # shorter windows, fewer scenarios
    python bench/committee.py --json out.json
    python bench/committee.py --only "room of 9"
    python bench/committee.py --only "room of"   # rooms of 3, 5, 7, 9, three rooms of 9 at once


Every scenario starts a fresh server process (``--serve``) holding one
:class:`committee.sfu.MediaRoom` (encoded forwarding; three of them, each with its own
nine participants, for "room of 9, three rooms at once": three meetings on one server), or,
as the baseline, a room built on aiortc's ``MediaRelay`` (each receiver gets decoded frames that
its sender encodes again). Participants are aiortc peers in this process on
127.0.0.1, sending 640x480 15 fps VP8 video (about 500 kbit/s, a key frame
every second) and 48 kHz Opus audio, looped from clips encoded once so that the
participants' process stays light; they receive without decoding (encoded
receivers), so their frame counts are the frames the server delivered. Media
starts once every connection is up. "core" is the server process's CPU seconds
per second of wall time over the measurement window (all its threads). "UDP
buffer drops" counts datagrams the kernel dropped machine-wide for full socket
buffers during the window: when it is not 0, the processes were starved of CPU
(e.g. by other work on the machine) and the delivered frame rate shows that, not
the server's limit.

"Per copy" is the server's core divided by the copies it forwards: a copy is one publisher's
audio and video delivered to one receiver (a room of n forwards n(n-1)). The baseline is the
MediaRelay room of 3 of the same run: "relay / forwarding per copy" says how many times more
a decode-and-re-encode server pays for each copy. "per copy at 15 fps" scales by the frame
rate actually delivered, so a starved run does not look cheaper than it is.

Environment: ``BENCH_PROFILE=file`` writes a cProfile of each server process
(the last one wins); ``BENCH_DEBUG=1`` prints the server's counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "committee"))

from committee_loopback import use_loopback_host_candidates  # noqa: E402

use_loopback_host_candidates()

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402

from committee.encodedreceiver import decoder_creations  # noqa: E402
from committee.recorder import RoomRecorder  # noqa: E402
from committee.sfu import (  # noqa: E402
    MEDIA_KINDS,
    MediaRoom,
    check_offer,
    codec_preferences,
    ice_configuration,
)
from committee_peers import ClientParticipant  # noqa: E402

WIDTH, HEIGHT, FPS = 640, 480, 15
VIDEO_BITRATE = 500_000  # aiortc's VP8 default


# -- publishers that do not encode ------------------------------------------
#
# Nine live VP8 encoders at 640x480 would saturate this process (and a 2-core
# machine) long before the server. Each publisher instead loops a clip encoded
# once at start-up (key frame every second), which aiortc's sender packetizes
# without encoding, exactly as it sends what the server forwards.


@dataclass
class EncodedClip:
    payloads: list[bytes]
    ticks_per_frame: int
    clock_rate: int
    keyframes: int


def encode_video_clip(seconds: float = 4.0) -> EncodedClip:
    import fractions

    import av
    import numpy as np

    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.bit_rate = VIDEO_BITRATE
    encoder.gop_size = FPS
    encoder.time_base = fractions.Fraction(1, FPS)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                       "minrate": str(VIDEO_BITRATE), "maxrate": str(VIDEO_BITRATE)}
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 40, (HEIGHT, WIDTH), dtype=np.uint8)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    payloads: list[bytes] = []
    for index in range(int(seconds * FPS)):
        luma = ((x + y + index * 6) % 216 + noise).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(luma, format="gray").reformat(format="yuv420p")
        frame.pts = index
        payloads.extend(bytes(p) for p in encoder.encode(frame))
    payloads.extend(bytes(p) for p in encoder.encode(None))
    keyframes = sum(1 for p in payloads if not p[0] & 1)
    return EncodedClip(payloads, 90000 // FPS, 90000, keyframes)


def encode_audio_clip(seconds: float = 1.0) -> EncodedClip:
    import fractions

    import av
    import numpy as np

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.bit_rate = 64000
    encoder.time_base = fractions.Fraction(1, 48000)
    payloads: list[bytes] = []
    for index in range(int(seconds * 50)):
        t = np.arange(index * 960, (index + 1) * 960) / 48000
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, index * 960
        payloads.extend(bytes(p) for p in encoder.encode(frame))
    return EncodedClip(payloads, 960, 48000, len(payloads))


class LoopedClipTrack(MediaStreamTrack):
    """Sends a pre-encoded clip in a loop, paced in real time, as ``av.Packet``."""

    def __init__(self, kind: str, clip: EncodedClip, rate: float, go: asyncio.Event) -> None:
        super().__init__()
        self.kind = kind
        self.go = go
        self.clip = clip
        self.rate = rate
        self.frames_sent = 0
        self._start: Optional[float] = None

    async def recv(self):
        import fractions

        import av

        if self._start is None:
            # Media starts once every connection is up, so the set-up bursts
            # (DTLS handshakes) do not overflow socket buffers mid-stream.
            await self.go.wait()
            self._start = time.monotonic()
        delay = self._start + self.frames_sent / self.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -2 / self.rate:
            # Late (this process was descheduled): carry on from now like a
            # camera would, instead of sending the missed frames in one burst.
            self._start -= delay
        payload = self.clip.payloads[self.frames_sent % len(self.clip.payloads)]
        packet = av.Packet(payload)
        packet.pts = self.frames_sent * self.clip.ticks_per_frame
        packet.time_base = fractions.Fraction(1, self.clip.clock_rate)
        self.frames_sent += 1
        return packet


# -- baseline: aiortc's MediaRelay (decode once, encode per receiver) ---------


class RelayRoom:
    """The decode-and-re-encode baseline, with MediaRoom's publish/subscribe."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.tracks: dict[str, dict] = {}
        self.connections: list[RTCPeerConnection] = []

    async def join(self, participant_id: str, **_: str) -> None:
        self.tracks.setdefault(participant_id, {})

    async def publish(self, participant_id: str, offer: RTCSessionDescription, **_: str):
        check_offer(offer, MEDIA_KINDS)
        pc = RTCPeerConnection(ice_configuration())
        for kind in MEDIA_KINDS:
            pc.addTransceiver(kind, direction="recvonly").setCodecPreferences(codec_preferences(kind))
        await pc.setRemoteDescription(offer)
        self.tracks[participant_id] = {
            t.kind: t.receiver.track for t in pc.getTransceivers() if t.receiver.track
        }
        await pc.setLocalDescription(await pc.createAnswer())
        self.connections.append(pc)
        return pc.localDescription

    async def subscribe(self, subscriber_id: str, publisher_id: str, offer: RTCSessionDescription):
        pc = RTCPeerConnection(ice_configuration())
        for kind, track in self.tracks[publisher_id].items():
            transceiver = pc.addTransceiver(self.relay.subscribe(track), direction="sendonly")
            transceiver.setCodecPreferences(codec_preferences(kind))
        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        self.connections.append(pc)
        return pc.localDescription

    async def close(self) -> None:
        for pc in self.connections:
            await pc.close()


# -- server process -----------------------------------------------------------


def serve(port: int, mode: str, record: Optional[str]) -> None:
    async def main() -> None:
        rooms: dict[str, object] = {}
        recorder = None

        def room_of(data: dict):
            """The room a request names (one per meeting; made on first use)."""
            nonlocal recorder
            name = str(data.get("room", "0"))
            if name not in rooms:
                rooms[name] = RelayRoom() if mode == "relay" else MediaRoom(f"bench-{name}")
                if record and recorder is None:
                    recorder = RoomRecorder(Path(record), "bench")
                    rooms[name].observers.append(recorder)
            return rooms[name]

        async def publish(request: web.Request) -> web.Response:
            data = await request.json()
            answer = await room_of(data).publish(data["id"], RTCSessionDescription(data["sdp"], "offer"))
            return web.json_response({"sdp": answer.sdp, "type": answer.type})

        async def join(request: web.Request) -> web.Response:
            data = await request.json()
            await room_of(data).join(data["id"])
            return web.json_response({})

        async def subscribe(request: web.Request) -> web.Response:
            data = await request.json()
            answer = await room_of(data).subscribe(
                data["id"], data["publisher"], RTCSessionDescription(data["sdp"], "offer")
            )
            return web.json_response({"sdp": answer.sdp, "type": answer.type})

        async def stats(request: web.Request) -> web.Response:
            return web.json_response(
                {
                    "cpu": time.process_time(),
                    "wall": time.monotonic(),
                    "decoders": decoder_creations(),
                    "recording_cpu": recorder.cpu_seconds if recorder else 0.0,
                    "recorded_tracks": len(recorder.recordings) if recorder else 0,
                    "received_frames": {
                        f"{p.participant_id}/{kind}": t.packets
                        for room in rooms.values()
                        for p in getattr(room, "participants", {}).values()
                        for kind, t in p.tracks.items()
                    },
                    "dropped": sum(
                        f.packets_dropped
                        for room in rooms.values()
                        for p in getattr(room, "participants", {}).values()
                        for t in p.tracks.values()
                        for f in t._subscribers
                    ),
                }
            )

        app = web.Application()
        app.router.add_post("/publish", publish)
        app.router.add_post("/join", join)
        app.router.add_post("/subscribe", subscribe)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    profile_path = os.environ.get("BENCH_PROFILE")
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(main())
        profiler.disable()
        profiler.dump_stats(profile_path)
    else:
        asyncio.run(main())


# -- client side --------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    mode: str
    publishers: int
    receivers_per_stream: int
    streams_forwarded: int
    server_core: float
    client_core: float
    delivered_fps_mean: float
    delivered_fps_min: float
    server_decoders: int
    sent_fps_mean: float
    udp_buffer_overflows: int
    recording_core_per_track: Optional[float] = None
    rooms: int = 1
    copies: int = 0  # (publisher, receiver) pairs forwarded: audio + video each
    core_per_copy: float = 0.0
    core_per_copy_at_15fps: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, mode: str, record: Optional[str]) -> None:
        self.port = free_port()
        args = [sys.executable, __file__, "--serve", str(self.port), "--mode", mode]
        if record:
            args += ["--record", record]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("the bench server did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def udp_receive_buffer_errors() -> int:
    """Datagrams the kernel dropped for full socket buffers (machine-wide)."""
    try:
        lines = Path("/proc/net/snmp").read_text().splitlines()
    except OSError:
        return 0
    header, values = [line.split() for line in lines if line.startswith("Udp:")][:2]
    return int(values[header.index("RcvbufErrors")])


async def wait_connected(people: list[ClientParticipant], timeout: float = 30.0) -> None:
    connections = [p.publish_connection for p in people if p.publish_connection]
    connections += [r.connection for p in people for r in p.receptions.values()]
    deadline = time.monotonic() + timeout
    while any(pc.connectionState != "connected" for pc in connections):
        if time.monotonic() > deadline:
            raise RuntimeError("connections did not all connect")
        await asyncio.sleep(0.05)


async def post(session: aiohttp.ClientSession, url: str, data: dict) -> dict:
    async with session.post(url, json=data) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}: {await response.text()}")
        return await response.json()


async def run_scenario(
    clips: tuple[EncodedClip, EncodedClip],
    name: str,
    mode: str,
    publishers: int,
    extra_receivers: int,
    warmup: float,
    window: float,
    record: bool = False,
    rooms: int = 1,
) -> Result:
    """``publishers`` participants send and receive all others; ``extra_receivers``
    participants only receive (to measure one stream fanned out). With ``rooms`` > 1, as many
    such rooms run at once on the one server."""
    recording_dir = tempfile.mkdtemp(prefix="bench-committee-") if record else None
    server = Server(mode, recording_dir)
    video_clip, audio_clip = clips
    go = asyncio.Event()
    # room -> its senders and watchers
    groups = {
        room: (
            [
                ClientParticipant(
                    f"r{room}p{i}",
                    camera=LoopedClipTrack("video", video_clip, FPS, go),
                    microphone=LoopedClipTrack("audio", audio_clip, 50, go),
                )
                for i in range(publishers)
            ],
            [ClientParticipant(f"r{room}w{i}") for i in range(extra_receivers)],
        )
        for room in range(rooms)
    }
    senders = [p for group, _ in groups.values() for p in group]
    watchers = [p for _, group in groups.values() for p in group]
    try:
        async with aiohttp.ClientSession() as session:
            for room, (room_senders, room_watchers) in groups.items():
                for person in room_senders:
                    offer = await person.publish_offer()
                    answer = await post(session, server.url + "/publish",
                                        {"room": room, "id": person.participant_id, "sdp": offer.sdp})
                    await person.publish_answer(RTCSessionDescription(**answer))
                for person in room_watchers:
                    await post(session, server.url + "/join", {"room": room, "id": person.participant_id})
                for person in room_senders + room_watchers:
                    for publisher in room_senders:
                        if publisher is person:
                            continue
                        offer = await person.subscribe_offer(publisher.participant_id)
                        answer = await post(
                            session,
                            server.url + "/subscribe",
                            {"room": room, "id": person.participant_id, "publisher": publisher.participant_id,
                             "sdp": offer.sdp},
                        )
                        await person.subscribe_answer(publisher.participant_id, RTCSessionDescription(**answer))
            await wait_connected(senders + watchers, timeout=60.0 * rooms)
            go.set()
            await asyncio.sleep(warmup)
            receptions = [r for p in senders + watchers for r in p.receptions.values()]
            before = [r.packets["video"] for r in receptions]
            overflows = udp_receive_buffer_errors()
            sent_before = [p.camera.frames_sent for p in senders]
            async with session.get(server.url + "/stats") as response:
                start = await response.json()
            client_cpu = time.process_time()
            await asyncio.sleep(window)
            async with session.get(server.url + "/stats") as response:
                end = await response.json()
            client_cpu = time.process_time() - client_cpu
            after = [r.packets["video"] for r in receptions]
            overflows = udp_receive_buffer_errors() - overflows
            if os.environ.get("BENCH_DEBUG"):
                print(json.dumps({"start": start, "end": end}), flush=True)
            sent_after = [p.camera.frames_sent for p in senders]
        elapsed = end["wall"] - start["wall"]
        rates = [(a - b) / elapsed for a, b in zip(after, before)] or [0.0]
        sent = [(a - b) / elapsed for a, b in zip(sent_after, sent_before)]
        recording_core = None
        if record and end["recorded_tracks"]:
            recording_core = round(
                (end["recording_cpu"] - start["recording_cpu"]) / elapsed / end["recorded_tracks"], 4
            )
        server_core = (end["cpu"] - start["cpu"]) / elapsed
        delivered = sum(rates) / len(rates)
        per_copy = server_core / len(receptions) if receptions else 0.0
        return Result(
            rooms=rooms,
            copies=len(receptions),
            core_per_copy=round(per_copy, 5),
            core_per_copy_at_15fps=round(per_copy * FPS / delivered, 5) if delivered > 0 else 0.0,
            scenario=name,
            mode=mode,
            publishers=publishers,
            receivers_per_stream=publishers - 1 + extra_receivers,
            streams_forwarded=len(receptions) * 2,
            server_core=round(server_core, 3),
            client_core=round(client_cpu / elapsed, 3),
            delivered_fps_mean=round(sum(rates) / len(rates), 2),
            delivered_fps_min=round(min(rates), 2),
            server_decoders=end["decoders"],
            sent_fps_mean=round(sum(sent) / len(sent), 2),
            udp_buffer_overflows=overflows,
            recording_core_per_track=recording_core,
        )
    finally:
        for person in senders + watchers:
            await person.close()
        server.stop()


def scenarios(quick: bool) -> list[tuple]:
    # (name, mode, publishers, extra receivers, record[, rooms at once])
    one_stream = [
        ("1 stream -> 1 receiver", "forward", 1, 1, False),
        ("1 stream -> 4 receivers", "forward", 1, 4, False),
        ("1 stream -> 8 receivers", "forward", 1, 8, False),
        ("1 stream -> 1 receiver", "relay", 1, 1, False),
        ("1 stream -> 4 receivers", "relay", 1, 4, False),
    ]
    rooms = [(f"room of {n}", "forward", n, 0, False) for n in (3, 5, 7, 9)]
    baseline_rooms = [("room of 3", "relay", 3, 0, False)]
    recording = [("room of 5, recorded", "forward", 5, 0, True)]
    rooms += [("room of 9, three rooms at once", "forward", 9, 0, False, 3)]
    if quick:
        return one_stream[1:2] + one_stream[4:5] + rooms[:2] + recording
    return one_stream + rooms + baseline_rooms + recording


def markdown(results: list[Result]) -> str:
    lines = [
        "| scenario | server | server core | copies | core per copy | per copy at 15 fps | relay / forwarding per copy "
        "| sent fps | delivered fps mean / min | decoders in server | client core | UDP buffer drops |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    baseline = relay_baseline(results)
    for r in results:
        server = "MediaRelay (decode + re-encode)" if r.mode == "relay" else "encoded forwarding"
        ratio = (f"{baseline.core_per_copy_at_15fps / r.core_per_copy_at_15fps:.1f}x"
                 if baseline and r.mode == "forward" and r.core_per_copy_at_15fps > 0 else "—")
        lines.append(
            f"| {r.scenario} | {server} | {r.server_core:.3f} | {r.copies} | {r.core_per_copy:.4f} | "
            f"{r.core_per_copy_at_15fps:.4f} | {ratio} | {r.sent_fps_mean:.1f} | "
            f"{r.delivered_fps_mean:.1f} / {r.delivered_fps_min:.1f} | {r.server_decoders} | {r.client_core:.2f} | "
            f"{r.udp_buffer_overflows} |"
        )
    return "\n".join(lines)


def relay_baseline(results: list[Result]) -> Optional[Result]:
    """The per-copy baseline: the MediaRelay room of 3 of this run (a full mesh, as the rooms)."""
    return next((r for r in results if r.scenario == "room of 3" and r.mode == "relay"), None)


def ratios(results: list[Result]) -> list[str]:
    notes = []
    by_key = {(r.scenario, r.mode): r for r in results}
    for scenario in ("1 stream -> 1 receiver", "1 stream -> 4 receivers", "room of 3"):
        fwd, rel = by_key.get((scenario, "forward")), by_key.get((scenario, "relay"))
        if fwd and rel and fwd.server_core > 0:
            notes.append(f"{scenario}: MediaRelay / forwarding server CPU = {rel.server_core / fwd.server_core:.1f}x")
    one, four = by_key.get(("1 stream -> 1 receiver", "forward")), by_key.get(("1 stream -> 4 receivers", "forward"))
    if one and four:
        notes.append(f"forwarding, per extra receiver of one stream: {(four.server_core - one.server_core) / 3:.4f} core")
    rone, rfour = by_key.get(("1 stream -> 1 receiver", "relay")), by_key.get(("1 stream -> 4 receivers", "relay"))
    if rone and rfour:
        notes.append(f"MediaRelay, per extra receiver of one stream: {(rfour.server_core - rone.server_core) / 3:.4f} core")
    baseline = relay_baseline(results)
    for r in results:
        if r.mode == "forward" and r.copies > 1 and baseline and r.core_per_copy_at_15fps > 0:
            notes.append(f"{r.scenario}: {r.core_per_copy_at_15fps:.4f} core per copy at 15 fps forwarded, "
                         f"{baseline.core_per_copy_at_15fps:.4f} with MediaRelay (room of 3): "
                         f"{baseline.core_per_copy_at_15fps / r.core_per_copy_at_15fps:.1f}x")
    nine, three_nines = by_key.get(("room of 9", "forward")), by_key.get(("room of 9, three rooms at once", "forward"))
    if nine and three_nines and nine.core_per_copy_at_15fps > 0:
        notes.append(f"three rooms of 9 at once / one room of 9, per copy at 15 fps: "
                     f"{three_nines.core_per_copy_at_15fps / nine.core_per_copy_at_15fps:.2f}")
    recorded = by_key.get(("room of 5, recorded", "forward"))
    if recorded and recorded.recording_core_per_track is not None:
        notes.append(
            f"recording (muxing packets into WebM, measured on the writing thread): "
            f"{recorded.recording_core_per_track:.4f} core per track"
        )
    return notes


async def bench(quick: bool, json_path: Optional[str], only: Optional[str] = None) -> None:
    warmup, window = (3.0, 5.0) if quick else (4.0, 8.0)
    results = []
    started = time.monotonic()
    clips = (encode_video_clip(), encode_audio_clip())
    video_kbps = sum(len(p) for p in clips[0].payloads) * 8 / (len(clips[0].payloads) / FPS) / 1000
    print(f"clip: {len(clips[0].payloads)} VP8 frames, {clips[0].keyframes} key frames, "
          f"{video_kbps:.0f} kbit/s", flush=True)
    for name, mode, publishers, extra, record, *at_once in scenarios(quick):
        if only and only not in f"{name} [{mode}]":
            continue
        result = await run_scenario(clips, name, mode, publishers, extra, warmup, window, record,
                                    rooms=at_once[0] if at_once else 1)
        print(f"  {name} [{mode}]: server {result.server_core:.3f} core, "
              f"{result.delivered_fps_mean:.1f} fps (min {result.delivered_fps_min:.1f})", flush=True)
        results.append(result)
    print()
    print(f"Committee SFU, {WIDTH}x{HEIGHT} {FPS} fps VP8 + Opus, aiortc peers on 127.0.0.1, "
          f"{os.cpu_count()} cores, window {window:.0f} s, total {time.monotonic() - started:.0f} s")
    print()
    print(markdown(results))
    print()
    for note in ratios(results):
        print("-", note)
    if json_path:
        Path(json_path).write_text(json.dumps([asdict(r) for r in results], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--only", help="run the scenarios whose 'name [mode]' contains this text")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="forward", choices=["forward", "relay"], help=argparse.SUPPRESS)
    parser.add_argument("--record", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.mode, args.record)
    else:
        asyncio.run(bench(args.quick, args.json, args.only))


if __name__ == "__main__":
    main()
