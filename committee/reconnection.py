"""Reconnection: when a participant's media path is dead, and how the room notices it.

A rural branch's link loses packets and, under load, ICE consent checks time out: aioice then
closes the connection (``Consent to send expired``) while the Socket.IO link stays up. Nobody
would know; the tiles freeze and the recording ends. So every media path of a room is watched,
and a dead one is declared as such:

* its peer connection is ``failed``;
* it is ``disconnected`` for longer than ``disconnected_grace`` (a short glitch recovers by
  itself; a longer one does not, and aiortc would wait ~30 s for consent to expire);
* it is ``closed`` without the room having closed it (consent expiry closes it);
* a publisher's packets stopped for ``packet_timeout`` seconds while ICE still claims to be
  connected (consent is asked only every ~5 s and given up after 6 failures).

aiortc has no ICE restart (#211), so recovery is a *fresh* peer connection negotiated again
through signaling, on the same seat: the room closes the dead one (``MediaRoom.media_lost``),
its recording segment ends, and the participant's next publish starts a new segment of the
same person's track. Whether the participant may come back is decided by the same rules as
joining (their join token checked again: an officer cut off after deliberation began stays
out).

The browser watches its side the same way (``web/static/committee.js``), with the same
settings, sent to the page by :meth:`ReconnectPolicy.for_page`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from .sfu import MediaRoom, Participant

logger = logging.getLogger(__name__)

GRACE_VARIABLE = "LOANCTL_MEDIA_DISCONNECTED_GRACE"
PACKET_TIMEOUT_VARIABLE = "LOANCTL_MEDIA_PACKET_TIMEOUT"


@dataclass(frozen=True)
class ReconnectPolicy:
    """How long a media path may be silent or ``disconnected`` before it counts as dead."""

    disconnected_grace: float = 3.0
    packet_timeout: float = 5.0
    check_interval: float = 0.5

    def __post_init__(self) -> None:
        for name in ("disconnected_grace", "packet_timeout", "check_interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 600:
                raise ValueError(f"{name} must be a number of seconds in (0, 600], got {value!r}")
        if self.check_interval > min(self.disconnected_grace, self.packet_timeout):
            raise ValueError("check_interval must not exceed the grace nor the packet timeout")

    @classmethod
    def from_env(cls, env: Optional[dict[str, str]] = None) -> "ReconnectPolicy":
        """``LOANCTL_MEDIA_DISCONNECTED_GRACE`` and ``LOANCTL_MEDIA_PACKET_TIMEOUT`` (seconds)."""
        env = os.environ if env is None else env
        values = {}
        for name, variable in (("disconnected_grace", GRACE_VARIABLE),
                               ("packet_timeout", PACKET_TIMEOUT_VARIABLE)):
            text = env.get(variable, "").strip()
            if not text:
                continue
            try:
                values[name] = float(text)
            except ValueError:
                raise ValueError(f"{variable} must be a number of seconds, got {text!r}") from None
        base = cls()
        interval = min(base.check_interval, *values.values()) if values else base.check_interval
        return cls(check_interval=interval, **values)

    def for_page(self) -> dict[str, int]:
        """The same limits for the room page's own watchdog (milliseconds)."""
        return {"grace_ms": int(self.disconnected_grace * 1000), "stall_ms": int(self.packet_timeout * 1000)}


class PathWatch:
    """The liveness of one peer connection, judged at each check."""

    def __init__(self, connection, policy: ReconnectPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self.policy = policy
        self.clock = clock
        self.since = clock()
        self.disconnected_since: Optional[float] = None

    def verdict(self, last_packet: Optional[float] = None, *, expects_packets: bool = False) -> Optional[str]:
        """Why this path is dead, or None while it lives. ``last_packet`` (same clock) is when a
        publisher's last packet arrived; a publish path that is connected but silent for
        ``packet_timeout`` is dead."""
        now = self.clock()
        state = self.connection.connectionState
        ice = getattr(self.connection, "iceConnectionState", state)
        if state == "failed" or ice == "failed":
            return "ice-failed"
        if state == "closed" or ice == "closed":
            return "closed"
        if state == "disconnected" or ice == "disconnected":
            if self.disconnected_since is None:
                self.disconnected_since = now
            if now - self.disconnected_since >= self.policy.disconnected_grace:
                return "ice-disconnected"
        else:
            self.disconnected_since = None
        if expects_packets and state == "connected":
            quiet_since = max(self.since, last_packet) if last_packet is not None else self.since
            if now - quiet_since >= self.policy.packet_timeout:
                return "no-packets"
        return None


class LivenessMonitor:
    """Checks every media path of one room each ``check_interval`` and tells the room which
    died: a publish path (``room.media_lost``) or one subscription (``room.subscription_lost``)."""

    def __init__(self, room: "MediaRoom", policy: ReconnectPolicy,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.room = room
        self.policy = policy
        self.clock = clock
        self._watches: dict[int, PathWatch] = {}
        self._task: Optional[asyncio.Task] = None

    def watch(self, connection) -> PathWatch:
        watch = self._watches.get(id(connection))
        if watch is None or watch.connection is not connection:
            watch = self._watches[id(connection)] = PathWatch(connection, self.policy, self.clock)
        return watch

    def forget(self, connection) -> None:
        watch = self._watches.get(id(connection))
        if watch is not None and watch.connection is connection:
            del self._watches[id(connection)]

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._watches.clear()

    async def _run(self) -> None:
        previous = self.clock()
        while True:
            await asyncio.sleep(self.policy.check_interval)
            now = self.clock()
            # Woken late: this process was stalled (a loaded machine), not the network; the
            # packets that arrived meanwhile are still queued behind us. Judge next round.
            late = now - previous - self.policy.check_interval > self.policy.check_interval
            previous = now
            if late:
                continue
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad check must not end the watching
                logger.exception("liveness check of room %s", self.room.room_id)

    def _last_packet(self, participant: "Participant") -> Optional[float]:
        times = [t.last_packet_at for t in participant.tracks.values() if t.last_packet_at is not None]
        return max(times) if times else None

    async def check_once(self) -> list[tuple[str, Optional[str], str]]:
        """One round; returns what was found dead: (participant, publisher or None, reason)."""
        dead: list[tuple[str, Optional[str], str]] = []
        for participant in list(self.room.participants.values()):
            pc = participant.publish_connection
            if pc is not None and participant.tracks:
                reason = self.watch(pc).verdict(self._last_packet(participant), expects_packets=True)
                if reason is not None:
                    dead.append((participant.participant_id, None, reason))
                    continue  # its subscriptions go with it
            for publisher_id, subscription in list(participant.subscriptions.items()):
                reason = self.watch(subscription).verdict()
                if reason is not None:
                    dead.append((participant.participant_id, publisher_id, reason))
        for participant_id, publisher_id, reason in dead:
            if publisher_id is None:
                await self.room.media_lost(participant_id, reason)
            else:
                await self.room.subscription_lost(participant_id, publisher_id, reason)
        return dead
