"""Socket.IO signaling for committee meetings.

A participant connects with a join token in the Socket.IO ``auth`` payload
(``{"token": "..."}``). The token is checked on connect by a pluggable
``verify_join_token(token) -> JoinClaims`` (core signs the tokens; this module
holds no database code). A connection without a valid token is refused. Each
meeting is one Socket.IO room named after the meeting id.

Events, client -> server (offer/answer through acknowledgements):

* ``publish`` ``{"sdp", "type"}`` -> ack ``{"sdp", "type"}`` or ``{"error"}``: the
  participant's camera and microphone (see :mod:`committee.sfu`).
* ``subscribe`` ``{"publisher_id", "sdp", "type"}`` -> ack answer or error: receive
  one other participant.

Server -> client:

* ``participants`` (on connect): the participants already publishing.
* ``published`` ``{"participant_id", "role", "display_name"}``: subscribe to them.
* ``left`` ``{"participant_id"}``: close the subscription to them.
* ``removed`` ``{"reason"}``: sent before the server disconnects a revoked or
  removed participant.
* ``media_node`` ``{"url"}``: (several nodes, :mod:`committee.cluster`) the meeting's
  media moved to the node at ``url``: join again there with a new peer connection. A
  connection to a node that does not serve the meeting is refused with
  ``{"media_node": url}`` as the refusal's data.
* ``reconnect`` ``{"reason"}``: the server found this participant's media path dead
  (:mod:`committee.reconnection`) and closed its connections: publish again on a fresh peer
  connection and subscribe again to everyone (the seat is kept).
* ``participant-state`` ``{"participant_id", "state": "reconnecting"}``: that participant's
  media is gone for now; ``published`` (with ``"reconnected": true``) when it is back.
* ``resubscribe`` ``{"publisher_id"}``: one receiving connection died: subscribe again.

A publish from a participant already seated with media (a reconnect) is checked again with
``readmit(claims)`` (the meeting's rules now: an officer cut off after deliberation began is
refused, ``{"error", "refused": true}``, and disconnected).

``on_seat(claims, "join" | "leave")``, when set, is awaited for every connection that
joins and every one that ends, and for a media path renegotiated on a kept seat ("join"
again, which the meeting's record writes as a reconnect): the meeting's attendance.
* anything sent with :meth:`CommitteeSignaling.emit_to_meeting` (e.g. ``phase``).

``revoke(token_id)`` and ``remove_user(meeting_id, user_id)`` close a
participant's connections and refuse the token / the user on reconnect (officers
when deliberation starts). A participant id is the user id: a second connection
of the same user in the same meeting replaces the first.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional, Union

import socketio
from aiohttp import web
from aiortc import RTCSessionDescription

from .reconnection import ReconnectPolicy
from .sfu import MediaRoom, OfferError, Participant, PublishedTrack, UnknownParticipant

logger = logging.getLogger(__name__)

MEETING_ROLES = frozenset({"convener", "member", "officer", "secretary", "observer"})


@dataclass(frozen=True)
class JoinClaims:
    user_id: str
    meeting_id: str
    role: str
    display_name: str
    token_id: str

    def __post_init__(self) -> None:
        for name in ("user_id", "meeting_id", "token_id"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"join claims need a non-empty {name}")
        if self.role not in MEETING_ROLES:
            raise ValueError(
                f"unknown meeting role {self.role!r}; expected one of {sorted(MEETING_ROLES)}"
            )


class InvalidJoinToken(Exception):
    """Raised by a token verifier for a token it does not accept."""


TokenVerifier = Callable[[str], Union[JoinClaims, Awaitable[JoinClaims]]]


class MeetingRooms:
    """The media rooms of this process, one per meeting, made on first use."""

    def __init__(self, on_created: Optional[Callable[[MediaRoom], None]] = None,
                 policy: Optional[ReconnectPolicy] = None) -> None:
        self._rooms: dict[str, MediaRoom] = {}
        self._on_created = on_created
        self.policy = policy or ReconnectPolicy()

    def get(self, meeting_id: str) -> MediaRoom:
        room = self._rooms.get(meeting_id)
        if room is None:
            room = self._rooms[meeting_id] = MediaRoom(meeting_id, self.policy)
            if self._on_created is not None:
                self._on_created(room)
        return room

    def existing(self, meeting_id: str) -> Optional[MediaRoom]:
        return self._rooms.get(meeting_id)

    async def close(self, meeting_id: str) -> None:
        room = self._rooms.pop(meeting_id, None)
        if room is not None:
            await room.close()

    async def close_all(self) -> None:
        for meeting_id in list(self._rooms):
            await self.close(meeting_id)


def _description(data: Any) -> RTCSessionDescription:
    if not isinstance(data, dict) or not isinstance(data.get("sdp"), str):
        raise OfferError("expected {'sdp': str, 'type': 'offer'}")
    return RTCSessionDescription(sdp=data["sdp"], type=data.get("type", ""))


class _SignalingObserver:
    """Tells the meeting's sockets what happens in its media room."""

    def __init__(self, signaling: "CommitteeSignaling", meeting_id: str) -> None:
        self.signaling = signaling
        self.meeting_id = meeting_id

    async def participant_joined(self, participant: Participant) -> None:
        pass

    async def track_published(self, participant: Participant, track: PublishedTrack) -> None:
        pass

    async def participant_left(self, participant: Participant) -> None:
        await self.signaling.sio.emit(
            "left", {"participant_id": participant.participant_id}, room=self.meeting_id
        )

    async def media_lost(self, participant: Participant, reason: str) -> None:
        sids = self.signaling._sids(self.meeting_id, participant.participant_id)
        if reason != "renegotiated":  # else it is the participant's own new offer
            for sid in sids:
                await self.signaling.sio.emit("reconnect", {"reason": reason}, to=sid)
        await self.signaling.sio.emit(
            "participant-state",
            {"participant_id": participant.participant_id, "state": "reconnecting"},
            room=self.meeting_id, skip_sid=sids or None,
        )

    async def subscription_lost(self, participant: Participant, publisher_id: str, reason: str) -> None:
        for sid in self.signaling._sids(self.meeting_id, participant.participant_id):
            await self.signaling.sio.emit("resubscribe", {"publisher_id": publisher_id}, to=sid)


class CommitteeSignaling:
    """The Socket.IO server of the committee service."""

    def __init__(
        self,
        verify_join_token: TokenVerifier,
        rooms: Optional[MeetingRooms] = None,
        *,
        cors_allowed_origins: Union[str, list[str], Callable[[str, dict], bool], None] = None,
        client_manager: Optional[socketio.AsyncManager] = None,
    ) -> None:
        self.verify_join_token = verify_join_token
        self.rooms = rooms or MeetingRooms()
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            client_manager=client_manager,  # several nodes: committee.cluster's Redis manager
            # None: the page's own origin only ([] would turn the Origin check off entirely)
            cors_allowed_origins=cors_allowed_origins or None,
            logger=False,
            engineio_logger=False,
        )
        # Told of every seat taken ("join") and left ("leave"): the meeting's attendance.
        self.on_seat: Optional[Callable[[JoinClaims, str], Awaitable[None]]] = None
        # Several nodes (committee.cluster): None if this node serves the meeting's media, else
        # the URL of the node that does; the connection is then refused with that URL.
        self.placement: Optional[Callable[[str], Awaitable[Optional[str]]]] = None
        # Asked before a seated participant renegotiates its media (raises to refuse).
        self.readmit: Optional[Callable[[JoinClaims], Awaitable[None]]] = None
        self.revoked_tokens: set[str] = set()
        self.removed_users: set[tuple[str, str]] = set()
        self._claims: dict[str, JoinClaims] = {}  # sid -> claims
        self._observed: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._register()

    def attach(self, app: web.Application, socketio_path: str = "socket.io") -> None:
        self.sio.attach(app, socketio_path=socketio_path)

        async def close_rooms(_app: web.Application) -> None:
            await self.rooms.close_all()

        app.on_shutdown.append(close_rooms)

    # -- queries --------------------------------------------------------------

    def connected(self, meeting_id: str) -> list[JoinClaims]:
        return [c for c in self._claims.values() if c.meeting_id == meeting_id]

    def meetings(self) -> set[str]:
        """The meetings with at least one connection."""
        return {c.meeting_id for c in self._claims.values()}

    # -- commands from the meeting workflow -----------------------------------

    async def revoke(self, token_id: str, reason: str = "your join token was revoked") -> int:
        """Refuse this token from now on and close its connections."""
        self.revoked_tokens.add(token_id)
        sids = [sid for sid, c in self._claims.items() if c.token_id == token_id]
        for sid in sids:
            await self._drop(sid, reason)
        return len(sids)

    async def remove_user(
        self, meeting_id: str, user_id: str, reason: str = "you were removed from this meeting"
    ) -> int:
        """Close a user's connections to a meeting and refuse them on rejoin."""
        self.removed_users.add((meeting_id, user_id))
        sids = [
            sid
            for sid, c in self._claims.items()
            if c.meeting_id == meeting_id and c.user_id == user_id
        ]
        for sid in sids:
            await self._drop(sid, reason)
        room = self.rooms.existing(meeting_id)
        if room is not None:
            await room.remove(user_id)
        return len(sids)

    kick = remove_user

    async def relocate(self, meeting_id: str, url: Optional[str]) -> int:
        """The meeting's media moved to another node: tell this node's sockets of it where
        (``media_node``) and close them; their clients join again there."""
        sids = [sid for sid, c in self._claims.items() if c.meeting_id == meeting_id]
        for sid in sids:
            claims = self._claims.pop(sid)
            await self.sio.emit("media_node", {"url": url}, to=sid)
            await self.sio.disconnect(sid)
            await self._seat(claims, "leave")
        self._observed.discard(meeting_id)  # its room is closed; a new one gets a new observer
        return len(sids)

    async def emit_to_meeting(self, meeting_id: str, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=meeting_id)

    # -- internals ------------------------------------------------------------

    def _sids(self, meeting_id: str, user_id: str) -> list[str]:
        return [sid for sid, c in self._claims.items() if c.meeting_id == meeting_id and c.user_id == user_id]

    async def _drop(self, sid: str, reason: str) -> None:
        claims = self._claims.pop(sid, None)
        await self.sio.emit("removed", {"reason": reason}, to=sid)
        await self.sio.disconnect(sid)
        if claims is not None:
            room = self.rooms.existing(claims.meeting_id)
            if room is not None:
                await room.remove(claims.user_id)
            await self._seat(claims, "leave")

    async def _seat(self, claims: JoinClaims, event: str) -> None:
        if self.on_seat is None:
            return
        try:
            await self.on_seat(claims, event)
        except Exception:  # attendance is recorded best effort; the media keeps flowing
            logger.exception("attendance %s of %s in %s", event, claims.user_id, claims.meeting_id)

    async def _readmit(self, claims: JoinClaims) -> Optional[str]:
        """Why this seated participant may not renegotiate its media now, or None."""
        if claims.token_id in self.revoked_tokens:
            return "this join token was revoked"
        if (claims.meeting_id, claims.user_id) in self.removed_users:
            return "you were removed from this meeting and cannot rejoin"
        if self.readmit is None:
            return None
        try:
            await self.readmit(claims)
        except Exception as exc:  # the rules' refusal (or their outage) keeps the door shut
            return str(exc) or "you may not rejoin this meeting now"
        return None

    async def _verify(self, token: Any) -> JoinClaims:
        if not isinstance(token, str) or not token:
            raise InvalidJoinToken("a join token is required")
        result = self.verify_join_token(token)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, JoinClaims):
            raise InvalidJoinToken("the token verifier returned no claims")
        return result

    def _room(self, meeting_id: str) -> MediaRoom:
        room = self.rooms.get(meeting_id)
        if meeting_id not in self._observed:
            room.observers.append(_SignalingObserver(self, meeting_id))
            self._observed.add(meeting_id)
        return room

    def _register(self) -> None:
        sio = self.sio

        @sio.event
        async def connect(sid: str, environ: dict, auth: Any = None) -> None:
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                claims = await self._verify(token)
            except InvalidJoinToken as exc:
                raise socketio.exceptions.ConnectionRefusedError(str(exc))
            except Exception as exc:  # a verifier's own error is still a refusal
                logger.info("join token refused: %s", exc)
                raise socketio.exceptions.ConnectionRefusedError("invalid join token")
            if claims.token_id in self.revoked_tokens:
                raise socketio.exceptions.ConnectionRefusedError("this join token was revoked")
            if (claims.meeting_id, claims.user_id) in self.removed_users:
                raise socketio.exceptions.ConnectionRefusedError(
                    "you were removed from this meeting and cannot rejoin"
                )
            if self.placement is not None:
                try:
                    elsewhere = await self.placement(claims.meeting_id)
                except Exception:  # the registry (Redis) is unreachable: the client tries again
                    logger.exception("placing meeting %s", claims.meeting_id)
                    raise socketio.exceptions.ConnectionRefusedError("the media registry is unavailable")
                if elsewhere:
                    raise socketio.exceptions.ConnectionRefusedError(
                        "this meeting's media is served by another node", {"media_node": elsewhere}
                    )
            for old_sid, old in list(self._claims.items()):
                if old.meeting_id == claims.meeting_id and old.user_id == claims.user_id:
                    await self._drop(old_sid, "replaced by a newer connection")
            self._claims[sid] = claims
            await sio.enter_room(sid, claims.meeting_id)
            room = self._room(claims.meeting_id)
            await room.join(claims.user_id, role=claims.role, display_name=claims.display_name)
            await self._seat(claims, "join")
            await sio.emit(
                "participants",
                [self._describe(room.participant(p)) for p in room.publishers()],
                to=sid,
            )

        @sio.event
        async def disconnect(sid: str, *args: Any) -> None:
            claims = self._claims.pop(sid, None)
            if claims is None:
                return
            room = self.rooms.existing(claims.meeting_id)
            if room is not None:
                await room.remove(claims.user_id)
            await self._seat(claims, "leave")

        @sio.event
        async def publish(sid: str, data: Any) -> dict:
            claims = self._claims.get(sid)
            if claims is None:
                return {"error": "not joined"}
            room = self._room(claims.meeting_id)
            seated = room.participants.get(claims.user_id)
            reconnect = seated is not None and seated.state != "joined"
            if reconnect:
                refusal = await self._readmit(claims)
                if refusal is not None:
                    # Answered first (the ack goes out as this handler returns), then sent away.
                    task = asyncio.ensure_future(self._drop(sid, refusal))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    return {"error": refusal, "refused": True}
            try:
                answer = await room.publish(
                    claims.user_id,
                    _description(data),
                    role=claims.role,
                    display_name=claims.display_name,
                )
            except OfferError as exc:
                return {"error": str(exc)}
            if reconnect:
                # The seat was kept through the gap (a blip must not cost the quorum); the
                # meeting's record writes this second join as a reconnect.
                await self._seat(claims, "join")
            await sio.emit(
                "published",
                {**self._describe(room.participant(claims.user_id)), "reconnected": reconnect},
                room=claims.meeting_id,
                skip_sid=sid,
            )
            return {"sdp": answer.sdp, "type": answer.type}

        @sio.event
        async def subscribe(sid: str, data: Any) -> dict:
            claims = self._claims.get(sid)
            if claims is None:
                return {"error": "not joined"}
            publisher_id = data.get("publisher_id") if isinstance(data, dict) else None
            if not isinstance(publisher_id, str):
                return {"error": "subscribe needs a publisher_id"}
            room = self._room(claims.meeting_id)
            try:
                answer = await room.subscribe(claims.user_id, publisher_id, _description(data))
            except (OfferError, UnknownParticipant) as exc:
                return {"error": str(exc)}
            return {"sdp": answer.sdp, "type": answer.type}

    @staticmethod
    def _describe(participant: Participant) -> dict[str, str]:
        return {
            "participant_id": participant.participant_id,
            "role": participant.role,
            "display_name": participant.display_name,
        }

