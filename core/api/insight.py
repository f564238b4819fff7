"""Statistics and supervision over HTTP: the dashboard, its charts (SVG) and exports."""
from __future__ import annotations

from aiohttp import web

from ..apispec import Field
from ..context import principal, scope, services
from ..errors import Forbidden, InvalidInput
from ..insight import charts, export, figures, spans
from ..orm import utcnow
from . import routes

READERS = ("manager", "chairman")
TABLES = {"by_stage": ("key", "applications", "approved", "rejected", "amount_fen"),
          "by_product": ("key", "applications", "approved", "rejected", "amount_fen"),
          "by_office": ("key", "applications", "approved", "rejected", "amount_fen"),
          "by_month": ("key", "applications", "approved", "rejected", "amount_fen"),
          "stage_times": ("stage", "count", "average_hours", "deadline", "late", "late_rate"),
          "officers": ("officer", "cases", "amount_fen", "overdue_rate", "average_days", "ratings", "attitude", "skill"),
          "supervision": ("stage", "office", "person", "cases", "late")}
_DAYS = {"days": Field("integer", required=False, minimum=1, maximum=3660)}


def _reader(request: web.Request):
    who = principal(request)
    if not who.has(*READERS):
        raise Forbidden("statistics are for managers and the chairman")
    return who


async def load(request: web.Request, days: int) -> dict:
    _reader(request)
    svc = services(request)
    async with svc.db.unit_of_work() as session:  # fold in history recorded since the last pass
        await spans.refresh(session, svc.workflow.current)
    # The fold is a small write (only records new since the last pass) and stays on the primary;
    # the figures, the heavy reads, come from the replica when there is one, as of its replay.
    # Kept while the data version (the audit chain's head) is unchanged, for up to a minute.
    async with svc.reports.unit_of_work(write=False) as session:
        reader, now = scope(request), utcnow()
        return await svc.figures_cache.get(
            session, reader, now, ("dashboard", days, svc.workflow.current.version),
            lambda: figures.dashboard(session, reader, now, days, svc.workflow.current))


def chart_of(data: dict, title: str = "Applications and approvals by office",
             names: tuple[str, str, str] = ("applications", "approved", "rejected"), unit: str = "cases") -> str:
    rows = data["by_office"]
    return charts.bar_chart(title, [r["key"] for r in rows],
                            [(names[0], [r["applications"] for r in rows]), (names[1], [r["approved"] for r in rows]),
                             (names[2], [r["rejected"] for r in rows])], unit=unit)


@routes.route("GET", "/insight/dashboard", summary="Live figures within the caller's subtree", query=_DAYS, tag="insight")
async def dashboard(request: web.Request, query: dict) -> web.Response:
    return web.json_response(await load(request, query.get("days", 365)))


@routes.route("GET", "/insight/chart.svg", summary="The dashboard's bar chart as SVG", query=_DAYS, tag="insight",
              produces="image/svg+xml")
async def chart(request: web.Request, query: dict) -> web.Response:
    data = await load(request, query.get("days", 365))
    return web.Response(text=chart_of(data), content_type="image/svg+xml")


@routes.route("GET", "/insight/export", summary="A dashboard table as CSV, or all tables as Excel",
              query={**_DAYS, "format": Field("string", enum=("csv", "xlsx")),
                     "table": Field("string", required=False, enum=tuple(TABLES))}, tag="insight",
              produces=("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
async def export_tables(request: web.Request, query: dict) -> web.Response:
    data = await load(request, query.get("days", 365))
    if query["format"] == "csv":
        table = query.get("table")
        if not table:
            raise InvalidInput("table is required for CSV", details={"table": "required"})
        body = export.to_csv(data[table], TABLES[table])
        return web.Response(body=body, content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{table}.csv"'})
    body = export.to_xlsx((name, data[name], columns) for name, columns in TABLES.items())
    return web.Response(body=body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="insight.xlsx"'})
