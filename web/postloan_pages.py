"""Pages of post-loan management and statistics: the desk, a loan's calendar and records,
the statistics page (server-drawn chart, late cases, supervision) and the portal rating form."""
from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import select

from core.api.insight import TABLES, load
from core.apispec import path_id
from core.insight.charts import bar_chart
from core.context import PRINCIPAL, principal, scope, services
from core.errors import InvalidInput
from core.insight import export
from core.orm import Office
from core.postloan import service
from core.postloan.service import RECORD_KINDS
from core.services import intake

from .i18n import Catalogue
from .pages import labels, render, signed_in

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
    data, c, office = await _figures(request)
    async with services(request).db.unit_of_work(write=False) as session:
        feedback = await intake.list_feedback(session, scope(request))
    return render(request, "insight_dashboard.html", data=data, charts=dashboard_charts(data, c, office),
                  feedback=feedback, office_name=office)


async def _figures(request: web.Request):
    """The dashboard's figures for the reader, their catalogue, and office names in their language."""
    signed_in(request)
    data = await load(request, 365)  # refuses anyone but managers and the chairman
    async with services(request).db.unit_of_work(write=False) as session:
        # the figures name offices in Chinese; an English page shows their English names
        english = dict((await session.execute(select(Office.name_zh, Office.name_en))).all())
    c = labels(request)
    order = {code: n for n, code in enumerate(c.definition.stages)}  # the stages as the case goes through them
    data["stage_times"] = sorted(data["stage_times"], key=lambda r: order.get(r["stage"], len(order)))
    office = (lambda name: english.get(name) or name) if c.language == "en" else (lambda name: name)
    return data, c, office


# An exported table's columns: the label of their header (units included) for each figure.
_HEADERS = {"applications": "st_applications", "approved": "st_approved", "rejected": "st_rejected",
            "amount_fen": "amount", "stage": "stage", "count": "st_count", "average_hours": "st_average_hours",
            "deadline": "st_deadline", "late": "st_late", "late_rate": "st_overdue_rate", "officer": "role_loan_officer",
            "cases": "st_cases", "overdue_rate": "st_overdue_rate", "average_days": "st_average_days",
            "ratings": "st_ratings", "attitude": "rate_attitude", "skill": "rate_skill", "office": "office",
            "person": "officer_a"}


def readable_table(name: str, rows: list[dict], c: Catalogue, office) -> tuple[list[dict], list[str]]:
    """A dashboard table as people read it: headed in their language with units, codes named,
    amounts in yuan (the API's export keeps codes and fen for programs)."""
    columns = TABLES[name]
    headers = [c.label(f"st_key_{name}") if col == "key" else c.label(_HEADERS[col]) for col in columns]
    out = []
    for row in rows:
        values = {}
        for col, header in zip(columns, headers):
            value = row.get(col, "")
            if col == "key":
                value = {"by_stage": c.stage, "by_product": c.product, "by_office": office}.get(name, str)(value)
            elif col == "stage":
                value = c.stage(value)
            elif col == "office":
                value = office(value)
            elif col == "amount_fen":
                value = round(value / 100, 2)
            elif col == "deadline":
                value = c.deadline(c.definition.stages.get(row["stage"]))
            values[header] = value
        out.append(values)
    return out, headers


@routes.get("/insight/export")
async def export_page(request: web.Request) -> web.Response:
    """The dashboard's tables to download, as the page shows them (CSV: one table; Excel: all)."""
    data, c, office = await _figures(request)
    table = request.query.get("table", "")
    if request.query.get("format") == "xlsx":
        sheet = lambda n: re.sub(r"[\[\]:*?/\\]", " ", c.label(f"st_{n}"))[:31]  # noqa: E731 (Excel's rules)
        body = export.to_xlsx((sheet(n), *readable_table(n, data[n], c, office)) for n in TABLES)
        return web.Response(body=body, headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": 'attachment; filename="statistics.xlsx"'})
    if table not in TABLES:
        raise InvalidInput("table is required for CSV", details={"table": "required"})
    rows, headers = readable_table(table, data[table], c, office)
    return web.Response(body=export.to_csv(rows, headers), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'})


def dashboard_charts(data: dict, c: Catalogue, office=lambda name: name) -> list[str]:
    """The trends a manager reads at a glance: by month, office and product, and time in stage
    against each stage's deadline."""
    counts = lambda rows: [(c.label("st_applications"), [r["applications"] for r in rows]),  # noqa: E731
                           (c.label("st_approved"), [r["approved"] for r in rows]),
                           (c.label("st_rejected"), [r["rejected"] for r in rows])]
    cases = c.label("st_unit_cases")
    out = [bar_chart(c.label("st_by_month"), [r["key"] for r in data["by_month"]], counts(data["by_month"]), unit=cases),
           bar_chart(c.label("st_amount_by_month"), [r["key"] for r in data["by_month"]],
                     [(c.label("amount_10k"), [r["amount_fen"] / 1_000_000 for r in data["by_month"]])],
                     unit=c.label("amount_10k")),
           bar_chart(c.label("st_by_office"), [office(r["key"]) for r in data["by_office"]], counts(data["by_office"]),
                     unit=cases),
           bar_chart(c.label("st_by_product"), [c.product(r["key"]) for r in data["by_product"]],
                     counts(data["by_product"]), unit=cases)]
    order = list(c.definition.stages) if c.definition else []
    timed = sorted((r for r in data["stage_times"] if r["stage"] in order), key=lambda r: order.index(r["stage"]))
    if timed:
        def limit_hours(code: str) -> float:
            stage = c.definition.stages[code]
            return float(stage.deadline_hours or (stage.deadline_working_days or 0) * 24)  # a working day: a day on the clock
        out.append(bar_chart(c.label("st_stage_times"), [c.stage(r["stage"]) for r in timed],
                             [(c.label("st_average_hours"), [r["average_hours"] for r in timed]),
                              (c.label("st_deadline_hours"), [limit_hours(r["stage"]) for r in timed])],
                             unit=c.label("hours_unit")))
    return out


@routes.get("/rate")
async def rating_page(request: web.Request) -> web.Response:
    return render(request, "postloan_rate.html", signed=request.get(PRINCIPAL) is not None)
