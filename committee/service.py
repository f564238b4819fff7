"""Committee meetings as use cases: convene and draw, absentees, join tokens, phases, sealed
ballots and the tally.

Each function works in the caller's unit of work (one ``AsyncSession``), refuses with
``core.errors`` exceptions and audits what it changes. The decision is sent to core over HTTP
after the tally's transaction has committed (``committee.decision``).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, loanflow, outbox
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from core.identity import Principal
from core.inputs import parse_id
from core.orm import Loan, LoanDuty, LoanEvent, User, UserRole, utcnow
from core.scope import Scope
from core.servicetoken import ServiceTokens
from core.rules.committee import seats_needed
from core.workflow import DutyRecord, excluded_for

from . import ballots
from .draw import DrawError, DrawRecord, Exclusion, SeedCommitment, draw_panel, replace_absent, verify_draw
from .signaling import JoinClaims
from .tables import Attendance, Ballot, IssuedJoinToken, Meeting, MeetingParticipant, RevokedJoinToken

POOL_ROLE = "committee_member"
JOIN_AUDIENCE = "committee"
JOIN_SCOPE = "committee_join"
VOTE_ACTION = "committee_vote"
PHASES = ("scheduled", "open", "deliberation", "voting", "tallied", "closed")
# The convener moves a meeting one step at a time; "tallied" is reached by the last ballot or
# by the convener closing the vote.
NEXT_PHASE = {"scheduled": "open", "open": "deliberation", "deliberation": "voting", "voting": "tallied",
              "tallied": "closed"}
OFFICER_PHASES = ("scheduled", "open")
JOIN_TOKEN_SECONDS = 900
MEETING_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # what the archive accepts as a meeting id


# One answer for a missing meeting and one the caller may not know of (not the id, not the loan).
MEETING_NOT_FOUND = "committee meeting not found"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat()


async def meeting_by_id(session: AsyncSession, meeting_id: int, *, for_update: bool = False) -> Meeting:
    query = select(Meeting).where(Meeting.id == meeting_id)
    if for_update:
        query = query.with_for_update()
    meeting = (await session.execute(query)).scalar_one_or_none()
    if meeting is None:
        raise NotFound(MEETING_NOT_FOUND)
    return meeting


async def meeting_taken_part(session: AsyncSession, who: Principal, meeting_id: int, *,
                             for_update: bool = False) -> tuple[Meeting, MeetingParticipant | None]:
    """A meeting the caller acts on: for anyone who neither convenes it nor takes part, it
    does not exist (the same 404 as a missing meeting, so ids do not reveal meetings)."""
    meeting = await meeting_by_id(session, meeting_id, for_update=for_update)
    participant = await _participant(session, meeting, who.user_id)
    if participant is None and meeting.convener_id != who.user_id:
        raise NotFound(MEETING_NOT_FOUND)
    return meeting, participant


async def meeting_by_code(session: AsyncSession, reference: str) -> Meeting:
    """By the public code (``CM12-1``) or the number."""
    query = select(Meeting).where(Meeting.code == reference)
    if parse_id(reference) is not None:
        query = select(Meeting).where(Meeting.id == parse_id(reference))
    meeting = (await session.execute(query)).scalar_one_or_none()
    if meeting is None:
        raise NotFound(f"committee meeting {reference!r} not found")
    return meeting


async def _participants(session: AsyncSession, meeting_id: int) -> list[MeetingParticipant]:
    return list((await session.execute(select(MeetingParticipant).where(
        MeetingParticipant.meeting_id == meeting_id).order_by(MeetingParticipant.user_id))).scalars())


async def _participant(session: AsyncSession, meeting: Meeting, user_id: int) -> MeetingParticipant | None:
    return await session.get(MeetingParticipant, (meeting.id, user_id))


def _require_convener(meeting: Meeting, who: Principal) -> None:
    if who.user_id != meeting.convener_id:
        raise Forbidden("only the meeting's convener does this")


async def committee_pool(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(User.id).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == POOL_ROLE, User.active.is_(True)))
    return sorted({str(r[0]) for r in rows})


async def separation_exclusions(session: AsyncSession, loan: Loan, pool: list[str]) -> list[Exclusion]:
    """Pool members who may not vote on this loan (its investigators, reviewer...), with why."""
    duties = (await session.execute(select(LoanDuty.user_id, LoanDuty.duty).where(LoanDuty.loan_id == loan.id))).all()
    history = [DutyRecord(str(user), duty) for user, duty in duties]
    for slot, user in (("investigate_a", loan.officer_a_id), ("investigate_b", loan.officer_b_id)):
        if user is not None:
            history.append(DutyRecord(str(user), slot))
    excluded = excluded_for(history, VOTE_ACTION)
    members = set(pool)
    return [Exclusion(user, "separation of duties: did " + ", ".join(duties) + " on this loan")
            for user, duties in sorted(excluded.items()) if user in members]


async def _notify_member(session: AsyncSession, meeting: Meeting, user_id: int, text: str) -> None:
    user = await session.get(User, user_id)
    outbox.queue(session, template="committee_member_drawn", text=text, loan_id=meeting.loan_id,
                 user_id=user_id, phone=user.phone if user else "", name=user.display_name if user else "")


def record_of(meeting: Meeting) -> DrawRecord:
    return DrawRecord.from_dict(json.loads(meeting.draw_record))


async def next_meeting(session: AsyncSession, workflow: loanflow.Workflow, loan: Loan) -> dict[str, Any]:
    """The meeting id and committee kind the next convene_committee command will carry (the
    convener's page confirms exactly that payload with a fingerprint step-up)."""
    rule = workflow.rules.at(dt.date.today()).committee_for(loan.product, loan.amount_fen)
    count = (await session.execute(select(func.count()).select_from(Meeting).where(Meeting.loan_id == loan.id))).scalar_one()
    return {"meeting_id": f"CM{loan.id}-{count + 1}", "committee_kind": rule.kind, "panel_size": rule.size,
            "pass_ratio": str(Fraction(rule.pass_ratio))}


def parse_meeting_at(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("meeting_at must be an ISO-8601 time", details={"meeting_at": "format"}) from None
    if moment.tzinfo is None:
        raise InvalidInput("meeting_at needs a time zone", details={"meeting_at": "naive"})
    now = utcnow()
    # A meeting is called for the coming days, not for year 1 or 9999 (which also overflow
    # the deadline arithmetic): from a day ago (clock skew, a late entry) to five years ahead.
    try:
        within = now - dt.timedelta(days=1) <= moment <= now + dt.timedelta(days=5 * 366)
    except OverflowError:  # year 1 at +08:00 is before year 1 in UTC
        within = False
    if not within:
        raise InvalidInput("meeting_at must lie between yesterday and five years from now",
                           details={"meeting_at": "range"})
    return moment


async def convene(session: AsyncSession, workflow: loanflow.Workflow, scope: Scope, who: Principal, *,
                  loan_id: int, meeting_at: str, step_up: str | None = None,
                  require_step_up: bool = False, site_url: str = "") -> Meeting:
    """The convener calls the meeting: core's convene_committee command (payload
    ``{meeting_id, meeting_at, committee_kind}`` with ``next_meeting``'s id and kind and
    ``meeting_at`` exactly as given), then the seed is committed, the pool frozen, exclusions
    logged, the panel drawn and the members told."""
    moment = parse_meeting_at(meeting_at)
    loan = await scope.loan(session, loan_id, for_update=True)
    rule = workflow.rules.at(dt.date.today()).committee_for(loan.product, loan.amount_fen)
    code = (await next_meeting(session, workflow, loan))["meeting_id"]
    await loanflow.execute(session, workflow, scope, loanflow.Caller.of(who), loan.id, "convene_committee",
                           {"meeting_id": code, "meeting_at": meeting_at, "committee_kind": rule.kind},
                           step_up=step_up, require_step_up=require_step_up)
    return await _draw(session, workflow, who, loan, code, moment, site_url)


async def unconvened(session: AsyncSession, loan: Loan) -> dict[str, Any] | None:
    """The convene_committee payload of a loan called to the committee through the generic
    command (the loan page) for which no meeting was drawn yet."""
    if loan.stage != "committee_meeting":
        return None
    event = (await session.execute(select(LoanEvent).where(
        LoanEvent.loan_id == loan.id, LoanEvent.action == "convene_committee").order_by(
        LoanEvent.id.desc()).limit(1))).scalar_one_or_none()
    if event is None:
        return None
    payload = json.loads(event.payload)
    exists = (await session.execute(select(Meeting.id).where(Meeting.code == payload.get("meeting_id")))).first()
    return None if exists else payload


async def draw_for_convened(session: AsyncSession, workflow: loanflow.Workflow, scope: Scope, who: Principal,
                            loan_id: int, *, site_url: str = "") -> Meeting:
    """The hook after core's own convene_committee command: the loan is already at
    committee_meeting (the command was confirmed then); commit the seed and draw now."""
    if not who.has("convener"):
        raise Forbidden("the committee is drawn by a convener")
    loan = await scope.loan(session, loan_id, for_update=True)
    payload = await unconvened(session, loan)
    if payload is None:
        raise Conflict("this loan has no committee meeting waiting for its draw", code="nothing_to_draw")
    code = str(payload.get("meeting_id", ""))
    if not MEETING_CODE.match(code):
        raise Conflict(f"the meeting id {code!r} cannot name a meeting (letters, digits, _.:- up to 64); "
                       "reschedule and call the meeting from the committee page", code="bad_meeting_id")
    return await _draw(session, workflow, who, loan, code, parse_meeting_at(str(payload.get("meeting_at", ""))),
                       site_url)


def room_url(site_url: str, meeting: Meeting) -> str:
    """The room's address for a message (``site_url``: the suite's address people use)."""
    return f"{site_url.rstrip('/')}/committee/meetings/{meeting.id}"


def _beijing_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


async def _draw(session: AsyncSession, workflow: loanflow.Workflow, who: Principal, loan: Loan, code: str,
                meeting_at: dt.datetime, site_url: str = "") -> Meeting:
    rule = workflow.rules.at(dt.date.today()).committee_for(loan.product, loan.amount_fen)
    # 1. commit the seed (its hash is recorded before the pool exists)
    commitment = SeedCommitment.new()
    committed_at = utcnow()
    meeting = Meeting(code=code, loan_id=loan.id, kind=rule.kind, panel_size=rule.size,
                      pass_ratio=str(Fraction(rule.pass_ratio)), quorum=str(Fraction(rule.quorum)),
                      scheduled_at=meeting_at, phase="scheduled",
                      convener_id=who.user_id, seed_commitment=commitment.commitment, committed_at=committed_at,
                      ballot_salt=ballots.new_salt())
    session.add(meeting)
    await session.flush()
    await audit.append(session, who.actor("convener"), "committee.seed_committed", "committee_meeting", code,
                       {"seed_commitment": commitment.commitment, "at": _iso(committed_at)})
    # 2. freeze the pool, 3. exclusions, 4. draw
    pool = await committee_pool(session)
    frozen_at = utcnow()
    exclusions = await separation_exclusions(session, loan, pool)
    try:
        record = draw_panel(code, commitment, pool, rule.size, exclusions,
                            committed_at=_iso(committed_at), frozen_at=_iso(frozen_at))
    except DrawError as error:
        raise Conflict(f"the committee cannot be drawn: {error}", code="draw_impossible") from None
    meeting.pool = json.dumps(list(record.pool))
    meeting.frozen_at = frozen_at
    meeting.draw_record = json.dumps(record.to_dict(), sort_keys=True)
    roles = {who.user_id: "convener"}
    for officer in (loan.officer_a_id, loan.officer_b_id):
        if officer is not None:
            roles.setdefault(officer, "officer")
    for member in record.panel:
        roles.setdefault(int(member), "member")
    for user_id, role in roles.items():
        session.add(MeetingParticipant(meeting_id=meeting.id, user_id=user_id, role=role))
    when = _beijing_time(meeting_at)
    for member in record.panel:
        await _notify_member(session, meeting, int(member),
                             f"您被抽选为贷审会{code}委员，会议时间{when}（北京时间），请准时参加。"
                             f"入会：{room_url(site_url, meeting)}")
    await audit.append(session, who.actor("convener"), "committee.drawn", "committee_meeting", code,
                       {"loan_id": loan.id, "pool_hash": record.pool_hash, "panel": list(record.panel),
                        "reserves": list(record.reserves),
                        "exclusions": [[e.member_id, e.reason] for e in record.exclusions],
                        "seed": record.seed})
    return meeting


async def mark_absent(session: AsyncSession, who: Principal, meeting_id: int, member_id: int, reason: str,
                      *, site_url: str = "") -> Meeting:
    """Replace an absent panel member by the next reserve (a logged re-draw)."""
    meeting, _ = await meeting_taken_part(session, who, meeting_id, for_update=True)
    _require_convener(meeting, who)
    if meeting.phase not in ("scheduled", "open"):
        raise Conflict("absent members are replaced before deliberation starts")
    if not reason or not reason.strip():
        raise InvalidInput("say why the member is absent", details={"reason": "required"})
    record = record_of(meeting)
    try:
        updated = replace_absent(record, str(member_id), reason.strip(), _iso(utcnow()))
    except DrawError as error:
        raise Conflict(str(error), code="no_replacement") from None
    replacement = int(updated.replacements[-1].replacement)
    meeting.draw_record = json.dumps(updated.to_dict(), sort_keys=True)
    absent = await _participant(session, meeting, member_id)
    if absent is not None:
        absent.active = False
    existing = await _participant(session, meeting, replacement)
    if existing is None:
        session.add(MeetingParticipant(meeting_id=meeting.id, user_id=replacement, role="member"))
    else:
        existing.active, existing.role = True, "member"
    await _revoke_user(session, meeting, member_id, "replaced as absent")
    await _notify_member(session, meeting, replacement,
                         f"贷审会{meeting.code}委员{member_id}缺席，您作为递补委员被抽选，会议时间"
                         f"{_beijing_time(meeting.scheduled_at)}（北京时间），请参加会议。入会：{room_url(site_url, meeting)}")
    await audit.append(session, who.actor("convener"), "committee.member_replaced", "committee_meeting",
                       meeting.code, {"absent": member_id, "replacement": replacement, "reason": reason.strip()})
    return meeting


# --- joining ---------------------------------------------------------------------------------

async def issue_join_token(session: AsyncSession, secret_key: bytes, who: Principal, meeting_id: int,
                           *, lifetime: int = JOIN_TOKEN_SECONDS) -> dict[str, Any]:
    meeting, participant = await meeting_taken_part(session, who, meeting_id)
    if participant is None or not participant.active:
        raise Forbidden("you are not a participant of this meeting")
    if meeting.phase == "closed":
        raise Conflict("the meeting is closed")
    if participant.role == "officer" and meeting.phase not in OFFICER_PHASES:
        raise Forbidden("the officers' part of this meeting has ended", code="officers_dismissed")
    tokens = ServiceTokens(secret_key)
    token = tokens.issue(subject=str(who.user_id), audience=JOIN_AUDIENCE, scope=JOIN_SCOPE, lifetime=lifetime,
                         meeting=meeting.code, role=participant.role, name=who.display_name)
    claims = tokens.verify(token, audience=JOIN_AUDIENCE, scope=JOIN_SCOPE)
    session.add(IssuedJoinToken(token_id=claims["jti"], meeting_id=meeting.id, user_id=who.user_id,
                                role=participant.role,
                                expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc)))
    await audit.append(session, who.actor(), "committee.join_token", "committee_meeting", meeting.code,
                       {"role": participant.role, "token_id": claims["jti"]})
    return {"token": token, "meeting_id": meeting.code, "role": participant.role, "expires_at": claims["exp"]}


async def verify_join(session: AsyncSession, secret_key: bytes, token: str) -> JoinClaims:
    """What the media server checks on connect (the database decides, so revocations hold
    across restarts and processes)."""
    try:
        claims = ServiceTokens(secret_key).verify(token, audience=JOIN_AUDIENCE, scope=JOIN_SCOPE)
    except Unauthenticated as error:
        raise PermissionError(error.message) from None
    meeting, participant = await _admitted(session, str(claims.get("meeting")), int(claims["sub"]), claims["jti"])
    return JoinClaims(user_id=claims["sub"], meeting_id=meeting.code, role=participant.role,
                      display_name=str(claims.get("name", ""))[:100], token_id=claims["jti"])


async def readmit(session: AsyncSession, claims: JoinClaims) -> None:
    """Whether a seated participant whose media path died may renegotiate it (reconnection):
    the same rules as joining, now (an officer cut off after deliberation began stays out);
    the token's age does not matter, the seat was taken with it."""
    await _admitted(session, claims.meeting_id, int(claims.user_id), claims.token_id)


async def _admitted(session: AsyncSession, code: str, user_id: int, token_id: str):
    if await session.get(RevokedJoinToken, token_id) is not None:
        raise PermissionError("this join token was revoked")
    meeting = (await session.execute(select(Meeting).where(Meeting.code == code))).scalar_one_or_none()
    if meeting is None:
        raise PermissionError("no such meeting")
    if meeting.phase == "closed":
        raise PermissionError("the meeting is closed")
    participant = await _participant(session, meeting, user_id)
    if participant is None or not participant.active:
        raise PermissionError("not a participant of this meeting")
    if participant.role == "officer" and meeting.phase not in OFFICER_PHASES:
        raise PermissionError("the officers' part of this meeting has ended")
    return meeting, participant


async def _revoke_user(session: AsyncSession, meeting: Meeting, user_id: int, reason: str) -> list[str]:
    return await _revoke(session, meeting, reason, IssuedJoinToken.user_id == user_id)


async def _revoke(session: AsyncSession, meeting: Meeting, reason: str, *where) -> list[str]:
    issued = (await session.execute(select(IssuedJoinToken).where(
        IssuedJoinToken.meeting_id == meeting.id, *where))).scalars().all()
    revoked = []
    for token in issued:
        if await session.get(RevokedJoinToken, token.token_id) is None:
            session.add(RevokedJoinToken(token_id=token.token_id, meeting_id=meeting.id, user_id=token.user_id,
                                         reason=reason[:200]))
            revoked.append(token.token_id)
    return revoked


async def revoked_tokens(session: AsyncSession, meeting_code: str) -> dict[str, str]:
    rows = await session.execute(select(RevokedJoinToken.token_id, RevokedJoinToken.reason).join(
        Meeting, Meeting.id == RevokedJoinToken.meeting_id).where(Meeting.code == meeting_code))
    return {token: reason for token, reason in rows}


# --- phases ----------------------------------------------------------------------------------

async def change_phase(session: AsyncSession, secret_key: bytes, who: Principal, meeting_id: int,
                       phase: str) -> Meeting:
    meeting, _ = await meeting_taken_part(session, who, meeting_id, for_update=True)
    _require_convener(meeting, who)
    if phase not in PHASES:
        raise InvalidInput(f"unknown phase {phase!r}; phases: {', '.join(PHASES)}", details={"phase": "unknown"})
    if NEXT_PHASE.get(meeting.phase) != phase:
        raise Conflict(f"the meeting is in '{meeting.phase}'; the next phase is "
                       f"'{NEXT_PHASE.get(meeting.phase, 'none')}', not '{phase}'", code="wrong_phase")
    if phase == "tallied":
        await tally(session, secret_key, meeting, who.actor("convener"), closed_early=True)
        return meeting
    details: dict[str, Any] = {"from": meeting.phase, "to": phase}
    now = utcnow()
    if phase == "open":
        meeting.opened_at = now
    if phase == "deliberation":
        details["present"] = await _check_quorum(session, meeting, now)
        meeting.deliberation_at = now
        details["revoked_tokens"] = await _revoke(session, meeting, "the officers' part of the meeting has ended",
                                                  IssuedJoinToken.role == "officer")
    meeting.phase, meeting.phase_changed_at = phase, now
    await audit.append(session, who.actor("convener"), "committee.phase", "committee_meeting", meeting.code, details)
    return meeting


# --- ballots ---------------------------------------------------------------------------------

async def _members(session: AsyncSession, meeting: Meeting) -> list[int]:
    return [p.user_id for p in await _participants(session, meeting.id) if p.role == "member" and p.active]


async def cast_ballot(session: AsyncSession, secret_key: bytes, who: Principal, meeting_id: int, vote: ballots.Vote,
                      *, step_up: str | None, require_step_up: bool) -> Meeting:
    """Seal one member's vote (once), confirmed by their fresh fingerprint; the last ballot
    triggers the tally."""
    from biometrics import stepup

    meeting, participant = await meeting_taken_part(session, who, meeting_id, for_update=True)
    if participant is None or participant.role != "member" or not participant.active:
        raise Forbidden("only the meeting's panel members vote")
    if meeting.phase != "voting":
        raise Conflict(f"votes are cast in the voting phase; the meeting is in '{meeting.phase}'", code="wrong_phase")
    if who.user_id not in await attended_presentation(session, meeting):
        # The words a person reads are the catalogue's (web/i18n.py REFUSALS), put in by committee.api.
        raise Conflict("not in the room for the presentation: cannot vote", code="not_present_for_presentation")
    existing = (await session.execute(select(Ballot.id).where(
        Ballot.meeting_id == meeting.id, Ballot.member_id == who.user_id))).first()
    if existing is not None:
        raise Conflict("you have already voted in this meeting", code="already_voted")
    if require_step_up:
        # POST /api/step-up only grants tokens for loans in the caller's scope, and panel members
        # have no scope over the loans they judge: the vote's token is asked for loan 0 and is
        # bound to the meeting through the payload hash (its meeting_id and the ballot's nonce).
        await stepup.redeem(session, step_up, user_id=who.user_id, loan_id=stepup.NEW_LOAN, action=VOTE_ACTION,
                            payload=vote.payload(meeting.code))
    key = ballots.meeting_key(secret_key, meeting.code, meeting.ballot_salt)
    sealed, commitment = ballots.seal(key, meeting.code, who.user_id, vote)
    session.add(Ballot(meeting_id=meeting.id, member_id=who.user_id, sealed=sealed, commitment=commitment))
    await session.flush()
    # The audit names the member and the commitment, never the choice.
    await audit.append(session, who.actor("committee_member"), "committee.ballot_cast", "committee_meeting",
                       meeting.code, {"member": who.user_id, "commitment": commitment,
                                      "step_up": bool(require_step_up)})
    cast = (await session.execute(select(func.count()).select_from(Ballot).where(
        Ballot.meeting_id == meeting.id))).scalar_one()
    # Everyone who may vote has voted (members absent from the presentation count as not in
    # favour): the tally opens the ballots.
    if cast >= len(set(await _members(session, meeting)) & await attended_presentation(session, meeting)):
        await tally(session, secret_key, meeting, audit.Actor.system("committee"), closed_early=False)
    return meeting


async def tally(session: AsyncSession, secret_key: bytes, meeting: Meeting, actor: audit.Actor, *,
                closed_early: bool) -> None:
    """Release the meeting's key, open every ballot, count. A member who did not vote counts
    as not in favour (the rule is a share of all members)."""
    members = await _members(session, meeting)
    key = ballots.meeting_key(secret_key, meeting.code, meeting.ballot_salt)
    rows = (await session.execute(select(Ballot).where(Ballot.meeting_id == meeting.id))).scalars().all()
    opened = {}
    for row in rows:
        vote = ballots.open_ballot(key, meeting.code, row.member_id, row.sealed, row.commitment)
        opened[row.member_id] = {"member": row.member_id, "choice": vote.choice, "opinion": vote.opinion,
                                 "conditions": vote.conditions, "nonce": vote.nonce, "commitment": row.commitment}
    votes_for = sum(1 for v in opened.values() if v["choice"] == "approve")
    passed = len(members) > 0 and Fraction(votes_for, len(members)) >= Fraction(meeting.pass_ratio)
    meeting.votes_for, meeting.votes_against = votes_for, len(members) - votes_for
    meeting.outcome = "approved" if passed else "rejected"
    meeting.ballot_key = key.hex()
    meeting.tally = json.dumps({"members": members, "ballots": [opened[m] for m in members if m in opened],
                                "not_voted": [m for m in members if m not in opened],
                                "closed_early": closed_early}, ensure_ascii=False, sort_keys=True)
    meeting.phase, meeting.phase_changed_at = "tallied", utcnow()
    await audit.append(session, actor, "committee.tallied", "committee_meeting", meeting.code,
                       {"votes_for": votes_for, "votes_against": meeting.votes_against, "outcome": meeting.outcome,
                        "ballot_key": meeting.ballot_key, "closed_early": closed_early})


def decision_payload(meeting: Meeting) -> dict[str, Any]:
    if meeting.tally is None:
        raise Conflict("the meeting has not been tallied")
    tallied = json.loads(meeting.tally)
    conditions = [b["conditions"] for b in tallied["ballots"] if b["choice"] == "approve" and b["conditions"]]
    payload = {"outcome": meeting.outcome, "meeting_id": meeting.code, "members": tallied["members"],
               "votes_for": meeting.votes_for, "votes_against": meeting.votes_against,
               "summary": f"贷审会{meeting.code}：{len(tallied['members'])}名委员，同意{meeting.votes_for}，"
                          f"不同意{meeting.votes_against}"}
    if conditions:
        payload["conditions"] = "；".join(conditions)
    return payload


# --- reading ---------------------------------------------------------------------------------

async def view(session: AsyncSession, scope: Scope, who: Principal, meeting_id: int) -> dict[str, Any]:
    """What the caller may see. Participants see the meeting
    and its draw; after the tally only the panel members and the convener see votes and result;
    anyone else sees only where the loan went."""
    meeting = await meeting_by_id(session, meeting_id)
    participant = await _participant(session, meeting, who.user_id)
    # a meeting's participants see it whatever their loan scope; anyone else needs the loan in
    # scope, and without it the meeting answers exactly as a missing one (not "loan … not found")
    if participant:
        loan = await session.get(Loan, meeting.loan_id)
    else:
        try:
            loan = await scope.loan(session, meeting.loan_id)
        except NotFound:
            raise NotFound(MEETING_NOT_FOUND) from None
    base = {"id": meeting.id, "meeting_id": meeting.code, "loan_id": loan.id, "loan_stage": loan.stage,
            "phase": meeting.phase}
    if participant is None:
        return base
    people = await _participants(session, meeting.id)
    names = dict((await session.execute(select(User.id, User.display_name).where(
        User.id.in_([p.user_id for p in people])))).all())
    cast = {m for (m,) in (await session.execute(select(Ballot.member_id).where(Ballot.meeting_id == meeting.id)))}
    rows = await _attendance(session, meeting)
    present, attended = _present(rows), _attended(meeting, rows)
    base.update({
        "kind": meeting.kind, "panel_size": meeting.panel_size, "pass_ratio": meeting.pass_ratio,
        "scheduled_at": _iso(meeting.scheduled_at), "convener_id": meeting.convener_id,
        "my_role": participant.role if participant.active else "replaced",
        "participants": [{"user_id": p.user_id, "name": names.get(p.user_id, ""), "role": p.role,
                          "active": p.active, "voted": p.user_id in cast, "present": p.user_id in present,
                          "attended_presentation": p.user_id in attended} for p in people],
        "attendance": [_attendance_row(row, names) for row in rows],
        "quorum": {"ratio": meeting.quorum, "needed": seats_needed(Fraction(meeting.quorum), meeting.panel_size),
                   "present": len(present & set(await _members(session, meeting)))},
        "opened_at": _iso(meeting.opened_at) if meeting.opened_at else None,
        "deliberation_at": _iso(meeting.deliberation_at) if meeting.deliberation_at else None,
        "seed_commitment": meeting.seed_commitment, "committed_at": _iso(meeting.committed_at),
        "draw": (draw := json.loads(meeting.draw_record)),
        "draw_names": await _draw_names(session, draw),
        "draw_verified": verify_draw(record_of(meeting)).matches,
        "i_voted": who.user_id in cast,
    })
    may_see_result = participant.active and participant.role in ("member", "convener")
    if meeting.phase in ("tallied", "closed") and may_see_result:
        base.update({"outcome": meeting.outcome, "votes_for": meeting.votes_for,
                     "votes_against": meeting.votes_against, "tally": json.loads(meeting.tally),
                     "decision_sent": meeting.decision_sent_at is not None})
    return base


async def _draw_names(session: AsyncSession, draw: dict[str, Any]) -> dict[str, str]:
    """The display names of everyone the draw record names by user id (panel, reserves,
    exclusions, replacements): a page shows people, the record keeps ids."""
    ids = {*draw.get("panel", ()), *draw.get("reserves", ())}
    for item in draw.get("exclusions", ()):
        ids.add(item["member_id"] if isinstance(item, dict) else item[0])
    for item in draw.get("replacements", ()):
        ids.update((item.get("absent"), item.get("replacement")))
    numeric = [int(i) for i in ids if str(i).isdigit()]
    if not numeric:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(numeric)))
    return {str(user_id): name for user_id, name in rows}


async def meetings_of_loan(session: AsyncSession, workflow: loanflow.Workflow, scope: Scope,
                           loan_id: int) -> dict[str, Any]:
    loan = await scope.loan(session, loan_id)
    rows = (await session.execute(select(Meeting).where(Meeting.loan_id == loan_id).order_by(Meeting.id))).scalars()
    return {"items": [{"id": m.id, "meeting_id": m.code, "phase": m.phase, "scheduled_at": _iso(m.scheduled_at)}
                      for m in rows],
            "loan_stage": loan.stage, "next": await next_meeting(session, workflow, loan),
            "awaiting_draw": await unconvened(session, loan)}


async def closed_meetings(session: AsyncSession, loan_id: int) -> list[str]:
    """The codes of a loan's closed meetings (the caller has checked the loan's scope)."""
    rows = await session.execute(select(Meeting.code).where(Meeting.loan_id == loan_id,
                                                             Meeting.phase == "closed").order_by(Meeting.id))
    return [code for (code,) in rows]



# --- attendance and quorum -------------------------------------------------------------------

async def record_attendance(session: AsyncSession, meeting_code: str, user_id: int, role: str,
                            event: str) -> Attendance | None:
    """A seat taken (``join``; ``reconnect`` when the user was seated before) or left, as the
    media server saw it; audited. A leave of someone not seated is ignored."""
    if event not in ("join", "leave"):
        raise ValueError(f"attendance events are join or leave, not {event!r}")
    meeting = (await session.execute(select(Meeting).where(Meeting.code == meeting_code))).scalar_one_or_none()
    if meeting is None:
        return None
    last = (await session.execute(select(Attendance).where(
        Attendance.meeting_id == meeting.id, Attendance.user_id == user_id).order_by(
        Attendance.at.desc(), Attendance.id.desc()).limit(1))).scalar_one_or_none()
    if event == "leave":
        if last is None or last.event == "leave":
            return None
    elif last is not None:
        event = "reconnect"
    row = Attendance(meeting_id=meeting.id, user_id=user_id, role=role[:16], event=event, phase=meeting.phase,
                     at=utcnow())
    session.add(row)
    await session.flush()
    await audit.append(session, audit.Actor.system("committee"), "committee.attendance", "committee_meeting",
                       meeting.code, {"user": user_id, "role": role, "event": event, "phase": meeting.phase,
                                      "at": _iso(row.at)})
    return row


async def _attendance(session: AsyncSession, meeting: Meeting) -> list[Attendance]:
    # by time: rows written by concurrent connections may get their ids in another order
    return list((await session.execute(select(Attendance).where(Attendance.meeting_id == meeting.id).order_by(
        Attendance.at, Attendance.id))).scalars())


def _present(rows: list[Attendance]) -> set[int]:
    last: dict[int, str] = {}
    for row in rows:
        last[row.user_id] = row.event
    return {user for user, event in last.items() if event != "leave"}


def _intervals(rows: list[Attendance]) -> dict[int, list[tuple[dt.datetime, dt.datetime | None]]]:
    """Each user's stretches in the room: from a join or reconnect to the next leave (None: still there)."""
    spans: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = {}
    for row in rows:
        mine = spans.setdefault(row.user_id, [])
        if row.event == "leave":
            if mine and mine[-1][1] is None:
                mine[-1] = (mine[-1][0], row.at)
        elif not mine or mine[-1][1] is not None:
            mine.append((row.at, None))
    return spans


def _attended(meeting: Meeting, rows: list[Attendance]) -> set[int]:
    """Who was in the room at some time during the presentation (the open phase, from
    ``opened_at`` to ``deliberation_at``): those members may vote."""
    if meeting.opened_at is None:
        return set()
    start, end = meeting.opened_at, meeting.deliberation_at
    return {user for user, spans in _intervals(rows).items()
            if any((end is None or since <= end) and (until is None or until >= start) for since, until in spans)}


async def attended_presentation(session: AsyncSession, meeting: Meeting) -> set[int]:
    return _attended(meeting, await _attendance(session, meeting))


async def _check_quorum(session: AsyncSession, meeting: Meeting, now: dt.datetime) -> list[int]:
    """Deliberation starts at the meeting's time with a quorum of the panel in the room;
    returns the members present."""
    if now < meeting.scheduled_at:
        at = _iso(meeting.scheduled_at)
        raise Conflict(f"deliberation cannot start before the meeting's time ({at})", code="before_scheduled_time",
                       details={"at": at})
    members = await _members(session, meeting)
    present = _present(await _attendance(session, meeting))
    seated = [m for m in members if m in present]
    needed = seats_needed(Fraction(meeting.quorum), meeting.panel_size)
    if len(seated) < needed:
        names = dict((await session.execute(select(User.id, User.display_name).where(
            User.id.in_(members)))).all())
        absent = [m for m in members if m not in present]
        values = {"needed": needed, "present": len(seated), "absent": "、".join(names.get(m, str(m)) for m in absent)}
        raise Conflict("no quorum: {needed} members must be in the room, {present} are".format(**values), code="no_quorum",
                       details={**values, "present_members": seated, "absent_members": absent})
    return seated


def _attendance_row(row: Attendance, names: dict[int, str]) -> dict[str, Any]:
    return {"user_id": row.user_id, "name": names.get(row.user_id, ""), "role": row.role, "event": row.event,
            "phase": row.phase, "at": _iso(row.at)}


async def minutes(session: AsyncSession, meeting: Meeting) -> dict[str, Any]:
    """The meeting's minutes for the archive: times, attendance (every seat joined, left and
    rejoined, with times; each person's time in the room), the panel and the outcome."""
    rows = await _attendance(session, meeting)
    people = await _participants(session, meeting.id)
    names = dict((await session.execute(select(User.id, User.display_name).where(
        User.id.in_([p.user_id for p in people] + [r.user_id for r in rows])))).all())
    spans = _intervals(rows)
    attended = _attended(meeting, rows)
    return {
        "format": "las-committee-minutes/1", "meeting_id": meeting.code, "loan_id": meeting.loan_id,
        "kind": meeting.kind, "panel_size": meeting.panel_size, "quorum": meeting.quorum,
        "scheduled_at": _iso(meeting.scheduled_at),
        "opened_at": _iso(meeting.opened_at) if meeting.opened_at else None,
        "deliberation_at": _iso(meeting.deliberation_at) if meeting.deliberation_at else None,
        "closed_at": _iso(meeting.phase_changed_at) if meeting.phase == "closed" else None,
        "participants": [{"user_id": p.user_id, "name": names.get(p.user_id, ""), "role": p.role,
                          "active": p.active, "attended_presentation": p.user_id in attended,
                          "in_room": [[_iso(a), _iso(b) if b else None] for a, b in spans.get(p.user_id, [])]}
                         for p in people],
        "attendance": [_attendance_row(row, names) for row in rows],
        "outcome": meeting.outcome, "votes_for": meeting.votes_for, "votes_against": meeting.votes_against,
    }



# --- finding one's meetings ------------------------------------------------------------------

async def rooms_for(session: AsyncSession, user_id: int, *, loan_id: int | None = None) -> list[dict[str, Any]]:
    """The meetings, not yet closed, whose room this user may enter now (as for a join token:
    an active participant; officers only until deliberation), soonest first, with their link."""
    query = select(Meeting, MeetingParticipant.role).join(
        MeetingParticipant, MeetingParticipant.meeting_id == Meeting.id).where(
        MeetingParticipant.user_id == user_id, MeetingParticipant.active.is_(True), Meeting.phase != "closed")
    if loan_id is not None:
        query = query.where(Meeting.loan_id == loan_id)
    rows = (await session.execute(query.order_by(Meeting.scheduled_at, Meeting.id))).all()
    tracking = dict((await session.execute(select(Loan.id, Loan.tracking_code).where(
        Loan.id.in_({m.loan_id for m, _ in rows})))).all()) if rows else {}
    return [{"id": m.id, "meeting_id": m.code, "loan_id": m.loan_id, "tracking_code": tracking.get(m.loan_id, ""),
             "phase": m.phase, "scheduled_at": _iso(m.scheduled_at), "role": role, "url": room_url("", m)}
            for m, role in rows if role != "officer" or m.phase in OFFICER_PHASES]


async def ballot_times(session: AsyncSession, meeting_code: str) -> list[tuple[float, str]]:
    """When each ballot of the meeting was cast (Unix time, member's participant id): the archive's
    playback timeline places the votes with it (wired in as Archive.ballot_times)."""
    rows = (await session.execute(select(Ballot.cast_at, Ballot.member_id).join(
        Meeting, Meeting.id == Ballot.meeting_id).where(Meeting.code == meeting_code))).all()
    times = []
    for cast_at, member_id in rows:
        if cast_at.tzinfo is None:  # SQLite hands back the UTC it was given without its zone
            cast_at = cast_at.replace(tzinfo=dt.timezone.utc)
        times.append((cast_at.timestamp(), str(member_id)))
    return times
