"""Pages of the fingerprint service: enrollment at investigation, the disbursement desk, the
staff member's own fingers (for step-up). The pages only lay out; fingerprint.js reads the
files the scanner software saved and talks to the JSON API."""
from __future__ import annotations

from aiohttp import web

from biometrics.loanapi import prints
from core.apispec import path_id
from core.context import principal, scope, services
from core.errors import Forbidden

from .pages import render, signed_in

routes = web.RouteTableDef()


async def _status(request: web.Request) -> dict:
    signed_in(request)
    return await prints(request).status(scope(request), path_id(request, "loan_id"))


@routes.get(r"/loans/{loan_id:[0-9]{1,10}}/fingerprints/enroll")
async def enroll_page(request: web.Request) -> web.Response:
    status = await _status(request)
    async with services(request).db.unit_of_work(write=False) as session:
        loan = await scope(request).loan(session, status["loan_id"])
        officer_a = loan.officer_a_id == principal(request).user_id
    return render(request, "biometrics_enroll.html", info=status, officer_a=officer_a)


@routes.get(r"/loans/{loan_id:[0-9]{1,10}}/fingerprints/desk")
async def desk_page(request: web.Request) -> web.Response:
    status = await _status(request)
    if not principal(request).has("credit_accountant"):
        raise Forbidden("the disbursement desk is for the disbursement clerk")
    return render(request, "biometrics_desk.html", info=status)


@routes.get("/me/fingerprints")
async def my_prints_page(request: web.Request) -> web.Response:
    signed_in(request)
    return render(request, "biometrics_me.html", step_up=services(request).config.step_up)
