"""Committee pages: the convener's meeting setup for a loan (with the draw record) and the
meeting room (video tiles, phase banner, convener's controls, vote panel)."""
from __future__ import annotations

from aiohttp import web

from committee import service
from committee.reconnection import ReconnectPolicy
from core.apispec import path_id
from core.context import principal, scope, services
from core.orm import Loan

from .pages import case_file_of, render, signed_in

routes = web.RouteTableDef()



@routes.get(r"/committee/loans/{loan_id:[0-9]{1,10}}")
async def setup_page(request: web.Request) -> web.Response:
    signed_in(request)
    svc = services(request)
    loan_id = path_id(request, "loan_id")
    async with svc.db.unit_of_work(write=False) as session:
        listing = await service.meetings_of_loan(session, svc.workflow, scope(request), loan_id)
        latest = None
        if listing["items"]:
            latest = await service.view(session, scope(request), principal(request), listing["items"][-1]["id"])
        row = await scope(request).loan(session, loan_id)
        findings = await case_file_of(request, session, row)
    return render(request, "committee_setup.html", loan_id=loan_id, listing=listing, latest=latest,
                  case_file=findings, tracking_code=row.tracking_code)


@routes.get(r"/committee/meetings/{meeting_id:[0-9]{1,10}}")
async def room_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        view = await service.view(session, scope(request), principal(request), path_id(request, "meeting_id"))
        # every member reads what the officers, the reviewer and the intake found before voting
        row = await session.get(Loan, view["loan_id"])
        findings = await case_file_of(request, session, row) if view.get("my_role") or principal(request).roles - {"applicant"} else []
    return render(request, "committee_room.html", view=view, next_phase=service.NEXT_PHASE.get(view["phase"]),
                  case_file=findings, tracking_code=row.tracking_code,
                  reconnect=ReconnectPolicy.from_env().for_page(),
                  # where the page opens its signaling: the committee nodes, or (empty) this origin
                  committee_url=services(request).config.committee_url)
