"""The public portal (网上申请): apply, follow progress, leave feedback — no sign-in needed."""
from __future__ import annotations

import datetime

from aiohttp import web

from core.context import services

from .pages import render

routes = web.RouteTableDef()


@routes.get("/portal")
async def apply_page(request: web.Request) -> web.Response:
    products = services(request).workflow.rules.at(datetime.date.today()).products
    return render(request, "portal_apply.html", products=products.values())


@routes.get("/portal/progress")
async def progress_page(request: web.Request) -> web.Response:
    return render(request, "portal_progress.html", code=request.query.get("code", "")[:32])


@routes.get("/portal/feedback")
async def feedback_page(request: web.Request) -> web.Response:
    return render(request, "portal_feedback.html")
