"""The core loan service as an aiohttp application."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import web
from sqlalchemy import text

from . import middleware
from .api import archive, routes
from .config import Config
from .context import SERVICE_NAME, SERVICES, Services
from .db import DatabaseUnavailable
from .postloan.runner import background_context


HEALTH_TIMEOUT_SECONDS = 3
REQUEST_LIMIT = web.AppKey("request_limit", middleware.RequestLimit)


def create_api(config: Config) -> web.Application:
    """The JSON API, to be mounted under /api/ of a root application."""
    api = web.Application(client_max_size=config.max_json_body)
    routes.apply(api)
    return api


async def healthz(request: web.Request) -> web.Response:
    """Up, or why not: a load balancer takes the process out of rotation on 503."""
    svc = request.config_dict[SERVICES]
    name = request.config_dict[SERVICE_NAME]
    limit = request.config_dict.get(REQUEST_LIMIT)
    load = {"requests_in_flight": limit.busy, "request_limit": limit.limit, "requests_shed": limit.shed} \
        if limit is not None else {}
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            async with svc.db.unit_of_work(write=False) as session:
                await session.execute(text("SELECT 1"))
    except (DatabaseUnavailable, TimeoutError):
        return web.json_response({"status": "unavailable", "service": name, "database": "down", **load},
                                 status=503, headers={"Retry-After": str(DatabaseUnavailable.retry_after)})
    return web.json_response({"status": "ok", "service": name, "database": "up", **load})


def services_context(config: Config):
    """Cleanup context: open the database (migrated) for the app's life, close it after."""
    async def context(app: web.Application) -> AsyncIterator[None]:
        svc = Services.build(config)
        await svc.start()
        app[SERVICES] = svc
        yield
        await svc.close()
    return context


def create_root(config: Config, service_name: str) -> web.Application:
    limit = middleware.RequestLimit(config.max_concurrent_requests)
    app = web.Application(
        client_max_size=config.max_json_body,
        # The bound first: shedding a request must cost no session lookup.
        middlewares=[limit.middleware(), middleware.errors, middleware.sessions, middleware.csrf])
    app[SERVICE_NAME] = service_name
    app[REQUEST_LIMIT] = limit
    app.cleanup_ctx.append(services_context(config))
    app.cleanup_ctx.append(background_context(config))  # post-loan scheduler, outbox worker, SMS receipts
    app.on_response_prepare.append(middleware.security_headers)
    app.router.add_get("/healthz", healthz)
    archive.mount(app, config)  # the credit archive: blob store, tus uploads at /api/uploads/
    from biometrics.wiring import attach
    attach(app, config)  # the fingerprint service at /biometrics/, its loan operations in /api/
    app.add_subapp("/api/", create_api(config))
    return app


def create_app(config: Config) -> web.Application:
    """The core service alone: /api/ and /healthz."""
    return create_root(config, "core")
