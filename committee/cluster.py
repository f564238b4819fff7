"""Several committee nodes side by side: Socket.IO through Redis, each meeting's media on one.

Off unless ``LOANCTL_REDIS_URL`` is set; then:

* the Socket.IO server of every node shares its rooms through python-socketio's
  ``AsyncRedisManager`` (an event emitted to a meeting on one node reaches that meeting's
  sockets on every node);
* each meeting's media room lives on one node, the holder of the meeting's lease in the
  :class:`committee.registry.MediaRegistry`. A participant may connect to any node (behind a
  load balancer): a node that does not hold the meeting refuses the Socket.IO connection with
  ``{"media_node": <url>}`` in the refusal's data and the client connects there; a node that
  finds the lease free takes it. The holder renews its leases every third of the lease; a
  node that dies stops, the lease lapses, and the next participant to (re)join through any
  node moves the meeting there. Its recorder starts a new session folder (a new segment) in
  the shared recordings folder; the meeting's close files every segment.
* a node that finds it lost a lease it thought it held (it was stalled past the lease and
  another node took the meeting) tells its sockets of that meeting ``media_node`` and gives
  the room up; the node that took the meeting also announces ``media_node`` to the meeting's
  sockets on every node through Redis, so a stalled node's clients move even before it runs.

Settings: ``LOANCTL_REDIS_URL`` (``redis://host:port/db``), ``LOANCTL_MEDIA_NODE_URL`` (this
node's URL as participants reach it; default ``http(s)://<host>:<port>`` of the node, required
when it listens on every address) and ``LOANCTL_MEDIA_LEASE_SECONDS`` (default 6); and
``LOANCTL_COMMITTEE_ORIGINS``, the origins of the suite's pages allowed to open this node's
Socket.IO (:func:`allowed_origins`; the room page follows ``media_node`` across origins).
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from core.config import Config, web_origin

from .registry import MediaRegistry

if TYPE_CHECKING:
    from .media import CommitteeMedia

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 6.0
SOCKETIO_CHANNEL = "loanctl-committee"


@dataclass(frozen=True)
class ClusterSettings:
    redis_url: str
    node_url: str
    lease_seconds: float = DEFAULT_LEASE_SECONDS


def cluster_settings(config: Config, env: dict[str, str] | None = None) -> ClusterSettings | None:
    """The cluster settings from the environment, or None (one node, in-process Socket.IO)."""
    env = os.environ if env is None else env
    redis_url = env.get("LOANCTL_REDIS_URL", "").strip()
    if not redis_url:
        return None
    node_url = env.get("LOANCTL_MEDIA_NODE_URL", "").strip().rstrip("/")
    if not node_url:
        if config.host in ("", "0.0.0.0", "::"):
            raise ValueError("LOANCTL_MEDIA_NODE_URL is required with LOANCTL_REDIS_URL when the node listens "
                             "on every address: participants are sent to this URL")
        node_url = f"{'https' if config.tls else 'http'}://{config.host}:{config.port}"
    raw = env.get("LOANCTL_MEDIA_LEASE_SECONDS", "").strip() or str(DEFAULT_LEASE_SECONDS)
    try:
        lease = float(raw)
    except ValueError:
        raise ValueError(f"LOANCTL_MEDIA_LEASE_SECONDS must be a number of seconds, got {raw!r}") from None
    if not lease > 0:
        raise ValueError(f"LOANCTL_MEDIA_LEASE_SECONDS must be positive, got {raw!r}")
    return ClusterSettings(redis_url, node_url, lease)


def allowed_origins(config: Config, settings: ClusterSettings | None) -> list[str] | None:
    """The origins whose pages may open this node's Socket.IO (checked on the WebSocket's
    Origin header): the suite's pages (``LOANCTL_COMMITTEE_ORIGINS``) and, on a cluster node,
    the node's own URL. None: only the page's own origin (one node serving its own pages).
    Never '*': a join token is a bearer credential, and any page could otherwise use one."""
    origins = set(config.committee_origins)
    if settings is not None:
        own = web_origin(settings.node_url)
        if own:
            origins.add(own)
    return sorted(origins) or None


def origin_check(config: Config, settings: ClusterSettings | None) -> Callable[[str, dict], bool]:
    """The Socket.IO server's Origin check: the listed origins (:func:`allowed_origins`), or the
    page's own origin (the node serving its own pages, directly over TLS or behind a proxy that
    says ``X-Forwarded-Proto``; python-engineio's own same-origin test assumes plain http)."""
    listed = set(allowed_origins(config, settings) or ())
    scheme = "https" if config.tls else "http"

    def allowed(origin: str, environ: dict) -> bool:
        if origin in listed:
            return True
        host = environ.get("HTTP_HOST")
        schemes = {scheme, environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()}
        return bool(host) and origin in {f"{s}://{host}" for s in schemes}

    return allowed


def socketio_manager(settings: ClusterSettings):
    """The Socket.IO client manager that carries events between the nodes."""
    import socketio

    return socketio.AsyncRedisManager(settings.redis_url, channel=SOCKETIO_CHANNEL)


class CommitteeCluster:
    """This node's part of the cluster: its leases, their renewal, and the placement check
    the signaling asks on every connection."""

    def __init__(self, settings: ClusterSettings, media: "CommitteeMedia") -> None:
        self.settings = settings
        self.media = media
        self.node_url = settings.node_url
        self.held: set[str] = set()
        self.redis = None
        self.registry: MediaRegistry | None = None
        self._renewer: asyncio.Task | None = None

    async def start(self) -> None:
        import redis.asyncio

        self.redis = redis.asyncio.Redis.from_url(self.settings.redis_url, decode_responses=True)
        self.registry = MediaRegistry(self.redis, self.node_url, self.settings.lease_seconds)
        self._renewer = asyncio.create_task(self._renew_forever(), name="committee-media-leases")

    async def stop(self) -> None:
        """Stop renewing and give every lease up at once, so that participants move to another
        node on their next join instead of waiting for the leases to lapse."""
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        if self.registry is not None:
            for meeting_id in list(self.held):
                try:
                    await self.registry.release(meeting_id)
                except Exception:  # Redis gone: the lease lapses by itself
                    logger.warning("could not release the media lease of %s", meeting_id)
            self.held.clear()
        if self.redis is not None:
            await self.redis.aclose()

    async def place(self, meeting_id: str) -> str | None:
        """None if this node serves the meeting's media (taking a free lease), else the URL of
        the node that does."""
        assert self.registry is not None, "the cluster is not started"
        holder, taken = await self.registry.claim(meeting_id)
        if holder != self.node_url:
            return holder
        if taken and meeting_id not in self.held:
            # The meeting moves here: sockets of it still on another node (one that stalled past
            # its lease) are told where to go, through the Redis manager.
            await self.media.signaling.sio.emit("media_node", {"url": self.node_url}, room=meeting_id)
        self.held.add(meeting_id)
        return None

    async def release(self, meeting_id: str) -> None:
        self.held.discard(meeting_id)
        if self.registry is not None:
            await self.registry.release(meeting_id)

    async def renew_once(self) -> dict[str, str]:
        """Renew this node's leases; give up the rooms of those another node took. A lease that
        lapsed with nobody taking it (this node was slow) is taken back."""
        assert self.registry is not None
        lost = await self.registry.renew(sorted(self.held))
        given_up = {}
        for meeting_id, holder in lost.items():
            if not holder:
                holder, _ = await self.registry.claim(meeting_id)
                if holder == self.node_url:
                    continue
            self.held.discard(meeting_id)
            given_up[meeting_id] = holder
            logger.warning("meeting %s moved to media node %s; giving its room up", meeting_id, holder)
            await self.media.give_up(meeting_id, holder)
        return given_up

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await self.renew_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis unreachable for a moment: try again at the next round
                logger.exception("renewing the media leases")
