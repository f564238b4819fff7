"""Pages of the credit archive: search, a loan's credit file, the recording player.

The upload panel of the loan page is the template `archive_upload.html` (included by
`loan.html`) with `static/upload.js`; it talks to /api/uploads/ (tus) and the archive API.
"""
from __future__ import annotations

import asyncio

from aiohttp import web

from committee import service as committee_service
from core import loanflow
from recordings.api import ARCHIVE, send_pdf
from core.apispec import path_id
from core.context import scope, services
from core.errors import InvalidInput
from core.orm import Customer
from recordings import service as archive_service
from recordings.pdfexport import summary_pdf

from .pages import case_file_of, labels, render, signed_in, when

routes = web.RouteTableDef()

_SEARCH_FIELDS = ("name", "id_number", "tracking_code", "date_from", "date_to", "meeting_id")


@routes.get("/archive")
async def search_page(request: web.Request) -> web.Response:
    signed_in(request)
    criteria = {k: request.query[k].strip()[:100] for k in _SEARCH_FIELDS if request.query.get(k, "").strip()}
    results, error = None, None
    if criteria:
        try:
            async with services(request).db.unit_of_work() as session:
                results = await archive_service.search(session, scope(request), limit=100, **criteria)
        except InvalidInput as refused:
            error = refused.message
    return render(request, "archive_search.html", criteria=criteria, results=results, error=error)


@routes.get(r"/archive/loans/{loan_id:[0-9]{1,10}}")
async def credit_file_page(request: web.Request) -> web.Response:
    signed_in(request)
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        view = await archive_service.credit_file(session, request.config_dict[ARCHIVE], svc.workflow,
                                                 scope(request), path_id(request, "loan_id"))
        # The loan's closed committee meetings: their composite's state (made after close, in
        # the background, and retried) is followed on the page.
        meetings = await committee_service.closed_meetings(session, view["loan"]["id"])
    return render(request, "archive_file.html", file=view, meetings=meetings)


@routes.get(r"/archive/loans/{loan_id:[0-9]{1,10}}/recordings/{entry_id:[0-9]{1,10}}")
async def player_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work() as session:
        view = await archive_service.recording(session, request.config_dict[ARCHIVE], scope(request),
                                               path_id(request, "loan_id"),
                                               path_id(request, "entry_id"))
    return render(request, "archive_player.html", rec=view)


@routes.get(r"/archive/loans/{loan_id:[0-9]{1,10}}/file.pdf")
async def credit_file_pdf(request: web.Request) -> web.StreamResponse:
    """The credit file to print: what the case found and decided, step by step with who and
    when (in the reader's language), then every scanned page of the signed index."""
    signed_in(request)
    svc, c = services(request), labels(request)
    running = request.config_dict[ARCHIVE]
    async with svc.db.unit_of_work() as session:
        loan, index, _ = await archive_service.export_index(session, running, scope(request),
                                                           path_id(request, "loan_id"), "pdf")
        customer = await session.get(Customer, loan.customer_id)
        history = await loanflow.history(session, svc.workflow, loan)
        findings = await case_file_of(request, session, loan, history)
    title = f"{c.label('archive_credit_file')} {loan.tracking_code}"
    sections = [(c.label("loan_file"), [
        f"{c.label('customer')}: {customer.name} ({archive_service.mask_id(customer.id_number)})",
        f"{c.label('product')}: {c.product(loan.product)}", f"{c.label('amount')}: {loan.amount_fen / 100:,.2f}",
        f"{c.label('term')}: {loan.term_months}", f"{c.label('stage')}: {c.stage(loan.stage)}",
        f"{c.label('channel')}: {c.channel(loan.channel)}"])]
    sections.append((c.label("history"), [
        f"{when(e['at'])}  {c.action(e['action'])}  {c.stage(e['from'])} → {c.stage(e['to'])}  "
        f"{c.maker(e['maker'], e['kind'])}" + (f"  {c.label('reason')}: {e['reason']}" if e["reason"] else "")
        for e in history]))
    for entry in findings:
        lines = []
        for name, value, _written in entry["content"]:
            if isinstance(value, dict):
                value = "; ".join(f"{k}: {v}" if v else str(k) for k, v in value.items())
            lines.append(f"{c.field(name)}: {value}")
        who = c.maker(entry["maker"], entry["kind"])
        sections.append((f"{c.label('case_file')} · {c.action(entry['action'])} · {who} · {when(entry['at'])}", lines))
    summary = await asyncio.to_thread(summary_pdf, title, sections)
    return await send_pdf(request, running, loan, index, preface=(title, summary))
