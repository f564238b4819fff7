"""Reading the audit trail (administrators and the chairman)."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from ..apispec import Field
from ..context import scope, services
from ..errors import Forbidden
from ..orm import AuditRecord
from . import routes


@routes.route("GET", "/audit", summary="Audit records, newest first", tag="audit",
              query={"object_type": Field("string", required=False, max_length=32),
                     "object_id": Field("string", required=False, max_length=64),
                     "limit": Field("integer", required=False, minimum=1, maximum=500)})
async def list_audit(request: web.Request, query: dict) -> web.Response:
    who = scope(request).principal
    if not who.has("admin", "chairman"):
        raise Forbidden("only administrators and the chairman read the audit trail")
    statement = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(query.get("limit", 100))
    if "object_type" in query:
        statement = statement.where(AuditRecord.object_type == query["object_type"])
    if "object_id" in query:
        statement = statement.where(AuditRecord.object_id == query["object_id"])
    async with services(request).db.unit_of_work(write=False) as session:
        rows = (await session.execute(statement)).scalars().all()
    return web.json_response({"items": [
        {"seq": r.seq, "at": r.at, "actor": r.actor, "role": r.role, "office_id": r.office_id,
         "action": r.action, "object_type": r.object_type, "object_id": r.object_id,
         "payload_hash": r.payload_hash, "outcome": r.outcome, "hash": r.hash} for r in rows]})
