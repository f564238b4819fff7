"""The committee panel draw: committed seed, frozen pool, reproducible panel.

Anyone holding a :class:`DrawRecord` can re-run the draw (:func:`verify_draw`)
and check that the panel and every replacement follow from the record. The
procedure (version ``DRAW_PROCEDURE``) is, exactly:

1. **Commit.** A 32-byte seed is taken from the operating system's CSPRNG
   (``secrets.token_bytes``). Its commitment ``SHA-256(seed)`` (hex) is recorded
   and shown *before* the pool is frozen; the seed itself stays secret until the
   draw.
2. **Freeze the pool.** Member ids are strings of 1-200 characters without
   control characters, unique. The frozen pool is the ids sorted by Unicode code
   point; ``pool_hash = SHA-256(UTF-8 of the ids joined by "\\n")`` (hex).
3. **Exclude.** Each exclusion is ``(member id, reason)`` (the case's own officers,
   declared conflicts); excluded ids must be in the pool, reasons non-empty. The
   eligible list is the frozen pool without them, still in sorted order.
4. **Random stream.** Block ``i`` (``i`` = 0, 1, 2, ...) is
   ``HMAC-SHA256(key=seed, msg=LABEL || 0x00 || UTF-8(meeting_id) || 0x00 ||
   pool_hash_bytes || i as 8-byte big-endian)`` with
   ``LABEL = b"loan-committee-draw/v1"`` and ``pool_hash_bytes`` the 32 raw bytes of
   the pool hash. The stream is block 0 || block 1 || ...
5. **Uniform integers.** ``uniform(n)`` reads the next 8 bytes of the stream as a
   big-endian unsigned integer ``x``; with ``limit = 2**64 - (2**64 mod n)`` it
   rejects ``x >= limit`` (reads 8 more bytes) and otherwise returns ``x mod n``.
6. **Shuffle.** Fisher-Yates (Durstenfeld) on the eligible list: for ``i`` from
   ``len - 1`` down to ``1``: ``j = uniform(i + 1)``; swap items ``i`` and ``j``.
7. **Panel.** The first ``panel_size`` items of the shuffled list, in that order;
   the rest, in order, are the reserves.
8. **Re-draw for an absent member.** The absent panel member is replaced by the
   first reserve that is not yet on the panel and has not been recorded absent;
   the replacement is logged with the absent member, reason and time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Iterator, Optional

DRAW_PROCEDURE = "hmac-sha256-ctr+fisher-yates/v1"
LABEL = b"loan-committee-draw/v1"
SEED_BYTES = 32


class DrawError(ValueError):
    """The draw cannot be made or changed as asked."""


@dataclass(frozen=True)
class SeedCommitment:
    seed: bytes
    commitment: str

    @classmethod
    def new(cls) -> "SeedCommitment":
        return cls.from_seed(secrets.token_bytes(SEED_BYTES))

    @classmethod
    def from_seed(cls, seed: bytes) -> "SeedCommitment":
        if len(seed) != SEED_BYTES:
            raise DrawError(f"the seed must be {SEED_BYTES} bytes, got {len(seed)}")
        return cls(seed, hashlib.sha256(seed).hexdigest())


@dataclass(frozen=True)
class Exclusion:
    member_id: str
    reason: str


@dataclass(frozen=True)
class Replacement:
    absent: str
    replacement: str
    reason: str
    at: str


@dataclass(frozen=True)
class DrawRecord:
    meeting_id: str
    seed_commitment: str
    pool: tuple[str, ...]
    pool_hash: str
    exclusions: tuple[Exclusion, ...]
    panel_size: int
    seed: str
    panel: tuple[str, ...]
    reserves: tuple[str, ...]
    replacements: tuple[Replacement, ...] = ()
    committed_at: Optional[str] = None
    frozen_at: Optional[str] = None
    procedure: str = DRAW_PROCEDURE

    @property
    def current_panel(self) -> tuple[str, ...]:
        """The panel after every logged replacement."""
        members = list(self.panel)
        for change in self.replacements:
            members[members.index(change.absent)] = change.replacement
        return tuple(members)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DrawRecord":
        try:
            return cls(
                meeting_id=data["meeting_id"],
                seed_commitment=data["seed_commitment"],
                pool=tuple(data["pool"]),
                pool_hash=data["pool_hash"],
                exclusions=tuple(Exclusion(**e) for e in data["exclusions"]),
                panel_size=data["panel_size"],
                seed=data["seed"],
                panel=tuple(data["panel"]),
                reserves=tuple(data["reserves"]),
                replacements=tuple(Replacement(**r) for r in data.get("replacements", ())),
                committed_at=data.get("committed_at"),
                frozen_at=data.get("frozen_at"),
                procedure=data.get("procedure", DRAW_PROCEDURE),
            )
        except (KeyError, TypeError) as exc:
            raise DrawError(f"malformed draw record: {exc}") from exc


@dataclass
class DrawVerification:
    matches: bool
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.matches


# -- the procedure ------------------------------------------------------------


def _check_member_id(member_id: object) -> str:
    if not isinstance(member_id, str) or not 1 <= len(member_id) <= 200:
        raise DrawError(f"member id {member_id!r} must be a string of 1-200 characters")
    if any(unicodedata.category(ch) == "Cc" for ch in member_id):
        raise DrawError(f"member id {member_id!r} contains a control character")
    return member_id


def freeze_pool(pool: Iterable[str]) -> tuple[tuple[str, ...], str]:
    """Canonical (sorted) pool and its SHA-256 (step 2)."""
    members = [_check_member_id(m) for m in pool]
    if len(set(members)) != len(members):
        duplicates = sorted({m for m in members if members.count(m) > 1})
        raise DrawError(f"the pool lists members more than once: {duplicates}")
    frozen = tuple(sorted(members))
    return frozen, hashlib.sha256("\n".join(frozen).encode("utf-8")).hexdigest()


def random_stream(seed: bytes, meeting_id: str, pool_hash: str) -> Iterator[int]:
    """Bytes of HMAC-SHA256 in counter mode (step 4)."""
    prefix = LABEL + b"\x00" + meeting_id.encode("utf-8") + b"\x00" + bytes.fromhex(pool_hash)
    counter = 0
    while True:
        block = hmac.new(seed, prefix + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        yield from block
        counter += 1


def uniform(stream: Iterator[int], n: int) -> int:
    """Unbiased integer in [0, n) by rejection (step 5)."""
    if n < 1:
        raise DrawError("uniform() needs n >= 1")
    limit = 2**64 - (2**64 % n)
    while True:
        x = int.from_bytes(bytes(next(stream) for _ in range(8)), "big")
        if x < limit:
            return x % n


def shuffle(items: list[str], stream: Iterator[int]) -> list[str]:
    """Fisher-Yates / Durstenfeld (step 6); returns a new list."""
    result = list(items)
    for i in range(len(result) - 1, 0, -1):
        j = uniform(stream, i + 1)
        result[i], result[j] = result[j], result[i]
    return result


def _eligible(pool: tuple[str, ...], exclusions: tuple[Exclusion, ...]) -> list[str]:
    excluded = set()
    for exclusion in exclusions:
        if exclusion.member_id not in pool:
            raise DrawError(f"excluded member {exclusion.member_id!r} is not in the pool")
        if not exclusion.reason.strip():
            raise DrawError(f"the exclusion of {exclusion.member_id!r} has no reason")
        excluded.add(exclusion.member_id)
    return [m for m in pool if m not in excluded]


def _derive(
    meeting_id: str,
    seed: bytes,
    pool: tuple[str, ...],
    pool_hash: str,
    exclusions: tuple[Exclusion, ...],
    panel_size: int,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    eligible = _eligible(pool, exclusions)
    if panel_size < 1:
        raise DrawError("the panel needs at least one member")
    if panel_size > len(eligible):
        raise DrawError(
            f"a panel of {panel_size} cannot be drawn from {len(eligible)} eligible "
            f"members ({len(pool)} in the pool, {len(exclusions)} excluded)"
        )
    order = shuffle(eligible, random_stream(seed, meeting_id, pool_hash))
    return tuple(order[:panel_size]), tuple(order[panel_size:])


def draw_panel(
    meeting_id: str,
    commitment: SeedCommitment,
    pool: Iterable[str],
    panel_size: int,
    exclusions: Iterable[Exclusion | tuple[str, str]] = (),
    *,
    committed_at: Optional[str] = None,
    frozen_at: Optional[str] = None,
) -> DrawRecord:
    """Draw the panel (steps 2-7) and return the record to keep."""
    if not meeting_id:
        raise DrawError("the draw needs a meeting id")
    if hashlib.sha256(commitment.seed).hexdigest() != commitment.commitment:
        raise DrawError("the seed does not match its commitment")
    frozen, pool_hash = freeze_pool(pool)
    normalised = tuple(e if isinstance(e, Exclusion) else Exclusion(*e) for e in exclusions)
    normalised = tuple(sorted(normalised, key=lambda e: e.member_id))
    if len({e.member_id for e in normalised}) != len(normalised):
        raise DrawError("a member is excluded twice; give one exclusion with all reasons")
    panel, reserves = _derive(meeting_id, commitment.seed, frozen, pool_hash, normalised, panel_size)
    return DrawRecord(
        meeting_id=meeting_id,
        seed_commitment=commitment.commitment,
        pool=frozen,
        pool_hash=pool_hash,
        exclusions=normalised,
        panel_size=panel_size,
        seed=commitment.seed.hex(),
        panel=panel,
        reserves=reserves,
        committed_at=committed_at,
        frozen_at=frozen_at,
    )


def _next_reserve(record: DrawRecord, absent: set[str]) -> Optional[str]:
    on_panel = set(record.current_panel)
    for candidate in record.reserves:
        if candidate not in on_panel and candidate not in absent:
            return candidate
    return None


def replace_absent(record: DrawRecord, absent_id: str, reason: str, at: str) -> DrawRecord:
    """Replace an absent panel member by the next reserve (step 8)."""
    if absent_id not in record.current_panel:
        raise DrawError(f"{absent_id!r} is not on the current panel")
    if not reason.strip():
        raise DrawError("a replacement needs a reason")
    absent = {r.absent for r in record.replacements} | {absent_id}
    replacement = _next_reserve(record, absent)
    if replacement is None:
        raise DrawError("no reserve left to replace an absent member; draw again")
    change = Replacement(absent=absent_id, replacement=replacement, reason=reason, at=at)
    return replace(record, replacements=record.replacements + (change,))


def verify_draw(record: DrawRecord) -> DrawVerification:
    """Re-derive the panel and replacements from the record; report mismatches."""
    problems: list[str] = []
    if record.procedure != DRAW_PROCEDURE:
        return DrawVerification(False, [f"unknown procedure {record.procedure!r}"])
    try:
        seed = bytes.fromhex(record.seed)
    except ValueError:
        return DrawVerification(False, ["the seed is not hexadecimal"])
    if hashlib.sha256(seed).hexdigest() != record.seed_commitment:
        problems.append("the revealed seed does not match the committed hash")
    try:
        frozen, pool_hash = freeze_pool(record.pool)
    except DrawError as exc:
        return DrawVerification(False, [str(exc)])
    if frozen != record.pool:
        problems.append("the pool is not in canonical (sorted) order")
    if pool_hash != record.pool_hash:
        problems.append("the pool does not match the recorded pool hash")
    if record.committed_at and record.frozen_at:
        try:
            if datetime.fromisoformat(record.committed_at) > datetime.fromisoformat(record.frozen_at):
                problems.append("the seed was committed after the pool was frozen")
        except ValueError:
            problems.append("the commitment or freeze time is not an ISO 8601 time")
    try:
        panel, reserves = _derive(
            record.meeting_id, seed, frozen, pool_hash, record.exclusions, record.panel_size
        )
    except DrawError as exc:
        return DrawVerification(False, problems + [str(exc)])
    if panel != record.panel:
        problems.append(f"the panel does not follow from the record: expected {list(panel)}")
    if reserves != record.reserves:
        problems.append("the reserve order does not follow from the record")
    replay = replace(record, panel=panel, reserves=reserves, replacements=())
    for change in record.replacements:
        try:
            replay = replace_absent(replay, change.absent, change.reason, change.at)
        except DrawError as exc:
            problems.append(f"replacement of {change.absent!r}: {exc}")
            break
        if replay.replacements[-1].replacement != change.replacement:
            problems.append(
                f"{change.absent!r} should have been replaced by "
                f"{replay.replacements[-1].replacement!r}, not {change.replacement!r}"
            )
            break
    return DrawVerification(not problems, problems)
