"""Which committee node holds each meeting's media: a lease per meeting in Redis.

An SFU room cannot span processes, so every participant of a meeting must reach the one node
that holds its room (the *media node*). The registry is one Redis key per meeting,
``loanctl:committee:media:<meeting>``, whose value is the holder's URL and whose expiry is the
lease: the holder renews it every third of the lease; a node that dies stops renewing, the key
expires, and the next node a participant (re)joins claims the meeting.

Every operation is one Lua script, so that "claim if free, else say who holds it" and "renew
or release only if still mine" are atomic: two nodes claiming at once get one holder.
"""
from __future__ import annotations

import logging
from typing import Iterable

logger = logging.getLogger(__name__)

KEY_PREFIX = "loanctl:committee:media:"

# KEYS[1] meeting key; ARGV[1] this node's URL, ARGV[2] lease in ms.
# Returns {holder, 1 if this call took the lease (it was free), else 0}.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {ARGV[1], 1}
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {holder, 0}
"""

# KEYS: meeting keys; ARGV[1] this node's URL, ARGV[2] lease in ms. Returns, per key, 1 if
# renewed (still ours) or the current holder ('' when free) if the lease was lost.
_RENEW = """
local result = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    result[i] = 1
  else
    result[i] = holder or ''
  end
end
return result
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class MediaRegistry:
    """The leases of the meetings' media nodes, seen from one node (``node_url``)."""

    def __init__(self, redis, node_url: str, lease_seconds: float) -> None:
        if lease_seconds <= 0:
            raise ValueError("the media lease must be positive")
        self.redis = redis  # a redis.asyncio.Redis with decode_responses=True
        self.node_url = node_url
        self.lease_ms = int(lease_seconds * 1000)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @staticmethod
    def key(meeting_id: str) -> str:
        return KEY_PREFIX + meeting_id

    async def claim(self, meeting_id: str) -> tuple[str, bool]:
        """(holder, taken): the meeting's media node after this call, claimed for this node
        if nobody held it; ``taken`` is true when this call took a free lease."""
        holder, taken = await self._claim(keys=[self.key(meeting_id)], args=[self.node_url, self.lease_ms])
        return holder, bool(int(taken))

    async def renew(self, meeting_ids: Iterable[str]) -> dict[str, str]:
        """Renew the leases of these meetings; returns the ones lost, with their holder now
        ('' if nobody holds them): this node must give those rooms up."""
        meetings = list(meeting_ids)
        if not meetings:
            return {}
        answers = await self._renew(keys=[self.key(m) for m in meetings], args=[self.node_url, self.lease_ms])
        return {m: a for m, a in zip(meetings, answers) if a != 1}

    async def release(self, meeting_id: str) -> bool:
        """Give the meeting up (closed, or this node stopping) if this node still holds it."""
        return bool(await self._release(keys=[self.key(meeting_id)], args=[self.node_url]))

    async def holder(self, meeting_id: str) -> str | None:
        return await self.redis.get(self.key(meeting_id))
