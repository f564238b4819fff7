"""The browser front: pages and static files on top of the core service."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from committee.app import attach as attach_committee
from core.app import create_root
from core.config import Config
from core.context import RENDER_ERROR

from . import archive_pages, committee_pages, portal
from . import postloan_pages
from . import biometrics_pages
from .pages import JINJA, localized_errors, render_error, routes

HERE = Path(__file__).parent


def create_app(config: Config) -> web.Application:
    """Pages, static files and the core API (/api/) in one application."""
    app = create_root(config, "web")
    app.middlewares.insert(0, localized_errors)  # outside the JSON error middleware: it words what that one wrote
    app[JINJA] = Environment(loader=FileSystemLoader(HERE / "templates"),
                             autoescape=select_autoescape(["html"]), auto_reload=False)
    app[RENDER_ERROR] = render_error
    app.router.add_routes(routes)
    app.router.add_routes(portal.routes)
    app.router.add_routes(archive_pages.routes)
    app.router.add_routes(postloan_pages.routes)
    app.router.add_routes(biometrics_pages.routes)
    app.router.add_static("/static/", HERE / "static", append_version=False)
    app.router.add_routes(committee_pages.routes)
    attach_committee(app, config)  # the committee media server (Socket.IO at /socket.io/) in this process
    return app
