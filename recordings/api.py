"""The credit archive over HTTP: credit files, page and record bytes (with Range), exports,
search, filing by other services; and the tus upload sub-application at /api/uploads/."""
from __future__ import annotations

import asyncio
import contextlib
import tempfile
from typing import AsyncIterator

from aiohttp import web

from core.api import routes
from core.apispec import INT64_MAX, Body, Field, id_field, parse_id
from core.audit import Actor
from core.config import Config
from core.context import PRINCIPAL, SERVICES, scope, services
from core.db import DatabaseUnavailable
from core.errors import Conflict, ServiceError
from core.servicetoken import ServiceTokens, bearer

from . import service as archive_service
from .anchors import anchor_periodically
from .blobstore import BlobAltered, BlobNotFound
from .creditfile import KNOWN_KINDS
from .pdfexport import PdfExportError, export_pages_pdf
from .ranges import serve_blob
from .service import Archive, StoredFile
from .tus import METADATA_KEY, Upload, UploadError, UploadStaging, create_upload_app
from .zipexport import ExportIntegrityError, send_credit_file_zip

ARCHIVE = web.AppKey("archive", Archive)
ARCHIVE_AUDIENCE = "archive"
ARCHIVE_FILE_SCOPE = "archive.file"
# Abandoned uploads (a closed laptop, a lost link never resumed) are swept at start.
STAGING_MAX_AGE_SECONDS = 7 * 86400


def archive(request: web.Request) -> Archive:
    return request.config_dict[ARCHIVE]


# --- mounting ------------------------------------------------------------------------------

def mount(app: web.Application, config: Config) -> None:
    """Open the blob store, mount the tus uploads at /api/uploads/ and load the signing key at
    start; close the store on cleanup. Call before /api/ is mounted (longest prefix first)."""
    running = Archive.open(config)
    app[ARCHIVE] = running

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        running.start(config)
        await asyncio.to_thread(UploadStaging(running.staging_dir).purge_older_than, STAGING_MAX_AGE_SECONDS)
        anchoring = None
        if config.audit_anchor_interval > 0:
            # The audit chain's head, signed, into the store the database's users cannot rewrite.
            anchoring = asyncio.create_task(anchor_periodically(
                app[SERVICES].db, running.store, running.signing, config.audit_anchor_interval), name="audit-anchor")
        yield
        if anchoring is not None:
            anchoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await anchoring
        await running.close()

    async def authorize(request: web.Request) -> str:
        who = request.get(PRINCIPAL)
        if who is None:
            raise UploadError(401, "unauthenticated", "sign in first")
        if request.method == "POST":
            metadata = request[METADATA_KEY]
            loan_id = _loan_id(metadata.get("loan", ""))
            svc = request.config_dict[SERVICES]
            try:
                async with svc.db.unit_of_work(write=False) as session:
                    await archive_service.check_may_file(session, svc.scope(who), svc.workflow, loan_id,
                                                         metadata.get("code", ""))
            except ServiceError as error:
                raise UploadError(error.status, error.code, error.message) from None
            except DatabaseUnavailable as error:
                raise _unavailable(error) from None
        return str(who.user_id)

    async def on_complete(upload: Upload) -> dict:
        svc = app[SERVICES]
        stored = StoredFile(upload.digest or "", upload.length, upload.mime_type or "application/octet-stream",
                            upload.metadata.get("filename", "")[:200])
        try:
            async with svc.db.unit_of_work() as session:
                who = await archive_service.principal_of(session, int(upload.owner))
                return await archive_service.file_upload(
                    session, running, svc.workflow, svc.scope(who), _loan_id(upload.metadata.get("loan", "")),
                    upload.metadata.get("code", ""), stored, upload_id=upload.id)
        except ServiceError as error:
            raise UploadError(error.status, error.code, error.message) from None
        except DatabaseUnavailable as error:
            # The bytes stay staged: the client's retry (an empty PATCH) files them later.
            raise _unavailable(error) from None

    app.cleanup_ctx.append(lifetime)
    app.add_subapp("/api/uploads/", create_upload_app(
        running.store, authorize=authorize, on_complete=on_complete, max_size=config.archive_upload_max_bytes,
        staging_dir=running.staging_dir, required_metadata=("loan", "code")))


def _unavailable(error: DatabaseUnavailable) -> UploadError:
    return UploadError(503, "database_unavailable", "the database cannot be reached just now; try again shortly",
                       {"Retry-After": str(error.retry_after)})


def _loan_id(raw: str) -> int:
    loan_id = parse_id(raw)
    if loan_id is None:
        raise UploadError(400, "bad_metadata", "Upload-Metadata 'loan' must be a loan id")
    return loan_id


# --- the tus uploads in the API's OpenAPI document ----------------------------------------------

def _tus_operation(summary: str, responses: dict[int, str], *, headers: tuple[tuple[str, bool, dict], ...] = (),
                   body: bool = False, path_id: bool = False, security: bool = True) -> dict:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    common = {400: "Malformed request", 412: "Tus-Resumable is not 1.0.0", 429: "Too many requests",
              503: "Busy or the database unreachable: retry after the Retry-After seconds"}
    if security:
        common.update({401: "Not signed in", 403: "Not allowed, or CSRF check failed"})
    params = [{"name": "Tus-Resumable", "in": "header", "required": security,
               "schema": {"type": "string", "enum": ["1.0.0"]}}] if security else []
    params += [{"name": name, "in": "header", "required": required, "schema": schema}
               for name, required, schema in headers]
    if path_id:
        params.append({"name": "upload_id", "in": "path", "required": True,
                       "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{24}$"}})
    operation: dict = {"summary": summary, "tags": ["archive"], "responses": {}}
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = {"required": True, "content": {
            "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    for status, text in {**common, **responses}.items():
        answer: dict = {"description": text}
        if status >= 400:
            answer["content"] = error
        elif status == 200 and "JSON" in text:
            answer["content"] = {"application/json": {"schema": {"type": "object"}}}
        operation["responses"][str(status)] = answer
    if security:
        operation["security"] = [{"session": []}]
    return operation


_OFFSET = ("Upload-Offset", True, {"type": "integer", "minimum": 0})
routes.document("/uploads/", {
    "options": _tus_operation("tus 1.0 capabilities: Tus-Version, Tus-Extension (creation, termination, "
                              "checksum), Tus-Max-Size, Tus-Checksum-Algorithm", {204: "Capabilities"},
                              security=False),
    "post": _tus_operation(
        "Start a resumable upload of a scanned file for a loan (tus creation). Upload-Metadata must "
        "carry base64 'loan' (a loan id) and 'code' (a document code), optionally 'filename'",
        {201: "Created; Location is the upload's URL", 400: "Missing or malformed header or metadata",
         404: "No such loan in the caller's scope", 409: "The case has ended",
         413: "Larger than Tus-Max-Size", 422: "Unknown document code"},
        headers=(("Upload-Length", True, {"type": "integer", "minimum": 1}),
                 ("Upload-Metadata", True, {"type": "string", "maxLength": 4000}))),
})
routes.document("/uploads/{upload_id}", {
    "options": _tus_operation("tus 1.0 capabilities", {204: "Capabilities"}, security=False, path_id=True),
    "head": _tus_operation("The upload's offset (Upload-Offset) and length: where to resume",
                           {200: "Upload-Offset and Upload-Length headers", 404: "No such upload of the caller"},
                           path_id=True),
    "get": _tus_operation("The upload's state and, once filed, its credit-file record (not part of tus)",
                          {200: "The state as JSON", 404: "No such upload of the caller"}, path_id=True),
    "patch": _tus_operation(
        "Append bytes at Upload-Offset. Upload-Checksum '<sha256|sha1> <base64 digest>' (tus checksum) "
        "has the body kept only if it hashes to that. The last byte files the page; an empty PATCH at the "
        "final offset retries a filing that failed",
        {204: "Appended; Upload-Offset is the new offset", 400: "Malformed header or Upload-Checksum",
         404: "No such upload of the caller", 409: "Upload-Offset is not the server's offset, the upload is "
         "complete or busy, or the credit file refuses it", 413: "Past the declared Upload-Length",
         415: "Content-Type is not application/offset+octet-stream",
         422: "The finished file failed the content check (not a scan of an accepted kind)",
         460: "Checksum Mismatch: the body does not match Upload-Checksum; nothing of it was kept"},
        headers=(_OFFSET, ("Upload-Checksum", False, {"type": "string", "pattern": "^(sha1|sha256) [A-Za-z0-9+/=]+$"})),
        body=True, path_id=True),
    "delete": _tus_operation("Cancel an unfinished upload (tus termination)",
                             {204: "Cancelled", 404: "No such upload of the caller"}, path_id=True),
})


# --- credit files ----------------------------------------------------------------------------

@routes.route("GET", "/archive/loans/{loan_id}", summary="A loan's credit file: entries, signed index, verification",
              tag="archive")
async def get_credit_file(request: web.Request, loan_id: int) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        view = await archive_service.credit_file(session, archive(request), svc.workflow, scope(request), loan_id)
    return web.json_response(view)


@routes.route("GET", "/archive/loans/{loan_id}/documents", tag="archive",
              summary="Document codes to file for a loan (this stage's first) and the pages filed so far")
async def filing_panel(request: web.Request, loan_id: int) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work(write=False) as session:
        return web.json_response(await archive_service.filing_panel(session, scope(request), svc.workflow, loan_id))


_FILE_QUERY = {"download": Field("boolean", required=False, description="send as an attachment")}


async def _serve_checked(request: web.Request, ref: archive_service.FileRef, attachment: bool) -> web.StreamResponse:
    """A filed file's bytes, rehashed first: bytes that no longer match the digest the credit
    file names are refused (409), never served under that digest as ETag."""
    try:
        return await serve_blob(request, archive(request).store, ref.digest, content_type=ref.media_type,
                                filename=ref.filename, attachment=attachment, verify=True)
    except BlobAltered:
        raise Conflict(f"the stored file {ref.digest} no longer matches its digest; an archivist must "
                       "restore it from a copy", code="integrity_error") from None
    except BlobNotFound:
        raise Conflict(f"the stored file {ref.digest} is missing from the archive store; an archivist must "
                       "restore it from a copy", code="integrity_error") from None


@routes.route("GET", "/archive/loans/{loan_id}/pages/{document_id}", query=_FILE_QUERY, tag="archive",
              produces=("image/jpeg", "image/png", "image/tiff", "application/pdf"),
              summary="A scanned page's bytes (Range supported)",
              responses={200: "The file", 206: "Part of the file", 304: "Not modified",
                         409: "The stored bytes no longer match their digest, or are missing (integrity_error)",
                         416: "Range not satisfiable"})
async def get_page(request: web.Request, loan_id: int, document_id: int, query: dict) -> web.StreamResponse:
    async with services(request).db.unit_of_work() as session:
        ref = await archive_service.open_page(session, scope(request), loan_id, document_id,
                                              byte_range=request.headers.get("Range"))
    # The transaction is over before the bytes flow: a slow reader holds no database lock.
    return await _serve_checked(request, ref, query.get("download", False))


@routes.route("GET", "/archive/loans/{loan_id}/entries/{entry_id}", query=_FILE_QUERY, tag="archive",
              produces="*/*",
              summary="A filed record's bytes, e.g. a recording (Range supported, for seeking)",
              responses={200: "The file", 206: "Part of the file", 304: "Not modified",
                         409: "The stored bytes no longer match their digest, or are missing (integrity_error)",
                         416: "Range not satisfiable"})
async def get_entry(request: web.Request, loan_id: int, entry_id: int, query: dict) -> web.StreamResponse:
    async with services(request).db.unit_of_work() as session:
        ref = await archive_service.open_entry(session, scope(request), loan_id, entry_id,
                                               byte_range=request.headers.get("Range"))
    return await _serve_checked(request, ref, query.get("download", False))


@routes.route("GET", "/archive/loans/{loan_id}/recordings/{entry_id}", tag="archive",
              summary="A recording with its meeting's manifest and the meeting's other recordings")
async def get_recording(request: web.Request, loan_id: int, entry_id: int) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await archive_service.recording(session, request.config_dict[ARCHIVE], scope(request),
                                                                 loan_id, entry_id))


@routes.route("GET", "/archive/loans/{loan_id}/export.zip", tag="archive", produces="application/zip",
              summary="The whole credit file as one ZIP: index, signature, public key, files",
              responses={200: "The ZIP", 409: "The index does not verify, or a file is missing or altered "
                                               "(checked before the first byte is sent)"})
async def export_zip(request: web.Request, loan_id: int) -> web.StreamResponse:
    running = archive(request)
    async with services(request).db.unit_of_work() as session:
        loan, index, signature = await archive_service.export_index(session, running, scope(request), loan_id, "zip")
    try:
        return await send_credit_file_zip(request, index, signature, running.store,
                                          filename=f"credit-file-{loan.tracking_code}-v{index.version}.zip",
                                          public_key_pem=running.signing.public_key_pem())
    except ExportIntegrityError as error:  # found before the first byte: a refusal, not a cut
        raise Conflict(str(error), code="integrity_error") from None


@routes.route("GET", "/archive/loans/{loan_id}/export.pdf", tag="archive", produces="application/pdf",
              summary="The scanned pages as one printable PDF, in document-code order",
              responses={200: "The PDF", 409: "The index does not verify, or a page is missing or altered"})
async def export_pdf(request: web.Request, loan_id: int) -> web.StreamResponse:
    running = archive(request)
    async with services(request).db.unit_of_work() as session:
        loan, index, _ = await archive_service.export_index(session, running, scope(request), loan_id, "pdf")
    return await send_pdf(request, running, loan, index)


async def send_pdf(request: web.Request, running: Archive, loan, index, preface=None) -> web.StreamResponse:
    """The credit file's scanned pages (after `preface`, a (title, PDF bytes) summary, if given)
    as one PDF, built whole before the first byte: a missing or altered page is a 409."""
    # Spooled: small credit files stay in memory, big ones go to a temporary file.
    with tempfile.SpooledTemporaryFile(max_size=16 * 2**20) as out:
        try:
            await export_pages_pdf(index.scanned_pages(), running.store, out, preface=preface)
        except (PdfExportError, ExportIntegrityError) as error:
            raise Conflict(str(error), code="export_failed") from None
        size = out.tell()
        out.seek(0)
        response = web.StreamResponse(headers={
            "Content-Type": "application/pdf", "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="credit-file-{loan.tracking_code}-v{index.version}.pdf"'})
        response.content_length = size
        await response.prepare(request)
        while chunk := out.read(1 << 20):
            await response.write(chunk)
        await response.write_eof()
        return response


@routes.route("GET", "/archive/search", tag="archive", summary="Credit files in scope by customer, ID, loan, date, meeting",
              query={"name": Field("string", required=False, max_length=100),
                     "id_number": Field("string", required=False, max_length=32),
                     "tracking_code": Field("string", required=False, max_length=32),
                     "date_from": Field("string", required=False, max_length=10, description="YYYY-MM-DD"),
                     "date_to": Field("string", required=False, max_length=10, description="YYYY-MM-DD, inclusive"),
                     "meeting_id": Field("string", required=False, max_length=64),
                     "limit": Field("integer", required=False, minimum=1, maximum=200),
                     "before_id": id_field(required=False)})
async def search(request: web.Request, query: dict) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await archive_service.search(session, scope(request), **query))


@routes.route("DELETE", "/archive/loans/{loan_id}/entries/{entry_id}", tag="archive",
              summary="Remove a record whose retention period is over (archivists)",
              responses={200: "Removed", 409: "Retention not over"})
async def delete_entry(request: web.Request, loan_id: int, entry_id: int) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        return web.json_response(await archive_service.delete_entry(
            session, archive(request), svc.workflow, scope(request), loan_id, entry_id))


RECORD = Body("ArchiveRecord", {
    "loan_id": id_field(),
    "kind": Field("string", max_length=64, pattern=r"[a-z][a-z0-9_]{0,63}",
                  description=f"e.g. {', '.join(k for k in KNOWN_KINDS if k != 'document_page')}"),
    "digest": Field("string", pattern=r"[0-9a-f]{64}", description="SHA-256 of a blob already in the store"),
    "size": Field("integer", minimum=0, maximum=INT64_MAX),
    "title": Field("string", max_length=200),
    "media_type": Field("string", required=False, max_length=100),
    "code": Field("string", required=False, max_length=64),
    "meeting_id": Field("string", required=False, max_length=64),
    "retention_kind": Field("string", required=False, max_length=64),
})


@routes.route("POST", "/archive/records", body=RECORD, public=True, tag="archive",
              summary="File a record stored by another service (archive service token only)",
              responses={201: "Filed", 401: "No valid archive service token"})
async def file_record(request: web.Request, body: dict) -> web.Response:
    svc = services(request)
    claims = ServiceTokens(svc.config.secret_key).verify(
        bearer(request.headers.get("Authorization")), audience=ARCHIVE_AUDIENCE, scope=ARCHIVE_FILE_SCOPE)
    actor = Actor(None, claims["sub"][:64], "service", None)
    async with svc.db.unit_of_work() as session:
        record = await archive_service.file_record(
            session, archive(request), body["loan_id"], body["kind"], body["digest"], body["size"], body["title"],
            actor=actor, media_type=body.get("media_type", "application/octet-stream"), code=body.get("code"),
            meeting_id=body.get("meeting_id"), retention_kind=body.get("retention_kind"))
    return web.json_response(record, status=201)
