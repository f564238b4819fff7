"""Pages of post-loan management and statistics: the desk, a loan's calendar and records,
the statistics page (server-drawn chart, late cases, supervision) and the portal rating form."""
from __future__ import annotations

from aiohttp import web

from core.api.insight import chart_of, load
from core.apispec import path_id
from core.context import PRINCIPAL, principal, scope, services
from core.errors import Forbidden
from core.postloan import service
from core.postloan.service import RECORD_KINDS
from core.services import intake

from .pages import render, signed_in

routes = web.RouteTableDef()


@routes.get("/postloan")
async def desk_page(request: web.Request) -> web.Response:
    signed_in(request)
    who = principal(request)
    async with services(request).db.unit_of_work(write=False) as session:
        loans = await service.desk(session, scope(request))
        imports = await service.unchecked_imports(session, scope(request)) if who.has("manager", "chairman") else []
    return render(request, "postloan_desk.html", loans=loans, imports=imports)


@routes.get(r"/postloan/loans/{loan_id:[0-9]{1,10}}")
async def loan_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        loan = await service.schedule_of(session, scope(request), path_id(request, "loan_id"))
    return render(request, "postloan_loan.html", loan=loan, kinds=RECORD_KINDS,
                  can_record=principal(request).user_id == loan["manager_id"] and loan["status"] == "active")


@routes.get("/insight")
async def insight_page(request: web.Request) -> web.Response:
    signed_in(request)
    who = principal(request)
    if not who.has("manager", "chairman"):
        raise Forbidden("statistics are for managers and the chairman")
    data = await load(request, 365)
    async with services(request).db.unit_of_work(write=False) as session:
        feedback = await intake.list_feedback(session, scope(request))
    return render(request, "insight_dashboard.html", data=data, chart=chart_of(data), feedback=feedback)


@routes.get("/rate")
async def rating_page(request: web.Request) -> web.Response:
    return render(request, "postloan_rate.html", signed=request.get(PRINCIPAL) is not None)
