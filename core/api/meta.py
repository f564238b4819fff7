"""The API's own description."""
from __future__ import annotations

from aiohttp import web

from . import routes


@routes.route("GET", "/openapi.json", summary="This OpenAPI document", public=True, tag="meta")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(routes.openapi(title="Loan Acceptance Suite — core API",
                                            version="1", prefix="/api"))
