"""The credit archive as the ports core declares (core.ports): the filer post-loan records
are filed through, and the document check every scanned page passes. Wired in by
core.app.create_root."""
from __future__ import annotations

from typing import Any, Collection, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import Actor
from core.ports import DocumentRefused, StoredBlob

from .contentcheck import ContentRejected, check_bytes
from .service import Archive, file_record


class ArchiveFiling:
    """core.ports.ArchiveFiler over a running archive (its store, key and retention rules)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    async def put_bytes(self, data: bytes) -> StoredBlob:
        blob = await self.archive.store.put_bytes(data)
        return StoredBlob(blob.digest, blob.size)

    async def file_record(self, session: AsyncSession, loan_id: int, kind: str, digest: str, size: int,
                          title: str, *, actor: Actor, media_type: str, code: str | None = None,
                          filed_by_id: int | None = None) -> Mapping[str, Any]:
        return await file_record(session, self.archive, loan_id, kind, digest, size, title, actor=actor,
                                 media_type=media_type, code=code, filed_by_id=filed_by_id)


def check_document(data: bytes, *, allowed: Collection[str], max_size: int) -> str:
    """core.ports.DocumentCheck: the archive's content check (the same as for tus uploads)."""
    try:
        return check_bytes(data, allowed=allowed, max_size=max_size).mime_type
    except ContentRejected as error:
        raise DocumentRefused(error.code, error.message) from None
