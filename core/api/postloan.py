"""Post-loan management over HTTP: the desk, schedules, records, import checks, ratings."""
from __future__ import annotations

from aiohttp import web

from ..apispec import Body, Field
from ..inputs import MAX_FEN as MONEY_MAX_FEN
from ..context import principal, scope, services
from ..errors import Forbidden
from ..postloan import service
from . import routes

RECORD = Body("PostLoanRecord", {
    "kind": Field("string", enum=tuple(service.RECORD_KINDS)),
    "on_day": Field("string", required=False, pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    "covers_due_on": Field("string", required=False, pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
                           description="the interest date a repayment settles"),
    "amount_fen": Field("integer", required=False, minimum=0, maximum=MONEY_MAX_FEN, description="principal repaid (repayment_proof)"),
    "summary": Field("string", required=False, max_length=4000),
    "details": Field("object", required=False),
    "pages": Field("array", max_items=20, items=Field("object"),
                   description="scanned pages: filename, media_type, content_base64"),
})
RATING = Body("OfficerRating", {
    "tracking_code": Field("string", min_length=4, max_length=32),
    "id_number": Field("string", min_length=4, max_length=32),
    "attitude": Field("integer", minimum=1, maximum=5, description="service attitude 1–5"),
    "skill": Field("integer", minimum=1, maximum=5, description="professional skill 1–5"),
    "suggestions": Field("string", required=False, max_length=2000),
})


def _pages_dir(request: web.Request):
    return services(request).config.data_dir / "postloan-pages"


@routes.route("GET", "/postloan/loans", summary="Loans under post-loan management in the caller's scope", tag="postloan")
async def desk(request: web.Request) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response({"items": await service.desk(session, scope(request))})


@routes.route("GET", "/postloan/loans/{loan_id}", summary="A managed loan: calendar, tasks and records", tag="postloan")
async def schedule(request: web.Request, loan_id: int) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response(await service.schedule_of(session, scope(request), loan_id))


@routes.route("POST", "/postloan/loans/{loan_id}/records", summary="File an inspection, interest list, collection "
              "notice or repayment proof with its scanned pages", body=RECORD, tag="postloan",
              responses={201: "Filed", 403: "Not the loan's manager, or no matching fingerprint"})
async def add_record(request: web.Request, loan_id: int, body: dict) -> web.Response:
    svc = services(request)
    who = principal(request)
    async with svc.db.unit_of_work() as session:
        result = await service.record(session, svc.workflow, scope(request), who, loan_id, body["kind"], body,
                                      pages_dir=_pages_dir(request), archive=svc.ports.archive,
                                      check_document=svc.ports.check_document)
    return web.json_response(result, status=201)


@routes.route("GET", "/postloan/imports", summary="Imported loans waiting for a manager's check", tag="postloan")
async def imports(request: web.Request) -> web.Response:
    if not principal(request).has("manager", "chairman"):
        raise Forbidden("imported loans are checked by managers")
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response({"items": await service.unchecked_imports(session, scope(request))})


@routes.route("POST", "/postloan/loans/{loan_id}/check", summary="A manager confirms an imported loan", tag="postloan")
async def check(request: web.Request, loan_id: int) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await service.check_imported(session, scope(request), principal(request), loan_id))


@routes.route("POST", "/ratings", summary="Rate the officer after the loan is closed (tracking code plus ID number)",
              body=RATING, public=True, tag="portal", responses={201: "Received", 409: "Not open for rating"})
async def rate(request: web.Request, body: dict) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await service.rate_officer(session, body), status=201)
