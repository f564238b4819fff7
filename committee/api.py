"""Committee meetings over HTTP: convene (and draw), join tokens for the media server, phases,
absent members, sealed ballots; the decision is sent on to the workflow after the tally."""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager

from aiohttp import web

from core.api import routes
from core.apispec import Body, Field, id_field
from core.audit import Actor, append
from core.context import principal, scope, services
from core.errors import Forbidden, InvalidInput, ServiceError
from core.orm import utcnow

from . import ballots as ballot_mod
from . import decision as decision_mod
from . import service as committee

logger = logging.getLogger(__name__)

CONVENE = Body("CommitteeConvene", {
    "loan_id": id_field(),
    "meeting_at": Field("string", max_length=40, description="ISO-8601 time with zone"),
    "step_up": Field("string", required=False, max_length=200,
                     description="fingerprint step-up token for convene_committee (POST /api/step-up)"),
})
PHASE = Body("CommitteePhase", {"phase": Field("string", enum=committee.PHASES[1:])})
ABSENT = Body("CommitteeAbsent", {"member_id": id_field(),
                                  "reason": Field("string", min_length=1, max_length=200)})
BALLOT = Body("CommitteeBallot", {
    "choice": Field("string", enum=ballot_mod.CHOICES),
    "opinion": Field("string", min_length=1, max_length=ballot_mod.MAX_OPINION_CHARS),
    "conditions": Field("string", required=False, max_length=ballot_mod.MAX_CONDITIONS_CHARS),
    "nonce": Field("string", min_length=16, max_length=64, description="random, chosen by the voter's page"),
    "step_up": Field("string", required=False, max_length=200,
                     description="step-up token: action committee_vote, this loan, SHA-256 of "
                                 "{meeting_id, choice, opinion, conditions, nonce}"),
})


async def _deliver_decision(request: web.Request, meeting_id: int) -> dict:
    """Send a tallied, unsent decision to core (over HTTP, as the committee service)."""
    svc = services(request)
    async with svc.db.unit_of_work(write=False) as session:
        meeting = await committee.meeting_by_id(session, meeting_id)
        if meeting.phase not in ("tallied", "closed") or meeting.decision_sent_at is not None:
            return {}
        payload, loan_id = committee.decision_payload(meeting), meeting.loan_id
    base = decision_mod.core_url(str(request.url.origin()))
    try:
        await decision_mod.send_decision(base, svc.config.secret_key, loan_id, payload,
                                         ssl_context=decision_mod.client_ssl(svc.config.data_dir))
    except Exception as error:  # core unreachable or refusing: the meeting keeps the decision
        logger.warning("committee decision for %s not delivered: %s", payload["meeting_id"], error)
        return {"decision_error": str(error)}
    async with svc.db.unit_of_work() as session:
        meeting = await committee.meeting_by_id(session, meeting_id, for_update=True)
        meeting.decision_sent_at = utcnow()
        await append(session, Actor.system("committee"), "committee.decision_sent", "committee_meeting",
                     meeting.code, {"loan_id": loan_id, "outcome": payload["outcome"]})
    return {}


@contextmanager
def _in_their_language(request: web.Request):
    """A refusal the catalogue words (attendance, quorum) is answered in the caller's language."""
    try:
        yield
    except ServiceError as error:
        wording = services(request).ports.wording  # the catalogue, wired in by core.app
        if wording is not None:
            language = wording.language(request.cookies.get("lang"), request.headers.get("Accept-Language", ""))
            worded = wording.refusal(error.code, language, error.details)
            if worded is not None:
                error.message = worded
        raise


async def _file_minutes(request: web.Request, session, meeting) -> None:
    """The closed meeting's minutes (attendance with times) into the loan's credit file."""
    from recordings.service import file_record

    from recordings.api import ARCHIVE

    archive = request.config_dict.get(ARCHIVE)
    if archive is None:  # a suite without its archive: the minutes stay readable from the meeting
        logger.warning("no archive: the minutes of %s are not filed", meeting.code)
        return
    data = json.dumps(await committee.minutes(session, meeting), ensure_ascii=False, indent=2,
                      sort_keys=True).encode()
    blob = await archive.store.put_bytes(data)
    await file_record(session, archive, meeting.loan_id, "committee_minutes", blob.digest, blob.size,
                      f"贷审会{meeting.code}会议纪要（出席记录）", actor=Actor.system("committee"),
                      media_type="application/json", meeting_id=meeting.code)


async def _view(request: web.Request, meeting_id: int, extra: dict | None = None, status: int = 200) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        data = await committee.view(session, scope(request), principal(request), meeting_id)
    return web.json_response({**data, **(extra or {})}, status=status)


@routes.route("POST", "/committee/meetings", body=CONVENE, tag="committee", responses={201: "Convened and drawn"},
              summary="Call the committee meeting for a loan: commit the seed, freeze the pool, draw the panel")
async def convene(request: web.Request, body: dict) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        meeting = await committee.convene(session, svc.workflow, scope(request), principal(request),
                                          loan_id=body["loan_id"], meeting_at=body["meeting_at"],
                                          step_up=body.get("step_up"), require_step_up=svc.config.step_up == "required",
                                          site_url=str(request.url.origin()))
        meeting_id = meeting.id
    return await _view(request, meeting_id, status=201)


@routes.route("POST", "/committee/loans/{loan_id}/draw", tag="committee", responses={201: "Drawn"},
              summary="Draw the panel for a loan called to the committee by the workflow command itself")
async def draw_convened(request: web.Request, loan_id: int) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        meeting = await committee.draw_for_convened(session, svc.workflow, scope(request), principal(request), loan_id,
                                                    site_url=str(request.url.origin()))
        meeting_id = meeting.id
    return await _view(request, meeting_id, status=201)


@routes.route("GET", "/committee/meetings/{meeting_id}", tag="committee",
              summary="A meeting as the caller may see it (votes and result only for its members)")
async def show(request: web.Request, meeting_id: int) -> web.Response:
    return await _view(request, meeting_id)


@routes.route("GET", "/committee/loans/{loan_id}/meetings", tag="committee", summary="A loan's committee meetings, and the id and kind of the next one")
async def of_loan(request: web.Request, loan_id: int) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response(await committee.meetings_of_loan(session, services(request).workflow,
                                                                   scope(request), loan_id))


@routes.route("POST", "/committee/meetings/{meeting_id}/join", tag="committee",
              summary="A short-lived join token for the committee media server (participants only)")
async def join(request: web.Request, meeting_id: int) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        token = await committee.issue_join_token(session, svc.config.secret_key, principal(request),
                                                 meeting_id)
    return web.json_response(token)


@routes.route("POST", "/committee/meetings/{meeting_id}/phase", body=PHASE, tag="committee",
              summary="The convener moves the meeting to its next phase (voting -> tallied closes the vote)")
async def phase(request: web.Request, body: dict, meeting_id: int) -> web.Response:
    svc = services(request)
    with _in_their_language(request):
        async with svc.db.unit_of_work() as session:
            meeting = await committee.change_phase(session, svc.config.secret_key, principal(request), meeting_id,
                                                   body["phase"])
            if meeting.phase == "closed":
                await _file_minutes(request, session, meeting)
    return await _view(request, meeting_id, await _deliver_decision(request, meeting_id))


@routes.route("POST", "/committee/meetings/{meeting_id}/absent", body=ABSENT, tag="committee",
              summary="Replace an absent panel member by the next reserve (logged re-draw)")
async def absent(request: web.Request, body: dict, meeting_id: int) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        await committee.mark_absent(session, principal(request), meeting_id, body["member_id"], body["reason"],
                                    site_url=str(request.url.origin()))
    return await _view(request, meeting_id)


@routes.route("POST", "/committee/meetings/{meeting_id}/ballots", body=BALLOT, tag="committee",
              responses={201: "Sealed"},
              summary="A member's sealed vote, confirmed with their fingerprint (once per member)")
async def ballot(request: web.Request, body: dict, meeting_id: int) -> web.Response:
    svc = services(request)
    try:
        vote = ballot_mod.Vote(body["choice"], body["opinion"], body.get("conditions", ""), body["nonce"])
    except ballot_mod.BallotError as error:
        raise InvalidInput(str(error)) from None
    with _in_their_language(request):
        async with svc.db.unit_of_work() as session:
            await committee.cast_ballot(session, svc.config.secret_key, principal(request), meeting_id, vote,
                                        step_up=body.get("step_up"),
                                        require_step_up=svc.config.step_up == "required")
    return await _view(request, meeting_id, await _deliver_decision(request, meeting_id), status=201)


@routes.route("POST", "/committee/meetings/{meeting_id}/decision", tag="committee",
              summary="Send a tallied decision to the workflow again (after core was unreachable)")
async def resend(request: web.Request, meeting_id: int) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        meeting, _ = await committee.meeting_taken_part(session, principal(request), meeting_id)
        if meeting.convener_id != principal(request).user_id:
            raise Forbidden("only the meeting's convener does this")
    return await _view(request, meeting_id, await _deliver_decision(request, meeting_id))


@routes.route("GET", "/committee/mine", tag="committee",
              summary="The caller's committee meetings not yet closed whose room they may enter, with links")
async def mine(request: web.Request) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response({"items": await committee.rooms_for(session, principal(request).user_id)})
