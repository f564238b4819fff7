"""The core loan service as an aiohttp application, and the composition root of the suite.

Core is the base every other package builds on and imports none of them (docs/internals.md).
This module and core/cli.py are the exception: they assemble the suite. `assemble` mounts the
archive's and the committee's HTTP handlers (recordings.api, committee.api) and the
fingerprint service (biometrics.wiring), and returns their implementations of core's ports
(core.ports), which `Services` hands to the use cases.
"""
from __future__ import annotations

import asyncio
import importlib
from typing import AsyncIterator

from aiohttp import web
from sqlalchemy import text

from . import middleware
from .api import routes
from .config import Config
from .context import PORTS, SERVICE_NAME, SERVICES, Services
from .db import DatabaseUnavailable
from .ports import Ports
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


# The other packages' tables, for the metadata of the whole database (core.orm.Base): the
# composition root assembles them, core.orm itself holds only core's.
TABLE_MODULES = ("recordings.tables", "biometrics.tables", "committee.tables")


def load_tables() -> None:
    """Import every package's tables so that `core.orm.Base.metadata` describes the whole
    database (the migrations' environment, a dump, a check over every table)."""
    for module in TABLE_MODULES:
        importlib.import_module(module)


def services_context(config: Config):
    """Cleanup context: open the database (migrated) for the app's life, close it after. The
    ports the composition root put into the app (PORTS) are handed to the services."""
    async def context(app: web.Application) -> AsyncIterator[None]:
        svc = Services.build(config, app.get(PORTS))
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
    app[PORTS] = assemble(app, config)
    app.add_subapp("/api/", create_api(config))
    return app


def assemble(app: web.Application, config: Config) -> Ports:
    """Mount the other services' handlers on `app` (before /api/ is built: they register
    operations there) and return their implementations of core's ports."""
    # Imported here, not at the top: the committee and the web front build on this module.
    from biometrics.wiring import StepUpTokens, attach
    from committee import api as _committee_api  # noqa: F401  (registers the committee's /api/ operations)
    from committee.service import ballot_times
    from recordings import api as archive_api
    from recordings.filing import ArchiveFiling, check_document
    from web.wording import CatalogueWording

    load_tables()
    archive_api.mount(app, config)  # the credit archive: blob store, tus uploads at /api/uploads/
    app[archive_api.ARCHIVE].ballot_times = ballot_times  # the playback timeline's votes
    attach(app, config)  # the fingerprint service at /biometrics/, its loan operations in /api/
    return Ports(step_up=StepUpTokens(), archive=ArchiveFiling(app[archive_api.ARCHIVE]),
                 check_document=check_document, wording=CatalogueWording())


def create_app(config: Config) -> web.Application:
    """The core service alone: /api/ and /healthz."""
    return create_root(config, "core")
