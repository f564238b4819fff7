"""The committee service as an aiohttp application (``loanctl serve committee``), and the
hook that puts the same media server into the web app (``loanctl serve``).

Either way the media server shares the suite's database and secret: core's API issues the
join tokens and writes phases and ballots; this process checks each Socket.IO connection's
token against the database, forwards media (``committee.sfu``), records, and follows each
live meeting's phase (``committee.media``).
"""
from __future__ import annotations

from aiohttp import web

from core.app import healthz, services_context
from core.config import Config
from core.context import SERVICE_NAME, SERVICES

from .media import CommitteeMedia

MEDIA = web.AppKey("committee_media", CommitteeMedia)
SOCKETIO_PATH = "socket.io"


async def composite_progress(request: web.Request) -> web.Response:
    """Progress of the composite video of a closed meeting (for the archivist's page)."""
    job = request.app[MEDIA].jobs.get(request.match_info["meeting"])
    if job is None:
        raise web.HTTPNotFound(text="no composite job for this meeting")
    return web.json_response(job.to_dict())


def attach(app: web.Application, config: Config) -> CommitteeMedia:
    """Serve the committee's Socket.IO signaling on ``app`` (which must provide SERVICES at
    start, as ``core.app.create_root`` and ``create_app`` below do)."""
    media = CommitteeMedia(config, lambda: app[SERVICES].db)
    app[MEDIA] = media
    media.signaling.attach(app, socketio_path=SOCKETIO_PATH)
    app.router.add_get("/committee/composites/{meeting}", composite_progress)

    async def lifetime(_app: web.Application):
        await media.start()
        yield
        await media.stop()

    app.cleanup_ctx.append(lifetime)
    return media


def create_app(config: Config) -> web.Application:
    """The committee media server alone: Socket.IO at /socket.io/, /healthz."""
    app = web.Application()
    app[SERVICE_NAME] = "committee"
    app.cleanup_ctx.append(services_context(config))
    app.router.add_get("/healthz", healthz)
    attach(app, config)
    return app
