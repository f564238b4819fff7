"""Pages of the credit archive: search, a loan's credit file, the recording player.

The upload panel of the loan page is the template `archive_upload.html` (included by
`loan.html`) with `static/upload.js`; it talks to /api/uploads/ (tus) and the archive API.
"""
from __future__ import annotations

from aiohttp import web

from core.api.archive import ARCHIVE
from core.apispec import path_id
from core.context import scope, services
from core.errors import InvalidInput
from recordings import service as archive_service

from .i18n import LABELS
from .pages import render, signed_in

routes = web.RouteTableDef()

ARCHIVE_LABELS: dict[str, dict[str, str]] = {
    "archive": {"zh": "档案查询", "en": "Archive"},
    "archive_search": {"zh": "档案检索", "en": "Search the credit archive"},
    "archive_name": {"zh": "客户姓名", "en": "Customer name"},
    "archive_id_number": {"zh": "证件号码", "en": "ID number"},
    "archive_meeting": {"zh": "贷审会编号", "en": "Committee meeting"},
    "archive_date_from": {"zh": "申请日期自", "en": "Applied from"},
    "archive_date_to": {"zh": "至", "en": "to"},
    "archive_find": {"zh": "查询", "en": "Search"},
    "archive_no_results": {"zh": "未找到档案", "en": "No credit files found"},
    "archive_credit_file": {"zh": "信贷档案", "en": "Credit file"},
    "archive_open": {"zh": "打开", "en": "Open"},
    "archive_kind": {"zh": "类别", "en": "Kind"},
    "archive_code": {"zh": "编号", "en": "Reference"},
    "archive_page": {"zh": "页", "en": "Page"},
    "archive_size": {"zh": "大小", "en": "Size"},
    "archive_filed_at": {"zh": "归档时间", "en": "Filed"},
    "archive_digest": {"zh": "SHA-256", "en": "SHA-256"},
    "archive_index": {"zh": "档案目录签名", "en": "Signed index"},
    "archive_version": {"zh": "版本", "en": "Version"},
    "archive_status": {"zh": "校验结果", "en": "Verification"},
    "archive_status_intact": {"zh": "完整，签名有效", "en": "Intact, signature valid"},
    "archive_status_changed": {"zh": "与签名目录不一致", "en": "Differs from the signed index"},
    "archive_status_signature_invalid": {"zh": "签名无效", "en": "Signature invalid"},
    "archive_status_unsigned": {"zh": "未签名", "en": "Not signed"},
    "archive_status_empty": {"zh": "尚无归档", "en": "Nothing filed yet"},
    "archive_export_zip": {"zh": "导出档案包（ZIP）", "en": "Export (ZIP)"},
    "archive_export_pdf": {"zh": "打印扫描件（PDF）", "en": "Print scans (PDF)"},
    "archive_play": {"zh": "播放", "en": "Play"},
    "archive_recording": {"zh": "贷审会录像", "en": "Committee recording"},
    "archive_timeline": {"zh": "会议时间线", "en": "Meeting timeline"},
    "archive_other_recordings": {"zh": "同场其他录像", "en": "Other recordings of the meeting"},
    "archive_upload": {"zh": "上传扫描件", "en": "Upload scanned pages"},
    "archive_document_code": {"zh": "资料类别", "en": "Document"},
    "archive_files": {"zh": "文件", "en": "Files"},
    "archive_send": {"zh": "上传", "en": "Upload"},
    "archive_filed_pages": {"zh": "已归档扫描件", "en": "Filed pages"},
    "archive_kind_document_page": {"zh": "扫描件", "en": "Scanned page"},
    "archive_kind_fingerprint_record": {"zh": "指纹记录", "en": "Fingerprint record"},
    "archive_kind_recording": {"zh": "录像", "en": "Recording"},
    "archive_kind_recording_manifest": {"zh": "录像清单", "en": "Recording manifest"},
    "archive_kind_post_loan_record": {"zh": "贷后记录", "en": "Post-loan record"},
    "archive_kind_vote": {"zh": "表决记录", "en": "Vote"},
    "archive_kind_committee_draw": {"zh": "抽签记录", "en": "Committee draw"},
}
# The archive's labels join the front's table (the loan page's upload panel uses them too).
for _key, _value in ARCHIVE_LABELS.items():
    LABELS.setdefault(_key, _value)

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
    return render(request, "archive_file.html", file=view)


@routes.get(r"/archive/loans/{loan_id:[0-9]{1,10}}/recordings/{entry_id:[0-9]{1,10}}")
async def player_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work() as session:
        view = await archive_service.recording(session, scope(request), path_id(request, "loan_id"),
                                               path_id(request, "entry_id"))
    return render(request, "archive_player.html", rec=view)
