"""The loan workflow over HTTP: applications, commands, progress, feedback, committee decisions."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from .. import loanflow
from ..apispec import Body, Field, id_field
from ..context import PRINCIPAL, principal, scope, services
from ..errors import Forbidden
from ..idempotency import IdempotencyKey, run_once
from ..orm import Office
from ..servicetoken import ServiceTokens, bearer
from ..services import intake
from ..smsgateway import inbox
from . import routes

# What every action's payload obeys (core/workflow/payload.py), as the API document states it.
PAYLOAD_RULES = (
    "the action's fields as the workflow definition lists them (GET /api/loans/{loan_id}/actions gives "
    "each field's type, choices and limits): amounts in fen (integer), dates as YYYY-MM-DD between 1900 "
    "and 2199, meeting times as ISO 8601 with an offset from a day ago to five years ahead, ids "
    "1..2147483647, text without NUL or lone surrogates; an unknown or missing field is a 422")

APPLICATION = Body("Application", {
    "action": Field("string", enum=("apply", "apply_on_behalf"),
                    description="apply: self-service; apply_on_behalf: an officer types it (代申请)"),
    "payload": Field("object", description=PAYLOAD_RULES),
    "step_up": Field("string", required=False, max_length=200,
                     description="fingerprint step-up token (POST /api/step-up) for apply_on_behalf"),
})
COMMAND = Body("Command", {
    "action": Field("string", min_length=1, max_length=64, pattern=r"[a-z_]+"),
    "payload": Field("object", description=PAYLOAD_RULES),
    "step_up": Field("string", required=False, max_length=200,
                     description="fingerprint step-up token (POST /api/step-up), needed for important actions"),
})
DECISION = Body("CommitteeDecision", {
    "loan_id": id_field(),
    "payload": Field("object", description="outcome, meeting_id, members, votes_for, votes_against, summary"),
})
FEEDBACK = Body("Feedback", {
    "topic": Field("string", enum=("product", "officer", "service", "other")),
    "text": Field("string", min_length=1, max_length=2000),
    "contact": Field("string", required=False, max_length=64),
    "tracking_code": Field("string", required=False, max_length=32),
    "id_number": Field("string", required=False, max_length=32),
})
COMMITTEE_AUDIENCE = "core"
COMMITTEE_SCOPE = "committee_decision"


def _owner(request: web.Request) -> str:
    who = request.get(PRINCIPAL)
    return f"user:{who.user_id}" if who else f"portal:{request.remote}"


async def _intake_office(session) -> int:
    office = (await session.execute(select(Office.id).where(Office.kind == "intake_center").order_by(Office.id)
                                    .limit(1))).scalar_one_or_none()
    if office is None:
        office = (await session.execute(select(Office.id).where(Office.parent_id.is_(None)).limit(1))).scalar_one()
    return office


@routes.route("POST", "/applications", summary="Apply for a loan (portal, or an officer for a customer)",
              body=APPLICATION, public=True, tag="workflow", responses={201: "Application received"})
async def apply(request: web.Request, body: dict) -> web.Response:
    svc = services(request)
    who = request.get(PRINCIPAL)
    caller = loanflow.Caller.of(who) if who else loanflow.Caller.portal()
    if body["action"] == "apply_on_behalf" and who is None:
        raise Forbidden("sign in to apply on a customer's behalf")

    async def work(session):
        office = await _intake_office(session)
        return 201, await loanflow.apply(session, svc.workflow, caller, body["action"], body["payload"],
                                         intake_office_id=office, step_up=body.get("step_up"),
                                         require_step_up=svc.config.step_up == "required")
    return await run_once(svc.db, IdempotencyKey.of(request, _owner(request), body), work)


@routes.route("POST", "/loans/{loan_id}/commands", summary="Take an action on a loan", body=COMMAND,
              tag="workflow", responses={200: "Done", 409: "The loan moved on (another command won)",
                                         422: "Refused by a guard or the payload"})
async def command(request: web.Request, loan_id: int, body: dict) -> web.Response:
    svc = services(request)
    who = principal(request)

    async def work(session):
        return 200, await loanflow.execute(session, svc.workflow, svc.scope(who), loanflow.Caller.of(who),
                                           loan_id, body["action"], body["payload"], step_up=body.get("step_up"),
                                           require_step_up=svc.config.step_up == "required")
    return await run_once(svc.db, IdempotencyKey.of(request, _owner(request), body), work)


@routes.route("GET", "/loans/{loan_id}/actions", summary="The actions open to the caller on a loan", tag="workflow")
async def actions(request: web.Request, loan_id: int) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work(write=False) as session:
        loan = await scope(request).loan(session, loan_id)
        items = await loanflow.options(session, svc.workflow, scope(request), loan,
                                       loanflow.Caller.of(principal(request)))
    return web.json_response({"items": items})


@routes.route("GET", "/loans/{loan_id}/history", summary="The loan's command record", tag="workflow")
async def history(request: web.Request, loan_id: int) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work(write=False) as session:
        loan = await scope(request).loan(session, loan_id)
        return web.json_response({"items": await loanflow.history(session, svc.workflow, loan)})


@routes.route("GET", "/loans/{loan_id}/credit-history", summary="The customer's earlier record (early credit view)",
              tag="workflow")
async def credit_view(request: web.Request, loan_id: int) -> web.Response:
    svc = services(request)
    who = principal(request)
    if who.roles <= {"applicant"}:
        raise Forbidden("the credit view is for staff")
    async with svc.db.unit_of_work(write=False) as session:
        loan = await scope(request).loan(session, loan_id)
        result = await loanflow.credit_history(session, loan.customer_id, excluding=loan.id)
    return web.json_response(result)


@routes.route("GET", "/loans/{loan_id}/dispatch-suggestion", summary="Where the dispatch rules send a case",
              query={"region": Field("string", required=False, max_length=64)}, tag="workflow")
async def dispatch_suggestion(request: web.Request, loan_id: int, query: dict) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work(write=False) as session:
        return web.json_response(await intake.dispatch_suggestion(session, svc.workflow, scope(request), loan_id,
                                                                  query.get("region")))


@routes.route("GET", "/progress", summary="Progress of an application (tracking code plus ID number or phone)",
              public=True, tag="portal",
              query={"tracking_code": Field("string", min_length=4, max_length=32),
                     "id_number": Field("string", required=False, max_length=32),
                     "phone": Field("string", required=False, max_length=32)},
              responses={200: "The application's stage and steps", 404: "No match"})
async def progress(request: web.Request, query: dict) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work(write=False) as session:
        return web.json_response(await intake.progress(session, svc.workflow, query["tracking_code"],
                                                       id_number=query.get("id_number"), phone=query.get("phone")))


@routes.route("POST", "/feedback", summary="Leave an opinion or suggestion", body=FEEDBACK, public=True, tag="portal",
              responses={201: "Received"})
async def feedback(request: web.Request, body: dict) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await intake.leave_feedback(session, body), status=201)


@routes.route("GET", "/feedback", summary="Feedback for the offices the caller oversees", tag="portal")
async def list_feedback(request: web.Request) -> web.Response:
    who = principal(request)
    if not who.has("manager", "chairman"):
        raise Forbidden("feedback is read by managers")
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response({"items": await intake.list_feedback(session, scope(request))})


@routes.route("POST", "/committee/decisions", summary="The committee's decision (committee service token only)",
              body=DECISION, public=True, tag="workflow",
              responses={200: "Recorded", 401: "No valid committee service token"})
async def committee_decision(request: web.Request, body: dict) -> web.Response:
    svc = services(request)
    claims = ServiceTokens(svc.config.secret_key).verify(
        bearer(request.headers.get("Authorization")), audience=COMMITTEE_AUDIENCE, scope=COMMITTEE_SCOPE)
    caller = loanflow.Caller.committee_service(claims["sub"][:64])

    async def work(session):
        return 200, await loanflow.execute(session, svc.workflow, None, caller, body["loan_id"],
                                           "committee_decision", body["payload"])
    return await run_once(svc.db, IdempotencyKey.of(request, f"service:{claims['sub']}", body), work)


@routes.route("GET", "/messages", summary="Notifications delivered to the caller", tag="portal")
async def messages(request: web.Request) -> web.Response:
    who = principal(request)
    async with services(request).db.unit_of_work(write=False) as session:
        rows = await inbox(session, user_id=who.user_id)
    return web.json_response({"items": [{"id": m.outbox_id, "text": m.text, "at": m.delivered_at.isoformat()}
                                        for m in rows]})


@routes.route("GET", "/workflow", summary="The current workflow: stages and actions", tag="workflow")
async def workflow(request: web.Request) -> web.Response:
    principal(request)
    definition = services(request).workflow.current
    return web.json_response({
        "version": definition.version,
        "stages": [{"code": s.code, "name_zh": s.name_zh, "name_en": s.name_en, "end": s.is_end}
                   for s in definition.stages.values()],
        "actions": [{"code": a.code, "name_zh": a.name_zh, "name_en": a.name_en, "from": list(a.from_stages),
                     "roles": sorted(a.roles), "important": a.important} for a in definition.actions.values()],
    })
