"""Committee pages: the convener's meeting setup for a loan (with the draw record) and the
meeting room (video tiles, phase banner, convener's controls, vote panel)."""
from __future__ import annotations

from aiohttp import web

from committee import service
from core.apispec import path_id
from core.context import principal, scope, services

from .pages import render, signed_in

routes = web.RouteTableDef()

PHASE_NAMES = {"scheduled": "待开会 Scheduled", "open": "汇报答询 Officers present", "deliberation": "闭门审议 Deliberation",
               "voting": "表决 Voting", "tallied": "已计票 Tallied", "closed": "已结束 Closed"}


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
    return render(request, "committee_setup.html", loan_id=loan_id, listing=listing, latest=latest,
                  phase_names=PHASE_NAMES)


@routes.get(r"/committee/meetings/{meeting_id:[0-9]{1,10}}")
async def room_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        view = await service.view(session, scope(request), principal(request), path_id(request, "meeting_id"))
    return render(request, "committee_room.html", view=view, phase_names=PHASE_NAMES,
                  next_phase=service.NEXT_PHASE.get(view["phase"]))
