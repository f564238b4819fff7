"""Loan cases: lists, the work queue, the case file and its notes."""
from __future__ import annotations

from aiohttp import web

from ..apispec import Body, Field, id_field
from ..context import scope, services
from ..services import loans
from . import routes

_PAGE = {"stage": Field("string", required=False, max_length=40),
         "limit": Field("integer", required=False, minimum=1, maximum=200),
         "before_id": id_field(required=False)}
NOTE = Body("LoanNote", {"text": Field("string", min_length=1, max_length=4000)})


@routes.route("GET", "/loans", summary="Loans within the caller's scope", query=_PAGE, tag="loans")
async def list_loans(request: web.Request, query: dict) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response(await loans.list_loans(session, scope(request), **query))


@routes.route("GET", "/queue", summary="The caller's work queue", query=_PAGE, tag="loans")
async def work_queue(request: web.Request, query: dict) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response(await loans.list_loans(session, scope(request), queue=True, **query))


@routes.route("GET", "/loans/{loan_id}", summary="One loan's case file", tag="loans")
async def get_loan(request: web.Request, loan_id: int) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response(await loans.get_loan(session, scope(request), loan_id))


@routes.route("POST", "/loans/{loan_id}/notes", summary="Add a note to a case file", body=NOTE, tag="loans",
              responses={201: "Added"})
async def add_note(request: web.Request, loan_id: int, body: dict) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await loans.add_note(session, scope(request), loan_id, body["text"]), status=201)
