"""Use cases of the credit archive (档案) on top of the core's database, scope and audit trail.

Each function takes an open `AsyncSession` (one unit of work, opened by the caller), reads
through the caller's `Scope`, refuses with `core.errors` exceptions before writing, and
audits in the same transaction. Every filing re-signs the loan's credit-file index: the new
version is the previous *signed* version plus the new entries (never a re-reading of the
tables), so a row changed behind the archive's back is never laundered into a new signature.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.config import Config
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.keyfile import create_once
from core.identity import Principal
from core.loanflow import Workflow
from core.orm import Customer, Loan, LoanDocument, Office, User, utcnow
from core.scope import Scope
from core.workflow.definition import Definition

from .blobstore import BlobStore, BlobStoreError, check_digest, open_store
from .creditfile import (
    CreditFileEntry, CreditFileError, CreditFileIndex, IndexSignature, IndexSigner, IndexTampered,
    IndexVerifier, SIGNATURE_ALGORITHM, compare, generate_signing_key,
)
from .playback import FiledMedia, playback
from .retention import RetainedRecord, RetentionError, RetentionSettings
from .tables import ArchiveEntry, CreditFileIndexVersion

SIGNING_KEY_FILE = "archive-signing.key"
DOCUMENT_PAGE = "document_page"
# Votes are filed for the record but shown only to those who oversee committees.
VOTE_KINDS = frozenset({"vote"})
VOTE_READERS = frozenset({"chairman", "archivist", "convener", "compliance_reviewer"})
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


# --- the running archive -------------------------------------------------------------------

def load_signer(config: Config) -> IndexSigner:
    """The configured key, or the one made on first start in the data folder (mode 0600)."""
    if config.archive_key:
        return IndexSigner.from_config(config.archive_key)
    path = config.data_dir / SIGNING_KEY_FILE
    if not path.exists():
        create_once(path, generate_signing_key())  # complete for every node starting at once
    return IndexSigner.from_config(path.read_text())


@dataclass
class Archive:
    """What the archive needs at run time: the blob store, the signing key, the rules."""

    store: BlobStore
    signer: IndexSigner | None
    retention: RetentionSettings
    upload_max_bytes: int
    staging_dir: Path
    # When each ballot of a meeting was cast (Unix time, member's participant id), for the
    # playback timeline: the committee's answer, wired in by the composition root (the archive
    # does not read the committee's tables itself).
    ballot_times: Optional[Callable[[AsyncSession, str], Awaitable[list[tuple[float, str]]]]] = None

    @classmethod
    def open(cls, config: Config) -> "Archive":
        """Open the store (no network I/O yet); `start` loads the key."""
        return cls(open_store(config.effective_archive_url), None, RetentionSettings.default(),
                   config.archive_upload_max_bytes, config.data_dir / "uploads")

    def start(self, config: Config) -> None:
        self.signer = load_signer(config)

    @property
    def signing(self) -> IndexSigner:
        if self.signer is None:
            raise RuntimeError("the archive is not started: its signing key is not loaded")
        return self.signer

    @property
    def verifier(self) -> IndexVerifier:
        return self.signing.verifier()

    async def close(self) -> None:
        await self.store.close()


# --- who may do what -----------------------------------------------------------------------

def is_staff(principal: Principal) -> bool:
    return bool(principal.roles - {"applicant"})


def _require_staff(scope: Scope) -> None:
    if not is_staff(scope.principal):
        raise Forbidden("the credit archive is open to bank staff only")


def _sees_votes(principal: Principal) -> bool:
    return principal.has(*VOTE_READERS)


async def _definition(session: AsyncSession, workflow: Workflow, loan: Loan) -> Definition:
    # A version another core node stored is read from the database (Workflow.definition_of).
    return await workflow.definition_of(session, loan.workflow_version) if loan.workflow_version else workflow.current


def _check_code(definition: Definition, code: str) -> None:
    if code not in definition.documents:
        known = ", ".join(definition.documents)
        raise InvalidInput(f"unknown document code {code!r}; known codes: {known}", details={"code": "unknown"})


async def principal_of(session: AsyncSession, user_id: int) -> Principal:
    """The principal of a user as they are now (roles may have changed since a request began)."""
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("no such user")
    office_path = (await session.execute(select(Office.path).where(Office.id == user.office_id))).scalar_one()
    return Principal(user.id, user.username, user.display_name, user.office_id, office_path, user.role_codes)


async def check_may_file(session: AsyncSession, scope: Scope, workflow: Workflow, loan_id: int, code: str,
                         *, for_update: bool = False) -> Loan:
    """Refuse before a byte is accepted: unknown loan (or outside scope), ended case, wrong
    person, unknown document code."""
    loan = await scope.loan(session, loan_id, for_update=for_update)
    principal = scope.principal
    if not is_staff(principal) and loan.applicant_user_id != principal.user_id:
        raise Forbidden("applicants may file documents of their own application only")
    definition = await _definition(session, workflow, loan)
    stage = definition.stages.get(loan.stage)
    if stage is not None and stage.is_end:
        raise Conflict(f"the case has ended ({loan.stage}); its credit file takes no more scanned pages",
                       code="case_ended")
    _check_code(definition, code)
    return loan


# --- the credit-file index -----------------------------------------------------------------

def loan_reference(loan: Loan) -> str:
    return loan.tracking_code


def page_entry(doc: LoanDocument, title: str = "") -> CreditFileEntry:
    return CreditFileEntry(DOCUMENT_PAGE, doc.code, title or doc.code, doc.digest, doc.size, doc.filed_at,
                           doc.page, doc.media_type)


def record_entry(row: ArchiveEntry) -> CreditFileEntry:
    return CreditFileEntry(row.kind, row.code, row.title, row.digest, row.size, row.filed_at, row.seq,
                           row.media_type)


def _titles(definition: Definition) -> dict[str, str]:
    return {code: doc.name_zh for code, doc in definition.documents.items()}


async def _latest_index(session: AsyncSession, loan_id: int) -> CreditFileIndexVersion | None:
    return (await session.execute(
        select(CreditFileIndexVersion).where(CreditFileIndexVersion.loan_id == loan_id)
        .order_by(CreditFileIndexVersion.version.desc()).limit(1))).scalar_one_or_none()


def _signature_of(row: CreditFileIndexVersion) -> IndexSignature:
    return IndexSignature(SIGNATURE_ALGORITHM, row.key_id, row.digest, row.signature)


def _verified(archive: Archive, row: CreditFileIndexVersion) -> CreditFileIndex:
    """The stored index, if its signature holds; IndexTampered or CreditFileError otherwise."""
    data = row.canonical.encode("utf-8")
    archive.verifier.verify_bytes(data, _signature_of(row))
    return CreditFileIndex.from_canonical(data)


async def _sign_next(session: AsyncSession, archive: Archive, loan: Loan, *,
                     add: tuple[CreditFileEntry, ...] = (), remove: tuple[CreditFileEntry, ...] = (),
                     now: dt.datetime) -> CreditFileIndexVersion:
    latest = await _latest_index(session, loan.id)
    try:
        previous = _verified(archive, latest) if latest else CreditFileIndex.empty(loan_reference(loan), now)
        if remove:
            gone = {e.identity for e in remove}
            index = CreditFileIndex(previous.loan, tuple(e for e in previous.entries if e.identity not in gone),
                                    now, previous.version + 1, previous.digest())
        else:
            index = previous.file(add, now)
    except (IndexTampered, CreditFileError) as error:
        # Signing on top of a broken index would bless whatever broke it.
        raise Conflict(f"the credit file of loan {loan.tracking_code} does not verify ({error}); "
                       "nothing more is filed until an archivist has checked it", code="index_tampered") from None
    signature = archive.signing.sign(index)
    row = CreditFileIndexVersion(loan_id=loan.id, version=index.version,
                                 canonical=index.canonical_bytes().decode("utf-8"), digest=signature.index_digest,
                                 key_id=signature.key_id, signature=signature.signature, issued_at=now)
    session.add(row)
    await session.flush()
    return row


async def _lock_loan(session: AsyncSession, loan_id: int) -> Loan:
    loan = (await session.execute(select(Loan).where(Loan.id == loan_id).with_for_update())).scalar_one_or_none()
    if loan is None:
        raise NotFound(f"loan {loan_id} not found")
    return loan


# --- filing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredFile:
    """A blob already in the store, with what the content check found."""

    digest: str
    size: int
    media_type: str
    filename: str = ""


async def file_page(session: AsyncSession, archive: Archive, workflow: Workflow, loan: Loan, code: str,
                    stored: StoredFile, *, actor: audit.Actor, filed_by_id: int | None,
                    upload_id: str | None = None) -> dict[str, Any]:
    """File one scanned page (or one PDF) under a document code: the next page number of that
    code, a new signed index version, an audit record. The loan row must be locked.
    ``upload_id`` (unique) names the upload that filed it, see `file_upload`."""
    check_digest(stored.digest)
    definition = await _definition(session, workflow, loan)
    _check_code(definition, code)
    now = utcnow()
    last = (await session.execute(select(func.max(LoanDocument.page)).where(
        LoanDocument.loan_id == loan.id, LoanDocument.code == code))).scalar_one()
    doc = LoanDocument(loan_id=loan.id, code=code, page=(last or 0) + 1, digest=stored.digest, size=stored.size,
                       media_type=stored.media_type, filename=stored.filename[:200], filed_by_id=filed_by_id,
                       filed_at=now, upload_id=upload_id)
    session.add(doc)
    await session.flush()
    index = await _sign_next(session, archive, loan, add=(page_entry(doc, _titles(definition).get(code, "")),),
                             now=now)
    record = _page_record(doc, index.version)
    await audit.append(session, actor, "archive.file", "loan", loan.id, record)
    return record


def _page_record(doc: LoanDocument, index_version: int | None) -> dict[str, Any]:
    return {"document_id": doc.id, "loan_id": doc.loan_id, "code": doc.code, "page": doc.page,
            "digest": doc.digest, "size": doc.size, "media_type": doc.media_type, "index_version": index_version}


async def filed_by_upload(session: AsyncSession, upload_id: str) -> dict[str, Any] | None:
    """The record of the page an upload already filed, or None."""
    doc = (await session.execute(select(LoanDocument).where(LoanDocument.upload_id == upload_id))
           ).scalar_one_or_none()
    if doc is None:
        return None
    # The index version signed with the page carries the page's filing time.
    version = (await session.execute(select(func.min(CreditFileIndexVersion.version)).where(
        CreditFileIndexVersion.loan_id == doc.loan_id, CreditFileIndexVersion.issued_at == doc.filed_at))
    ).scalar_one()
    return _page_record(doc, version)


async def file_upload(session: AsyncSession, archive: Archive, workflow: Workflow, scope: Scope, loan_id: int,
                      code: str, stored: StoredFile, *, upload_id: str | None = None) -> dict[str, Any]:
    """A finished upload: the uploader must still be allowed to file it here. Someone other
    than the person who sent the case into its stage has now acted on it, so that step can
    no longer be withdrawn.

    Keyed by ``upload_id``: if this upload was filed already (the server stopped after the
    filing committed but before the upload was marked complete, and the client retried), the
    earlier record is answered and nothing is filed again."""
    if upload_id is not None:
        earlier = await filed_by_upload(session, upload_id)
        if earlier is not None:
            if earlier["loan_id"] != loan_id or earlier["code"] != code:
                raise Conflict("this upload was filed under another loan or document", code="upload_mismatch")
            return earlier
    loan = await check_may_file(session, scope, workflow, loan_id, code, for_update=True)
    me = scope.principal.user_id
    record = await file_page(session, archive, workflow, loan, code, stored,
                             actor=scope.principal.actor(), filed_by_id=me, upload_id=upload_id)
    if loan.sender_id != me and not loan.stage_acted:
        loan.stage_acted = True
        await session.flush()
    return record


async def file_record(session: AsyncSession, archive: Archive, loan_id: int, kind: str, digest: str, size: int,
                      title: str, *, actor: audit.Actor, media_type: str = "application/octet-stream",
                      code: str | None = None, meeting_id: str | None = None, retention_kind: str | None = None,
                      filed_by_id: int | None = None) -> dict[str, Any]:
    """File a record other than a scanned page (for other services: fingerprint capture
    records, committee recordings and their manifests, post-loan records...). The blob must
    already be in the archive's store."""
    if not _KIND_RE.match(kind):
        raise InvalidInput(f"bad record kind {kind!r}: use a lowercase slug", details={"kind": "pattern"})
    if kind == DOCUMENT_PAGE:
        raise InvalidInput("scanned pages are filed with file_page / the upload, not as records",
                           details={"kind": "document_page"})
    check_digest(digest)
    if size < 0:
        raise InvalidInput("size must not be negative")
    reference = code or meeting_id or kind
    if not _REFERENCE_RE.match(reference):
        raise InvalidInput(f"bad record reference {reference!r}", details={"code": "pattern"})
    if meeting_id is not None and not _REFERENCE_RE.match(meeting_id):
        raise InvalidInput(f"bad meeting id {meeting_id!r}", details={"meeting_id": "pattern"})
    retention_kind = retention_kind or kind
    if retention_kind not in archive.retention.rules:
        raise InvalidInput(f"no retention rule for {retention_kind!r}; known: {', '.join(sorted(archive.retention.rules))}",
                           details={"retention_kind": "unknown"})
    if not await archive.store.exists(digest):
        raise InvalidInput(f"blob {digest} is not in the archive store; store it before filing",
                           details={"digest": "missing"})
    stored_size = await archive.store.size(digest)
    if stored_size != size:
        raise InvalidInput(f"blob {digest} has {stored_size} bytes, not {size}", details={"size": "mismatch"})
    loan = await _lock_loan(session, loan_id)
    now = utcnow()
    last = (await session.execute(select(func.max(ArchiveEntry.seq)).where(
        ArchiveEntry.loan_id == loan.id, ArchiveEntry.kind == kind, ArchiveEntry.code == reference))).scalar_one()
    row = ArchiveEntry(loan_id=loan.id, kind=kind, code=reference, seq=(last or 0) + 1, digest=digest, size=size,
                       media_type=media_type[:100], title=title[:200], meeting_id=meeting_id,
                       retention_kind=retention_kind, filed_by_id=filed_by_id, filed_by=actor.name[:64], filed_at=now)
    session.add(row)
    await session.flush()
    index = await _sign_next(session, archive, loan, add=(record_entry(row),), now=now)
    record = {"entry_id": row.id, "loan_id": loan.id, "kind": kind, "code": reference, "seq": row.seq,
              "digest": digest, "size": size, "meeting_id": meeting_id, "index_version": index.version}
    await audit.append(session, actor, "archive.file", "loan", loan.id, record)
    return record


# --- reading --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileRef:
    digest: str
    media_type: str
    filename: str
    size: int


def _entry_view(loan_id: int, entry: CreditFileEntry, row_id: int, source: str, *,
                meeting_id: str | None = None, filename: str = "", state: str = "intact") -> dict[str, Any]:
    path = "pages" if source == "page" else "entries"
    return {**entry.to_json(), "id": row_id, "source": source, "meeting_id": meeting_id, "filename": filename,
            "url": f"/api/archive/loans/{loan_id}/{path}/{row_id}", "state": state}


async def _current(session: AsyncSession, workflow: Workflow, loan: Loan) -> list[tuple[CreditFileEntry, dict]]:
    titles = _titles(await _definition(session, workflow, loan))
    rows: list[tuple[CreditFileEntry, dict]] = []
    for doc in (await session.execute(select(LoanDocument).where(LoanDocument.loan_id == loan.id))).scalars():
        rows.append((page_entry(doc, titles.get(doc.code, "")),
                     {"row_id": doc.id, "source": "page", "filename": doc.filename}))
    for rec in (await session.execute(select(ArchiveEntry).where(ArchiveEntry.loan_id == loan.id))).scalars():
        rows.append((record_entry(rec), {"row_id": rec.id, "source": "entry", "meeting_id": rec.meeting_id}))
    rows.sort(key=lambda pair: pair[0].sort_key())
    return rows


async def _readable_loan(session: AsyncSession, scope: Scope, loan_id: int) -> Loan:
    loan = await scope.loan(session, loan_id)  # 404 outside scope, before anything else
    _require_staff(scope)
    return loan


async def credit_file(session: AsyncSession, archive: Archive, workflow: Workflow, scope: Scope,
                      loan_id: int) -> dict[str, Any]:
    """The credit file of a loan: every entry as it stands, the latest signed index, and
    whether the two agree."""
    loan = await _readable_loan(session, scope, loan_id)
    customer = await session.get(Customer, loan.customer_id)
    current = await _current(session, workflow, loan)
    latest = await _latest_index(session, loan.id)
    states: dict[tuple[str, str, int], str] = {}
    verification: dict[str, Any] = {"status": "intact", "added": [], "removed": [], "changed": []}
    signed_index: dict[str, Any] | None = None
    if latest is None:
        verification["status"] = "unsigned" if current else "empty"
        states = {e.identity: "unsigned" for e, _ in current}
    else:
        signed_index = {"version": latest.version, "issued_at": latest.issued_at.isoformat(),
                        "digest": latest.digest, "key_id": latest.key_id, "signature": latest.signature}
        try:
            signed = _verified(archive, latest)
        except (IndexTampered, CreditFileError) as error:
            verification.update(status="signature_invalid", message=str(error))
        else:
            diff = compare(signed, [e for e, _ in current])
            if not diff.unchanged:
                verification["status"] = "changed"
            verification["added"] = [e.to_json() for e in diff.added]
            verification["removed"] = [e.to_json() for e in diff.removed]
            verification["changed"] = [{"signed": a.to_json(), "current": b.to_json()} for a, b in diff.changed]
            states.update({e.identity: "added" for e in diff.added})
            states.update({a.identity: "changed" for a, _ in diff.changed})
    # The rows and the signed index may agree while the bytes are gone or altered: the view
    # rehashes what the entries name in the store itself.
    damaged = await archive.store.damaged(e.digest for e, _ in current)
    verification["missing"] = [e.to_json() for e, _ in current if damaged.get(e.digest) == "missing"]
    verification["altered"] = [e.to_json() for e, _ in current if damaged.get(e.digest) == "altered"]
    if damaged:
        # What the index comparison found (changed, added) says more than the store's state.
        for entry, _ in current:
            if entry.digest in damaged:
                states.setdefault(entry.identity, damaged[entry.digest])
        if verification["status"] == "intact":
            verification["status"] = "store_damaged"
    sees_votes = _sees_votes(scope.principal)
    entries = [_entry_view(loan.id, e, info["row_id"], info["source"], meeting_id=info.get("meeting_id"),
                           filename=info.get("filename", ""), state=states.get(e.identity, "intact"))
               for e, info in current if sees_votes or e.kind not in VOTE_KINDS]
    await audit.append(session, scope.principal.actor(), "archive.read", "credit_file", loan.id,
                       {"index_version": latest.version if latest else 0, "status": verification["status"]})
    return {"loan": {"id": loan.id, "tracking_code": loan.tracking_code, "stage": loan.stage,
                     "product": loan.product, "amount_fen": loan.amount_fen,
                     "created_at": loan.created_at.isoformat(),
                     "customer": {"name": customer.name, "id_number": mask_id(customer.id_number)}},
            "index": signed_index, "verification": verification, "entries": entries,
            "public_key": archive.signing.public_key_pem()}


async def open_page(session: AsyncSession, scope: Scope, loan_id: int, document_id: int, *,
                    byte_range: str | None = None) -> FileRef:
    """One scanned page's bytes may be read: audited (every read, ranges included)."""
    loan = await _readable_loan(session, scope, loan_id)
    doc = (await session.execute(select(LoanDocument).where(
        LoanDocument.id == document_id, LoanDocument.loan_id == loan.id))).scalar_one_or_none()
    if doc is None:
        raise NotFound(f"page {document_id} not found")
    await audit.append(session, scope.principal.actor(), "archive.read", "loan_document", doc.id,
                       {"loan_id": loan.id, "digest": doc.digest, "range": byte_range})
    name = doc.filename or f"{loan.tracking_code}-{doc.code}-p{doc.page}"
    return FileRef(doc.digest, doc.media_type, name, doc.size)


async def open_entry(session: AsyncSession, scope: Scope, loan_id: int, entry_id: int, *,
                     byte_range: str | None = None) -> FileRef:
    loan = await _readable_loan(session, scope, loan_id)
    row = (await session.execute(select(ArchiveEntry).where(
        ArchiveEntry.id == entry_id, ArchiveEntry.loan_id == loan.id))).scalar_one_or_none()
    if row is None or (row.kind in VOTE_KINDS and not _sees_votes(scope.principal)):
        raise NotFound(f"archive entry {entry_id} not found")
    await audit.append(session, scope.principal.actor(), "archive.read", "archive_entry", row.id,
                       {"loan_id": loan.id, "digest": row.digest, "range": byte_range})
    return FileRef(row.digest, row.media_type, f"{loan.tracking_code}-{row.kind}-{row.code}-{row.seq}", row.size)


async def recording(session: AsyncSession, archive: Archive, scope: Scope, loan_id: int,
                    entry_id: int) -> dict[str, Any]:
    """A recording and what the player needs beside it: the meeting's manifest, the other
    recordings of the same meeting (composite and per participant), and ``playback``: the
    meeting arranged as one row per person (their audio and video together), the composite and
    a timeline on the meeting clock (``recordings.playback``); None without a readable manifest."""
    loan = await _readable_loan(session, scope, loan_id)
    row = (await session.execute(select(ArchiveEntry).where(
        ArchiveEntry.id == entry_id, ArchiveEntry.loan_id == loan.id,
        ArchiveEntry.kind == "recording"))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"recording {entry_id} not found")
    same_meeting = (await session.execute(select(ArchiveEntry).where(
        ArchiveEntry.loan_id == loan.id, ArchiveEntry.meeting_id == row.meeting_id,
        ArchiveEntry.kind.in_(("recording", "recording_manifest"))).order_by(ArchiveEntry.id))).scalars().all() \
        if row.meeting_id else [row]
    base = f"/api/archive/loans/{loan.id}/entries"
    manifests = [r for r in same_meeting if r.kind == "recording_manifest"]
    manifest = await _manifest_of(archive, manifests[-1]) if manifests else None
    arranged = None
    if manifest is not None:
        votes = (await archive.ballot_times(session, row.meeting_id)
                 if archive.ballot_times is not None and _sees_votes(scope.principal) else [])
        arranged = playback(manifest, [FiledMedia(r.id, r.digest, r.title, r.media_type or "", f"{base}/{r.id}")
                                       for r in same_meeting if r.kind == "recording"],
                            selected_entry=row.id, votes=votes)
    await audit.append(session, scope.principal.actor(), "archive.read", "archive_entry", row.id,
                       {"loan_id": loan.id, "digest": row.digest, "view": "player"})
    return {"loan": {"id": loan.id, "tracking_code": loan.tracking_code},
            "recording": {"id": row.id, "title": row.title, "meeting_id": row.meeting_id, "url": f"{base}/{row.id}",
                          "digest": row.digest,
                          "media_type": row.media_type, "size": row.size},
            "manifest_url": f"{base}/{manifests[-1].id}" if manifests else None,
            "others": [{"id": r.id, "title": r.title, "url": f"/archive/loans/{loan.id}/recordings/{r.id}"}
                       for r in same_meeting if r.kind == "recording" and r.id != row.id],
            "playback": arranged}


MANIFEST_READ_LIMIT = 16 * 1024 * 1024  # a manifest is JSON of tracks and events: far below this


async def _manifest_of(archive: Archive, row: ArchiveEntry) -> dict[str, Any] | None:
    """The filed manifest, if its bytes are there and still hash to the filed digest."""
    if row.size is not None and row.size > MANIFEST_READ_LIMIT:
        return None
    try:
        data = await archive.store.read(row.digest)
    except BlobStoreError:
        return None
    if hashlib.sha256(data).hexdigest() != row.digest:
        return None  # altered: the credit file's verification says so; nothing is shown from it
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    return manifest if isinstance(manifest, dict) else None


async def export_index(session: AsyncSession, archive: Archive, scope: Scope, loan_id: int,
                       what: str) -> tuple[Loan, CreditFileIndex, IndexSignature]:
    """The latest signed index for an export; refused when its signature does not hold."""
    loan = await _readable_loan(session, scope, loan_id)
    latest = await _latest_index(session, loan.id)
    if latest is None:
        raise NotFound(f"loan {loan.tracking_code} has nothing filed yet")
    try:
        index = _verified(archive, latest)
    except (IndexTampered, CreditFileError) as error:
        raise Conflict(f"the credit file index does not verify ({error}); it cannot be exported",
                       code="index_tampered") from None
    await audit.append(session, scope.principal.actor(), "archive.export", "credit_file", loan.id,
                       {"format": what, "index_version": index.version, "index_digest": latest.digest})
    return loan, index, _signature_of(latest)


def mask_id(id_number: str) -> str:
    """Lists show an ID number's first six and last four characters only."""
    return id_number if len(id_number) <= 10 else id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def _parse_date(name: str, value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD)", details={name: "format"}) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


async def search(session: AsyncSession, scope: Scope, *, name: str | None = None, id_number: str | None = None,
                 tracking_code: str | None = None, date_from: str | None = None, date_to: str | None = None,
                 meeting_id: str | None = None, limit: int = 50, before_id: int | None = None) -> dict[str, Any]:
    """Credit files within the caller's scope by customer, ID number, loan, application date
    range (inclusive) or committee meeting; newest first. The search itself is audited."""
    _require_staff(scope)
    start, end = _parse_date("date_from", date_from), _parse_date("date_to", date_to)
    criteria = {k: v for k, v in dict(name=name, id_number=id_number, tracking_code=tracking_code,
                                       date_from=date_from, date_to=date_to, meeting_id=meeting_id).items() if v}
    if not criteria:
        raise InvalidInput("give at least one search criterion")
    query = select(Loan, Customer).join(Customer, Customer.id == Loan.customer_id).where(scope.loans())
    if name:
        query = query.where(Customer.name.contains(name, autoescape=True))
    if id_number:
        query = query.where(Customer.id_number == id_number.strip().upper())
    if tracking_code:
        query = query.where(Loan.tracking_code == tracking_code.strip())
    if start:
        query = query.where(Loan.created_at >= start)
    if end:
        query = query.where(Loan.created_at < end + dt.timedelta(days=1))
    if meeting_id:
        query = query.where(exists().where(ArchiveEntry.loan_id == Loan.id, ArchiveEntry.meeting_id == meeting_id))
    if before_id is not None:
        query = query.where(Loan.id < before_id)
    rows = (await session.execute(query.order_by(Loan.id.desc()).limit(limit + 1))).all()
    loan_ids = [loan.id for loan, _ in rows[:limit]]
    meetings: dict[int, list[str]] = {}
    if loan_ids:
        for loan_id, meeting in (await session.execute(
                select(ArchiveEntry.loan_id, ArchiveEntry.meeting_id).where(
                    ArchiveEntry.loan_id.in_(loan_ids), ArchiveEntry.meeting_id.is_not(None)).distinct())).all():
            meetings.setdefault(loan_id, []).append(meeting)
    items = [{"id": loan.id, "tracking_code": loan.tracking_code, "stage": loan.stage, "product": loan.product,
              "amount_fen": loan.amount_fen, "created_at": loan.created_at.isoformat(),
              "customer": {"name": customer.name, "id_number": mask_id(customer.id_number)},
              "meetings": sorted(meetings.get(loan.id, []))} for loan, customer in rows[:limit]]
    await audit.append(session, scope.principal.actor(), "archive.search", "archive", "search",
                       {**criteria, "found": len(items)})
    return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > limit else None}


# --- retention ------------------------------------------------------------------------------

async def delete_entry(session: AsyncSession, archive: Archive, workflow: Workflow, scope: Scope, loan_id: int,
                       entry_id: int, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """Remove a record whose retention is over (archivists only); refused before that, so
    nothing goes early. The blob stays in the store (others may share it)."""
    loan = await _readable_loan(session, scope, loan_id)
    if not scope.principal.has("archivist"):
        raise Forbidden("only archivists remove records from a credit file")
    row = (await session.execute(select(ArchiveEntry).where(
        ArchiveEntry.id == entry_id, ArchiveEntry.loan_id == loan.id))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"archive entry {entry_id} not found")
    stage = (await _definition(session, workflow, loan)).stages.get(loan.stage)
    closed_at = loan.stage_entered_at if stage is not None and stage.is_end else None
    try:
        archive.retention.ensure_deletable(
            RetainedRecord(row.retention_kind, row.filed_at, closed_at, row.legal_hold), at or utcnow())
    except RetentionError as error:
        raise Conflict(f"cannot delete yet: {error}", code="retention") from None
    loan = await _lock_loan(session, loan.id)
    entry = record_entry(row)
    await session.delete(row)
    await session.flush()
    index = await _sign_next(session, archive, loan, remove=(entry,), now=utcnow())
    record = {"entry_id": entry_id, "kind": entry.kind, "digest": entry.digest, "index_version": index.version}
    await audit.append(session, scope.principal.actor("archivist"), "archive.delete", "loan", loan.id, record)
    return record


async def referenced_digests(session: AsyncSession) -> list[str]:
    """Every digest a credit file refers to (for `loanctl archive verify`)."""
    pages = (await session.execute(select(LoanDocument.digest).distinct())).scalars().all()
    records = (await session.execute(select(ArchiveEntry.digest).distinct())).scalars().all()
    return sorted(set(pages) | set(records))


async def filing_panel(session: AsyncSession, scope: Scope, workflow: Workflow, loan_id: int) -> dict[str, Any]:
    """What the upload panel of a loan page needs: the document codes (the current stage's
    required ones first) and the pages filed so far. Names and page numbers only, no bytes."""
    loan = await scope.loan(session, loan_id)
    definition = await _definition(session, workflow, loan)
    stage = definition.stages.get(loan.stage)
    required = list(stage.documents) if stage else []
    filed = (await session.execute(select(LoanDocument).where(LoanDocument.loan_id == loan.id)
                                   .order_by(LoanDocument.code, LoanDocument.page))).scalars().all()
    codes = sorted(definition.documents.values(), key=lambda d: (d.code not in required, d.line))
    return {"loan_id": loan.id, "open": not (stage is not None and stage.is_end),
            "codes": [{"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en, "required_now": d.code in required}
                      for d in codes],
            "filed": [{"id": d.id, "code": d.code, "page": d.page, "size": d.size, "media_type": d.media_type,
                       "filename": d.filename, "filed_at": d.filed_at.isoformat()} for d in filed]}
