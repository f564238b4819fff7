"""Labels of the pages in Chinese (default: the users are Chinese bank staff) and English.

One catalogue: the names of stages, actions and documents come from the workflow definition,
products from the rule tables, roles and office kinds from core.roles; every other code a
person sees and every message of the API is named here (`Catalogue`)."""
from __future__ import annotations

import datetime
import re
from typing import Any, Mapping

from core.roles import OFFICE_KINDS, ROLES

LANGUAGES = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "app_name": {"zh": "贷款营销受理系统", "en": "Loan Acceptance Suite"},
    "login": {"zh": "登录", "en": "Sign in"},
    "logout": {"zh": "退出", "en": "Sign out"},
    "username": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
    "throttled": {"zh": "失败次数过多，请稍后再试", "en": "Too many failed attempts; try again later"},
    "work_queue": {"zh": "待办任务", "en": "Work queue"},
    "all_cases": {"zh": "可见案件", "en": "Cases in my scope"},
    "nothing_waiting": {"zh": "暂无待办", "en": "Nothing waiting"},
    "no_cases": {"zh": "暂无案件", "en": "No cases"},
    "tracking_code": {"zh": "受理编号", "en": "Tracking code"},
    "customer": {"zh": "客户", "en": "Customer"},
    "product": {"zh": "贷款品种", "en": "Product"},
    "amount": {"zh": "金额（元）", "en": "Amount (CNY)"},
    "term": {"zh": "期限（月）", "en": "Term (months)"},
    "stage": {"zh": "环节", "en": "Stage"},
    "since": {"zh": "进入时间", "en": "Since"},
    "loan_file": {"zh": "贷款档案", "en": "Loan file"},
    "notes": {"zh": "备注", "en": "Notes"},
    "add_note": {"zh": "添加备注", "en": "Add note"},
    "save": {"zh": "保存", "en": "Save"},
    "administration": {"zh": "系统管理", "en": "Administration"},
    "offices": {"zh": "机构", "en": "Offices"},
    "users": {"zh": "用户", "en": "Users"},
    "roles": {"zh": "角色", "en": "Roles"},
    "office": {"zh": "所属机构", "en": "Office"},
    "kind": {"zh": "类型", "en": "Kind"},
    "code": {"zh": "代码", "en": "Code"},
    "name_zh": {"zh": "中文名称", "en": "Name (Chinese)"},
    "name_en": {"zh": "英文名称", "en": "Name (English)"},
    "parent": {"zh": "上级机构", "en": "Parent office"},
    "region": {"zh": "区域", "en": "Region"},
    "display_name": {"zh": "姓名", "en": "Name"},
    "phone": {"zh": "手机", "en": "Phone"},
    "active": {"zh": "启用", "en": "Active"},
    "create": {"zh": "新增", "en": "Create"},
    "new_office": {"zh": "新增机构", "en": "New office"},
    "new_user": {"zh": "新增用户", "en": "New user"},
    "edit_roles": {"zh": "修改角色", "en": "Change roles"},
    "saved": {"zh": "已保存", "en": "Saved"},
    "error": {"zh": "出错了", "en": "Something went wrong"},
    "not_found": {"zh": "未找到", "en": "Not found"},
    "language": {"zh": "English", "en": "中文"},
    "officer_a": {"zh": "客户经理A角", "en": "Officer A"},
    "officer_b": {"zh": "客户经理B角", "en": "Officer B"},
    "channel": {"zh": "申请渠道", "en": "Channel"},
    "signed_in_as": {"zh": "当前用户", "en": "Signed in as"},
    "back": {"zh": "返回", "en": "Back"},
    "actions": {"zh": "办理", "en": "Actions"},
    "important": {"zh": "重要操作，需指纹确认", "en": "Important: needs a fingerprint step-up"},
    "history": {"zh": "办理记录", "en": "History"},
    "action": {"zh": "操作", "en": "Action"},
    "by": {"zh": "办理人", "en": "By"},
    "reason": {"zh": "原因/意见", "en": "Reason"},
    "credit_view": {"zh": "早期信用视图", "en": "Earlier record"},
    "earlier_loans": {"zh": "历史贷款", "en": "Earlier loans"},
    "rejections": {"zh": "被否决", "en": "Rejected"},
    "repaid": {"zh": "已结清", "en": "Repaid"},
    "returns": {"zh": "退回次数", "en": "Returns"},
    "overdue": {"zh": "逾期", "en": "Overdue"},
    "no_earlier_record": {"zh": "无历史记录（新客户）", "en": "No earlier record (new customer)"},
    "flag_reapplication": {"zh": "再次申请：有被退回、否决或结清记录", "en": "Re-application: returned, rejected or repaid before"},
    "flag_existing_customer": {"zh": "存量客户", "en": "Existing customer"},
    "flag_fingerprints_matched": {"zh": "指纹已比对", "en": "Prints matched"},
    "flag_prints_enrolled": {"zh": "指纹已采集", "en": "Prints enrolled"},
    "flag_duplicate_identity": {"zh": "疑似冒名/借名：指纹与他人身份证号相符", "en": "Possible false name: prints match another ID number"},
    "dispatch_rule": {"zh": "派单规则建议", "en": "Dispatch rules suggest"},
    "object_hint": {"zh": "每行一项，如：收入: 稳定", "en": "One item per line, e.g. income: stable"},
    "portal": {"zh": "网上申请", "en": "Apply online"},
    "progress": {"zh": "进度查询", "en": "Progress"},
    "feedback": {"zh": "意见建议", "en": "Feedback"},
    "apply": {"zh": "提交申请", "en": "Apply"},
    "id_number": {"zh": "身份证号", "en": "ID number"},
    "purpose": {"zh": "用途", "en": "Purpose"},
    "query": {"zh": "查询", "en": "Look up"},
    "received": {"zh": "申请已收到，请牢记受理编号", "en": "Application received; keep your tracking code"},
    "topic": {"zh": "类别", "en": "Topic"},
    "contact": {"zh": "联系方式（选填）", "en": "Contact (optional)"},
    "send": {"zh": "提交", "en": "Send"},
    "thanks": {"zh": "感谢您的意见", "en": "Thank you"},
    "staff_login": {"zh": "员工登录", "en": "Staff sign-in"},
    "messages": {"zh": "消息", "en": "Messages"},
    "nav_postloan": {"zh": "贷后管理", "en": "Post-loan"},
    "nav_insight": {"zh": "统计监督", "en": "Statistics"},
    "nav_archive": {"zh": "档案", "en": "Archive"},
    "nav_committee": {"zh": "贷审会（视频审批）", "en": "Credit committee (video review)"},
    "nav_my_prints": {"zh": "我的指纹", "en": "My prints"},
    "composite_video": {"zh": "合成录像", "en": "Composite video"},
    "composite_waiting": {"zh": "等待合成", "en": "Waiting"},
    "composite_queued": {"zh": "排队中", "en": "Queued"},
    "composite_running": {"zh": "合成中", "en": "Composing"},
    "composite_retrying": {"zh": "合成失败，正在重试", "en": "Failed; trying again"},
    "composite_done": {"zh": "已合成并归档", "en": "Composed and filed"},
    "composite_failed": {"zh": "合成失败（各人分轨录像已归档）", "en": "Failed (each person's tracks are filed)"},
    "composite_attempt": {"zh": "第{attempt}/{attempts}次", "en": "attempt {attempt} of {attempts}"},
    "committee_attendance": {"zh": "出席记录", "en": "Attendance"},
    "my_meetings": {"zh": "我的贷审会", "en": "My committee meetings"},
    "enter_room": {"zh": "进入会议室", "en": "Enter the room"},
    "meeting_phase": {"zh": "会议阶段", "en": "Phase"},
    "meeting_role": {"zh": "我的身份", "en": "My role"},
    "committee_phase_scheduled": {"zh": "待开会", "en": "Scheduled"},
    "committee_phase_open": {"zh": "汇报答询", "en": "Officers present"},
    "committee_phase_deliberation": {"zh": "闭门审议", "en": "Deliberation"},
    "committee_phase_voting": {"zh": "表决", "en": "Voting"},
    "committee_phase_tallied": {"zh": "已计票", "en": "Tallied"},
    "committee_role_member": {"zh": "委员", "en": "Member"},
    "committee_role_convener": {"zh": "召集人", "en": "Convener"},
    "committee_role_officer": {"zh": "汇报客户经理", "en": "Presenting officer"},
    "committee_quorum": {"zh": "法定人数", "en": "Quorum"},
    "committee_quorum_state": {"zh": "需{needed}名委员在场，现{present}名", "en": "{needed} members needed in the room, {present} there"},
    "committee_in_room": {"zh": "在场", "en": "in the room"},
    "committee_not_in_room": {"zh": "未在场", "en": "not in the room"},
    "committee_attended_presentation": {"zh": "出席汇报答询（可表决）", "en": "attended the presentation (may vote)"},
    "committee_event_join": {"zh": "进入", "en": "joined"},
    "committee_event_leave": {"zh": "离开", "en": "left"},
    "committee_event_reconnect": {"zh": "重新进入", "en": "rejoined"},
    "prints_change_rule": {"zh": "更改本人指纹需用已采集的手指确认；首次采集需管理员或主管本人在场按指纹确认。每次采集都会记录审计并短信通知本人。",
                           "en": "Changing your prints needs a step-up with a finger already enrolled; the first "
                                 "enrollment needs an administrator or supervisor present, with their print. Each "
                                 "enrollment is audited and you get an SMS."},
    "witness": {"zh": "在场管理员/主管（用户名）", "en": "Administrator / supervisor present (user name)"},
    "witness_print": {"zh": "其本人指纹", "en": "Their fresh print"},
    "witness_optional": {"zh": "已有指纹时可不填（改用本人指纹确认）", "en": "Leave empty once you have prints (you confirm with your own finger)"},
}

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
    "archive_status_store_damaged": {"zh": "存储中的档案文件缺失或被改动", "en": "Stored files missing or altered"},
    "archive_status_empty": {"zh": "尚无归档", "en": "Nothing filed yet"},
    "archive_export_zip": {"zh": "导出档案包（ZIP）", "en": "Export (ZIP)"},
    "archive_export_pdf": {"zh": "打印信贷档案（PDF：审批意见及扫描件）", "en": "Print the credit file (PDF: findings and scans)"},
    "archive_play": {"zh": "播放", "en": "Play"},
    "archive_recording": {"zh": "贷审会录像", "en": "Committee recording"},
    "archive_timeline": {"zh": "会议时间线", "en": "Meeting timeline"},
    "archive_other_recordings": {"zh": "同场其他录像", "en": "Other recordings of the meeting"},
    "archive_playback_rows": {"zh": "参会人员（声音与画面同步播放）", "en": "People (sound and picture together)"},
    "archive_composite": {"zh": "合成画面（全体）", "en": "Composite (everyone)"},
    "archive_gap": {"zh": "中断", "en": "gap"},
    "archive_audio_only": {"zh": "仅声音", "en": "sound only"},
    "archive_video_only": {"zh": "仅画面", "en": "picture only"},
    "archive_with_video": {"zh": "声音与画面", "en": "sound and picture"},
    "archive_not_filed": {"zh": "无归档录像", "en": "no recording filed"},
    "archive_play_person_here": {"zh": "从此刻播放此人的录像", "en": "Play this person's recording from this moment"},
    "archive_not_recorded_then": {"zh": "此刻无此人的录像，已跳到最近的片段", "en": "Not recorded at that moment: playing the nearest part"},
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
    "archive_kind_committee_minutes": {"zh": "贷审会纪要（出席记录）", "en": "Committee minutes (attendance)"},
}
LABELS.update(ARCHIVE_LABELS)

FIELDS: dict[str, dict[str, str]] = {
    "opinion": {"zh": "意见", "en": "Opinion"}, "reason": {"zh": "原因", "en": "Reason"},
    "risk_level": {"zh": "风险等级", "en": "Risk level"}, "route": {"zh": "派单路径", "en": "Route"},
    "office": {"zh": "调查机构", "en": "Investigating office"}, "officer_a": {"zh": "客户经理A角", "en": "Officer A"},
    "officer_b": {"zh": "客户经理B角", "en": "Officer B"}, "note": {"zh": "备注", "en": "Note"},
    "items": {"zh": "调查/审查要素", "en": "Items"}, "conclusion": {"zh": "结论", "en": "Conclusion"},
    "return_to": {"zh": "退回至", "en": "Return to"}, "meeting_id": {"zh": "会议编号", "en": "Meeting"},
    "meeting_at": {"zh": "会议时间", "en": "Meeting time"}, "committee_kind": {"zh": "贷审会类型", "en": "Committee"},
    "disbursing_office": {"zh": "放款社", "en": "Disbursing office"},
    "post_loan_manager": {"zh": "贷后管理人", "en": "Post-loan manager"}, "conditions": {"zh": "附加条件", "en": "Conditions"},
    "mode": {"zh": "签约方式", "en": "Signing mode"}, "contract_no": {"zh": "合同编号", "en": "Contract number"},
    "signed_on": {"zh": "签约日期", "en": "Signed on"}, "payment_mode": {"zh": "支付方式", "en": "Payment mode"},
    "amount": {"zh": "金额（元）", "en": "Amount (CNY)"}, "purpose": {"zh": "用途", "en": "Purpose"},
    "payee_known": {"zh": "收款人明确", "en": "Payee known"}, "payee": {"zh": "收款人", "en": "Payee"},
    "payee_account": {"zh": "收款账号", "en": "Payee account"}, "account": {"zh": "放款账号", "en": "Account"},
    "voucher_no": {"zh": "凭证号", "en": "Voucher"}, "disbursed_on": {"zh": "放款日期", "en": "Disbursed on"},
    "settlement": {"zh": "结清方式", "en": "Settlement"}, "closed_on": {"zh": "结清日期", "en": "Closed on"},
    "justification": {"zh": "超期限说明", "en": "Justification"},
    "summary": {"zh": "会议纪要", "en": "Summary"}, "votes_for": {"zh": "同意票", "en": "Votes for"},
    "votes_against": {"zh": "反对票", "en": "Votes against"}, "outcome": {"zh": "决议", "en": "Outcome"},
    "members": {"zh": "委员", "en": "Members"}, "channel": {"zh": "申请渠道", "en": "Channel"},
    "product": {"zh": "贷款品种", "en": "Product"}, "term_months": {"zh": "期限（月）", "en": "Term (months)"},
    "customer_name": {"zh": "客户姓名", "en": "Customer name"}, "id_number": {"zh": "身份证号", "en": "ID number"},
    "phone": {"zh": "手机", "en": "Phone"}, "region": {"zh": "区域", "en": "Region"},
}

CHOICES: dict[str, dict[str, str]] = {
    "low": {"zh": "低", "en": "low"}, "medium": {"zh": "中", "en": "medium"}, "high": {"zh": "高", "en": "high"},
    "credit_union": {"zh": "存量客户：所属信用社", "en": "Existing customer: their credit union"},
    "sub_center": {"zh": "新客户：分中心A/B角", "en": "New customer: sub-center A/B pair"},
    "recommend": {"zh": "建议通过", "en": "Recommend"}, "not_recommend": {"zh": "不建议", "en": "Do not recommend"},
    "small": {"zh": "小贷审会", "en": "Small committee"}, "large": {"zh": "大贷审会", "en": "Large committee"},
    "face_to_face": {"zh": "面签", "en": "Face to face"}, "video": {"zh": "视频面签", "en": "Video"},
    "entrusted": {"zh": "受托支付", "en": "Entrusted payment"}, "own": {"zh": "自主支付", "en": "Own payment"},
    "consumption": {"zh": "消费", "en": "Consumption"}, "business": {"zh": "经营", "en": "Business"},
    "repaid": {"zh": "正常结清", "en": "Repaid"}, "written_off": {"zh": "核销", "en": "Written off"},
    "transferred": {"zh": "转让", "en": "Transferred"},
    "approved": {"zh": "通过", "en": "Approved"}, "rejected": {"zh": "否决", "en": "Rejected"},
    "returned": {"zh": "退回复审", "en": "Returned for review"}, "counter": {"zh": "柜面", "en": "Counter"},
    "phone": {"zh": "电话", "en": "Phone"},
}

# Refusals a person reads (API answers and pages), by the error's code; {names} are filled from
# the error's details.
REFUSALS: dict[str, dict[str, str]] = {
    "before_scheduled_time": {
        "zh": "会议时间（{at}）未到，不能开始闭门审议",
        "en": "Deliberation cannot start before the meeting's time ({at})"},
    "no_quorum": {
        "zh": "出席委员不足法定人数：需{needed}名委员在场，现{present}名（未到：{absent}）；请等候或递补缺席委员",
        "en": "No quorum: {needed} members must be in the room, {present} are (not there: {absent}); "
              "wait for them or replace the absent by the reserve"},
    "not_present_for_presentation": {
        "zh": "您未出席汇报答询环节，不能表决",
        "en": "You were not in the room for the presentation, so you cannot vote"},
}


def message(code: str, language: str = "en", **values) -> str:
    """The catalogue's text of a refusal in ``language``, with its values filled in."""
    entry = REFUSALS[code]
    return entry.get(language, entry["zh"]).format(**values)


# --- codes with names that are not in the workflow definition or core.roles ----------------

CHANNELS: dict[str, dict[str, str]] = {
    "web": {"zh": "网上申请", "en": "Online"}, "counter": {"zh": "柜面代申请", "en": "At the counter"},
    "phone": {"zh": "电话代申请", "en": "By phone"},
}
# the committee meeting's phases (committee.service.PHASES)
PHASES: dict[str, dict[str, str]] = {
    "scheduled": {"zh": "待开会", "en": "Scheduled"}, "open": {"zh": "汇报答询", "en": "Officers present"},
    "deliberation": {"zh": "闭门审议", "en": "Deliberation"}, "voting": {"zh": "表决", "en": "Voting"},
    "tallied": {"zh": "已计票", "en": "Tallied"}, "closed": {"zh": "已结束", "en": "Closed"},
}
# a person's part in one meeting
MEETING_ROLES: dict[str, dict[str, str]] = {
    "convener": {"zh": "召集人", "en": "Convener"}, "member": {"zh": "委员", "en": "Member"},
    "officer": {"zh": "客户经理", "en": "Loan officer"},
}
# post-loan records (core.postloan.service.RECORD_KINDS), calendar items and states
RECORD_KINDS: dict[str, dict[str, str]] = {
    "inspection": {"zh": "贷后检查报告", "en": "Inspection report"},
    "interest_list": {"zh": "结息清单", "en": "Interest list"},
    "collection_notice": {"zh": "催收通知书", "en": "Collection notice"},
    "repayment_proof": {"zh": "还款凭证", "en": "Repayment proof"},
}
TASK_PARTS: dict[str, dict[str, str]] = {
    "interest": {"zh": "结息", "en": "Interest"}, "maturity": {"zh": "到期", "en": "Maturity"},
    "inspection": {"zh": "贷后检查", "en": "Inspection"},
    "reminder": {"zh": "提醒客户经理", "en": "reminder to the manager"},
    "notice": {"zh": "提前通知客户", "en": "advance notice to the customer"},
    "due": {"zh": "当日通知", "en": "due-day notice"}, "overdue": {"zh": "逾期催收", "en": "overdue notice"},
}
STATES: dict[str, dict[str, str]] = {
    "pending": {"zh": "待执行", "en": "Pending"}, "sent": {"zh": "已发送", "en": "Sent"},
    "skipped": {"zh": "已跳过", "en": "Skipped"}, "done": {"zh": "已完成", "en": "Done"},
    "failed": {"zh": "失败", "en": "Failed"},
    "active": {"zh": "管理中", "en": "Under management"}, "closed": {"zh": "已结清", "en": "Closed"},
    "manager": {"zh": "贷后管理人", "en": "Post-loan manager"}, "customer": {"zh": "客户", "en": "Customer"},
    "system": {"zh": "系统放款", "en": "Disbursed here"}, "import": {"zh": "导入", "en": "Imported"},
    "imported": {"zh": "导入", "en": "Imported"},
}
TOPICS: dict[str, dict[str, str]] = {
    "product": {"zh": "贷款品种", "en": "Products"}, "officer": {"zh": "客户经理", "en": "Loan officers"},
    "service": {"zh": "服务", "en": "Service"}, "other": {"zh": "其他", "en": "Other"},
}
FINGERS: dict[int, dict[str, str]] = {
    1: {"zh": "右拇指", "en": "right thumb"}, 2: {"zh": "右食指", "en": "right index"},
    3: {"zh": "右中指", "en": "right middle"}, 4: {"zh": "右环指", "en": "right ring"},
    5: {"zh": "右小指", "en": "right little"}, 6: {"zh": "左拇指", "en": "left thumb"},
    7: {"zh": "左食指", "en": "left index"}, 8: {"zh": "左中指", "en": "left middle"},
    9: {"zh": "左环指", "en": "left ring"}, 10: {"zh": "左小指", "en": "left little"},
}
OTHER_ACTIONS: dict[str, dict[str, str]] = {"committee_vote": {"zh": "贷审会表决", "en": "Committee vote"}}
# who made a decision when no person did (a LoanEvent of kind "system")
DECISION_MAKERS: dict[str, dict[str, str]] = {"committee": {"zh": "贷审会", "en": "Credit committee"}}

MORE_LABELS: dict[str, dict[str, str]] = {
    "case_file": {"zh": "调查、审查与审批意见", "en": "Findings, conclusions and opinions"},
    "dispatch_reason_existing_customer": {"zh": "存量客户：由所属信用社调查", "en": "existing customer: their own credit union"},
    "dispatch_reason_new_customer": {"zh": "新客户：由受理分中心A/B角调查", "en": "new customer: an intake sub-center's A/B pair"},
    "dispatch_reason_large_amount": {"zh": "大额：由受理分中心A/B角调查", "en": "large amount: an intake sub-center's A/B pair"},
    "dispatch_reason_risk_history": {"zh": "有风险记录：由受理分中心A/B角调查", "en": "risk history: an intake sub-center's A/B pair"},
    "yes": {"zh": "是", "en": "Yes"}, "no": {"zh": "否", "en": "No"},
    "confirm": {"zh": "确认", "en": "Confirm"}, "cancel": {"zh": "取消", "en": "Cancel"}, "add": {"zh": "添加", "en": "Add"},
    "yuan": {"zh": "元", "en": "CNY"}, "amount_10k": {"zh": "金额（万元）", "en": "Amount (10,000 CNY)"},
    "hours_unit": {"zh": "小时", "en": "hours"}, "back_to_loan": {"zh": "返回贷款档案", "en": "Back to the loan file"},
    "role_loan_officer": {"zh": "客户经理", "en": "Loan officer"},
    "stepup_title": {"zh": "指纹确认", "en": "Confirm with your fingerprint"},
    "stepup_capture": {"zh": "本次采集", "en": "Fresh capture"},
    "stepup_required": {"zh": "已启用", "en": "required"}, "stepup_off": {"zh": "未启用", "en": "off"},
    "stepup_cancelled": {"zh": "已取消指纹确认", "en": "Fingerprint confirmation cancelled"},
    "stepup_enroll_first": {"zh": "请先在“我的指纹”页面采集本人指纹", "en": "Enroll your own fingers first on the My prints page"},
    "fp_desk": {"zh": "放款指纹核验", "en": "Disbursement desk: fingerprint match"},
    "fp_threshold": {"zh": "比对阈值", "en": "Threshold"}, "fp_applicant": {"zh": "借款人", "en": "Applicant"},
    "fp_guarantor": {"zh": "担保人", "en": "Guarantor"}, "fp_dpi": {"zh": "分辨率（dpi）", "en": "Resolution (dpi)"},
    "fp_device": {"zh": "采集设备", "en": "Scanner"}, "fp_match": {"zh": "核验", "en": "Match"},
    "fp_result": {"zh": "结果", "en": "Result"}, "fp_enroll": {"zh": "调查指纹采集", "en": "Fingerprint enrollment"},
    "fp_enroll_title": {"zh": "调查环节指纹采集", "en": "Fingerprint enrollment at investigation"},
    "fp_min_fingers": {"zh": "每人至少采集手指数", "en": "Fingers needed per person"},
    "fp_complete": {"zh": "已完成", "en": "complete"}, "fp_incomplete": {"zh": "未完成", "en": "incomplete"},
    "fp_score": {"zh": "分数", "en": "score"}, "fp_enrolled": {"zh": "已采集", "en": "Enrolled"},
    "fp_reenroll": {"zh": "本机构已改用新的指纹模式，以下手指请重新采集（在此之前仍按原指纹核验）",
                    "en": "This bank now uses another fingerprint mode: enroll these fingers again "
                          "(until then they are verified with the earlier prints)"},
    "fp_finger": {"zh": "手指", "en": "Finger"}, "fp_file": {"zh": "采集文件（PNG/BMP/TIFF/WSQ）", "en": "Scanner file (PNG/BMP/TIFF/WSQ)"},
    "fp_enroll_button": {"zh": "采集", "en": "Enroll"}, "fp_add_guarantor": {"zh": "添加担保人", "en": "Add a guarantor"},
    "fp_me_explain": {"zh": "重要操作（★）需本人指纹确认", "en": "Important actions (★) are confirmed with your fingerprint"},
    "fp_panel": {"zh": "指纹", "en": "Fingerprints"}, "fp_unreadable": {"zh": "文件无法读取", "en": "The file cannot be read"},
    "fp_enrolled_done": {"zh": "已采集", "en": "Enrolled"}, "fp_matched": {"zh": "相符，可以放款", "en": "Matched: disbursement may proceed"},
    "fp_refused": {"zh": "不符，拒绝放款", "en": "Refused"}, "fp_minutiae": {"zh": "个细节点", "en": "minutiae"},
    "fp_match_one": {"zh": "相符", "en": "match"}, "fp_no_capture": {"zh": "未采集", "en": "no print captured"}, "fp_no_match": {"zh": "不符", "en": "no match"},
    "cm_meeting": {"zh": "贷审会", "en": "Committee meeting"}, "cm_my_role": {"zh": "我的身份", "en": "My part"},
    "cm_composite": {"zh": "合成录像", "en": "Composite video"}, "cm_convener_controls": {"zh": "主持", "en": "Chairing the meeting"},
    "cm_move_to": {"zh": "进入", "en": "Move to"}, "cm_meeting_closed": {"zh": "会议已结束", "en": "Meeting closed"},
    "cm_absent_member": {"zh": "缺席委员", "en": "Absent member"}, "cm_replace": {"zh": "由候补委员递补", "en": "Replace by a reserve"},
    "cm_your_vote": {"zh": "表决", "en": "Your vote"}, "cm_approve": {"zh": "同意", "en": "Approve"},
    "cm_reject": {"zh": "不同意", "en": "Reject"}, "cm_opinion": {"zh": "书面意见", "en": "Written opinion"},
    "cm_conditions": {"zh": "附加条件（同意时）", "en": "Conditions (with an approval)"},
    "cm_conditions_short": {"zh": "条件", "en": "conditions"},
    "cm_vote_explain": {"zh": "投票需本人指纹确认；所有委员投票前，票面密封。", "en": "Your vote is confirmed with your fingerprint; it stays sealed until every member has voted."},
    "cm_cast": {"zh": "指纹确认并投票", "en": "Confirm and vote"}, "cm_voted": {"zh": "已投票（密封）", "en": "You have voted (sealed)."},
    "cm_result": {"zh": "表决结果", "en": "Result"}, "cm_approved": {"zh": "通过", "en": "Approved"},
    "cm_rejected": {"zh": "未通过", "en": "Rejected"}, "cm_not_voted": {"zh": "未投票", "en": "did not vote"},
    "cm_members_unit": {"zh": "名委员", "en": "members"}, "cm_pass_ratio": {"zh": "通过比例", "en": "pass ratio"},
    "cm_convene": {"zh": "召集并抽选委员", "en": "Convene and draw"}, "cm_called": {"zh": "已召集", "en": "Called"},
    "cm_not_drawn": {"zh": "尚未抽选委员", "en": "panel not drawn yet"}, "cm_draw": {"zh": "抽选委员", "en": "Draw the panel"},
    "cm_meetings": {"zh": "会议", "en": "Meetings"}, "cm_no_meeting": {"zh": "尚未召集", "en": "No meeting yet"},
    "cm_draw_record": {"zh": "抽选记录", "en": "Draw record"}, "cm_verifies": {"zh": "可复核", "en": "verifies"},
    "cm_mismatch": {"zh": "不符", "en": "mismatch"}, "cm_seed_commitment": {"zh": "种子承诺（SHA-256）", "en": "Seed commitment (SHA-256)"},
    "cm_revealed_seed": {"zh": "揭示的种子", "en": "Revealed seed"}, "cm_pool": {"zh": "委员库", "en": "Pool"},
    "cm_frozen": {"zh": "冻结于", "en": "frozen"}, "cm_exclusions": {"zh": "回避", "en": "Exclusions"},
    "cm_panel": {"zh": "委员", "en": "Panel"}, "cm_reserves": {"zh": "候补", "en": "Reserves"},
    "cm_replacements": {"zh": "递补", "en": "Replacements"}, "cm_verify": {"zh": "复核方法", "en": "Verify"},
    "cm_me": {"zh": "我", "en": "Me"}, "cm_cannot_join": {"zh": "无法加入", "en": "Cannot join"},
    "cm_decision_not_delivered": {"zh": "决议未送达", "en": "Decision not delivered"}, "cm_waiting": {"zh": "等待中", "en": "waiting"},
    "job_queued": {"zh": "排队中", "en": "queued"}, "job_running": {"zh": "合成中", "en": "running"},
    "job_done": {"zh": "已完成", "en": "done"}, "job_failed": {"zh": "失败", "en": "failed"},
    "tl_join": {"zh": "加入", "en": "joined"}, "tl_leave": {"zh": "离开", "en": "left"}, "tl_phase": {"zh": "进入环节", "en": "phase"},
    "tl_recording-paused": {"zh": "录像暂停", "en": "recording paused"}, "tl_recording-resumed": {"zh": "录像继续", "en": "recording resumed"},
    "tl_vote": {"zh": "投票", "en": "voted"}, "tl_reconnect": {"zh": "重新连接", "en": "reconnected"},
    "tl_reconnecting": {"zh": "连接中断", "en": "connection lost"}, "tl_reconnected": {"zh": "重新连接", "en": "reconnected"},
    "cm_tile_live": {"zh": "在线", "en": "live"}, "cm_tile_reconnecting": {"zh": "正在重连", "en": "reconnecting"},
    "cm_tile_gone": {"zh": "已离开", "en": "gone"},
    "cm_connection_live": {"zh": "您的连接正常", "en": "Your connection is live"},
    "cm_connection_reconnecting": {"zh": "您的连接中断，正在自动重连…", "en": "Your connection dropped; reconnecting by itself…"},
    "cm_connection_lost": {"zh": "您已断开连接", "en": "You are disconnected"},
    "cm_media_mute": {"zh": "静音", "en": "Mute"}, "cm_media_unmute": {"zh": "取消静音", "en": "Unmute"},
    "cm_media_camera_off": {"zh": "关闭摄像头", "en": "Camera off"}, "cm_media_camera_on": {"zh": "打开摄像头", "en": "Camera on"},
    "cm_media_speaking": {"zh": "正在发言", "en": "speaking"},
    "cm_officers_done": {"zh": "陈述环节已结束，调查人员已离开会议室", "en": "The presentation is over: the officers have left the room"},
    "tl_closed": {"zh": "会议结束", "en": "meeting closed"}, "tl_no_manifest": {"zh": "无会议清单", "en": "No manifest for this recording"},
    "pl_disbursed": {"zh": "放款日", "en": "Disbursed"}, "pl_maturity": {"zh": "到期日", "en": "Maturity"},
    "pl_outstanding": {"zh": "余额（元）", "en": "Outstanding (CNY)"}, "pl_origin": {"zh": "来源", "en": "Origin"},
    "pl_status": {"zh": "状态", "en": "Status"}, "pl_unchecked": {"zh": "待核对", "en": "to check"},
    "pl_none": {"zh": "暂无贷后管理的贷款", "en": "No loans under management"}, "pl_imports": {"zh": "待核对的导入贷款", "en": "Imported loans to check"},
    "pl_confirm": {"zh": "核对无误", "en": "Confirm"}, "pl_principal": {"zh": "本金（元）", "en": "Principal (CNY)"},
    "pl_records": {"zh": "贷后记录", "en": "Records"}, "pl_day": {"zh": "日期", "en": "Day"}, "pl_summary": {"zh": "摘要", "en": "Summary"},
    "pl_pages": {"zh": "扫描页数", "en": "Scanned pages"}, "pl_no_records": {"zh": "尚无记录", "en": "No records yet"},
    "pl_file_record": {"zh": "登记", "en": "File a record"}, "pl_principal_repaid": {"zh": "还本金额（元）", "en": "Principal repaid (CNY)"},
    "pl_interest_settled": {"zh": "结息日", "en": "Interest date settled"}, "pl_file": {"zh": "登记", "en": "File"},
    "pl_schedule": {"zh": "日程", "en": "Schedule"}, "pl_due": {"zh": "所属日期", "en": "Due"}, "pl_runs_at": {"zh": "执行时间", "en": "Runs at"},
    "pl_audience": {"zh": "对象", "en": "To"}, "pl_filed": {"zh": "已登记", "en": "Filed"},
    "rate_title": {"zh": "服务评价", "en": "Rate our service"},
    "rate_explain": {"zh": "贷款结清后，请凭受理编号和身份证号对客户经理的服务进行评价。", "en": "Once your loan is repaid, rate your loan officer with the tracking code and your ID number."},
    "rate_attitude": {"zh": "服务态度", "en": "Attitude"}, "rate_skill": {"zh": "专业能力", "en": "Skill"},
    "rate_suggestions": {"zh": "意见建议", "en": "Suggestions"},
    "st_title": {"zh": "统计与监督", "en": "Statistics and supervision"}, "st_period": {"zh": "统计期间", "en": "Period"},
    "st_export": {"zh": "导出", "en": "Export"}, "st_by_stage": {"zh": "按环节", "en": "By stage"},
    "st_by_product": {"zh": "按贷款品种", "en": "By product"}, "st_by_office": {"zh": "按机构", "en": "By office"},
    "st_by_month": {"zh": "按月份", "en": "By month"}, "st_stage_times": {"zh": "环节用时与时限", "en": "Time in stage against its deadline"},
    "st_officers": {"zh": "客户经理绩效", "en": "Officer performance"},
    "st_supervision": {"zh": "监督：在办案件（按环节、机构、客户经理）", "en": "Supervision: open cases by stage, office and officer"},
    "st_key_by_stage": {"zh": "环节", "en": "Stage"}, "st_key_by_product": {"zh": "贷款品种", "en": "Product"},
    "st_key_by_office": {"zh": "机构", "en": "Office"}, "st_key_by_month": {"zh": "月份", "en": "Month"},
    "st_applications": {"zh": "申请（笔）", "en": "Applications (cases)"}, "st_approved": {"zh": "批准（笔）", "en": "Approved (cases)"},
    "st_rejected": {"zh": "拒绝（笔）", "en": "Rejected (cases)"}, "st_none": {"zh": "暂无", "en": "None"},
    "st_late_cases": {"zh": "超时案件", "en": "Late cases"}, "st_due": {"zh": "期限", "en": "Due"},
    "st_late_hours": {"zh": "超时（小时）", "en": "Late (hours)"}, "st_nothing_late": {"zh": "无超时案件", "en": "Nothing late"},
    "st_past_maturity": {"zh": "已过到期日未结清", "en": "Past maturity, not repaid"}, "st_loans_unit": {"zh": "笔", "en": "loans"},
    "st_count": {"zh": "次数", "en": "Times"}, "st_average_hours": {"zh": "平均用时（小时）", "en": "Average (hours)"},
    "st_deadline": {"zh": "时限", "en": "Deadline"}, "st_deadline_hours": {"zh": "时限（小时）", "en": "Deadline (hours)"},
    "st_late": {"zh": "超时（笔）", "en": "Late (cases)"},
    "st_committee_turnaround": {"zh": "贷审会周转", "en": "Committee turnaround"}, "st_times_unit": {"zh": "次", "en": "decisions"},
    "st_average": {"zh": "平均", "en": "average"}, "st_cases": {"zh": "案件（笔）", "en": "Cases"},
    "st_overdue_rate": {"zh": "超时率", "en": "Late rate"}, "st_average_days": {"zh": "平均天数", "en": "Average (days)"},
    "st_ratings": {"zh": "评价数", "en": "Ratings"}, "st_feedback": {"zh": "客户意见", "en": "Feedback from the portal"},
    "st_amount_by_month": {"zh": "按月份：申请金额", "en": "Amount applied for by month"},
    "st_unit_cases": {"zh": "笔", "en": "cases"}, "st_stage_times_csv": {"zh": "环节用时", "en": "Time in stage"},
    "archive_camera": {"zh": "拍照", "en": "Take a photo"}, "archive_choose_file": {"zh": "请选择文件或拍照", "en": "Choose a file or take a photo"},
    "upload_connection_lost": {"zh": "网络中断", "en": "Connection lost"}, "upload_expired": {"zh": "上传已失效", "en": "The upload expired"},
    "upload_filed_page": {"zh": "已归档，页码", "en": "Filed as page"},
}
MORE_LABELS.update({f"phase_{k}": v for k, v in PHASES.items()})
MORE_LABELS.update({f"meeting_role_{k}": v for k, v in MEETING_ROLES.items()})
MORE_LABELS.update({f"finger_{k}": v for k, v in FINGERS.items()})
LABELS.update(MORE_LABELS)
# the labels the page scripts use (web/static/*.js `label(key)`), put in every page
JS_LABELS: tuple[str, ...] = tuple(sorted(
    {"saved", "archive_choose_file", "upload_connection_lost", "upload_expired", "upload_filed_page", "pl_filed",
     "flag_duplicate_identity", "cm_move_to", "cm_meeting_closed", "cm_me", "cm_cannot_join",
     "cm_decision_not_delivered", "cm_waiting", "tl_no_manifest",
     "archive_not_recorded_then"}
    | {k for k in LABELS if k.startswith(("cm_tile_", "cm_connection_", "cm_media_", "cm_officers_"))}
    | {k for k in LABELS if k.startswith(("fp_", "stepup_", "phase_", "meeting_role_", "finger_", "job_", "tl_"))}))

# --- messages of the API, in Chinese --------------------------------------------------------
# The services speak English (the API's language for programs); a person reading a page gets
# the message in the page's language. Refusals with structured details (the workflow's guards)
# are worded from the details; the rest by pattern; anything unknown by its HTTP status, so a
# Chinese page never shows an English sentence.

_M = re.compile
MESSAGES: list[tuple[re.Pattern, str]] = [
    (_M(r"(loan|user|office|page|recording|archive entry|committee meeting) (?P<ref>\S+) not found"), "未找到{what}（{ref}）"),
    (_M(r"loan (?P<ref>\S+) is not under post-loan management"), "贷款 {ref} 未纳入贷后管理"),
    (_M(r"(?P<name>\w+) is required"), "请填写“{name}”"),
    (_M(r"field '(?P<name>\w+)' is required"), "请填写“{name}”"),
    (_M(r"(?P<name>\w+) must be .*"), "“{name}”的格式或取值不正确"),
    (_M(r"(?P<name>\w+) may (not be null|have at most .*)"), "“{name}”的取值不正确"),
    (_M(r"(?P<name>\w+) has (too many items|the wrong format)"), "“{name}”的格式或取值不正确"),
    (_M(r"unknown field\(s\): .*"), "提交了未知的字段"),
    (_M(r"unknown query parameter\(s\): .*"), "查询条件中有未知的参数"),
    (_M(r"sign in first"), "请先登录"),
    (_M(r"wrong user name or password"), "用户名或密码错误"),
    (_M(r"too many failed logins; try again later"), "失败次数过多，请稍后再试"),
    (_M(r"statistics are for managers and the chairman"), "统计监督仅供经营层负责人和董事长/理事长查看"),
    (_M(r"the officers' part of this meeting has ended"), "本次会议客户经理汇报答询环节已结束"),
    (_M(r"only the meeting's convener does this"), "只有本次会议的召集人可以办理"),
    (_M(r"only the meeting's panel members vote"), "只有本次会议抽选的委员可以表决"),
    (_M(r"you have already voted in this meeting"), "您已在本次会议投票"),
    (_M(r"you are not a participant of this meeting"), "您不是本次会议的参会人"),
    (_M(r"votes are cast in the voting phase.*"), "只能在表决环节投票"),
    (_M(r"the meeting is in '\w+'; the next phase is .*"), "会议不能进入该环节"),
    (_M(r"the meeting is closed"), "会议已结束"),
    (_M(r"the meeting has not been tallied"), "会议尚未计票"),
    (_M(r"absent members are replaced before deliberation starts"), "缺席委员须在闭门审议前递补"),
    (_M(r"say why the member is absent"), "请说明委员缺席的原因"),
    (_M(r"the committee cannot be drawn: .*"), "无法抽选委员：符合条件的委员不足"),
    (_M(r"the committee is drawn by a convener"), "委员由贷审会召集人抽选"),
    (_M(r"this loan has no committee meeting waiting for its draw"), "该贷款没有等待抽选委员的会议"),
    (_M(r"meeting_at .*"), "请填写正确的会议时间"),
    (_M(r"the disbursement desk is for the disbursement clerk"), "放款指纹核验仅限信贷会计办理"),
    (_M(r"the credit view is for staff"), "早期信用视图仅供银行员工查看"),
    (_M(r"the credit archive is open to bank staff only"), "信贷档案仅对银行员工开放"),
    (_M(r"the name does not match the ID number on file"), "姓名与已登记的身份证号不符"),
    (_M(r"this ID number belongs to another customer account"), "该身份证号属于另一个客户账户"),
    (_M(r"no application matches this tracking code and ID number( or phone)?"), "没有与该受理编号和身份证号（或手机号）相符的申请"),
    (_M(r"no loan matches this tracking code and ID number"), "没有与该受理编号和身份证号相符的贷款"),
    (_M(r"this loan is not open for rating.*"), "该贷款尚不能评价（贷款结清后方可评价）"),
    (_M(r"this loan has been rated already"), "该贷款已评价"),
    (_M(r"feedback is read by managers"), "客户意见仅供经营层查看"),
    (_M(r"give at least one search criterion"), "请至少填写一个查询条件"),
    (_M(r"the case has ended \((?P<stage>\w+)\); .*"), "案件已结束，信贷档案不再接收扫描件"),
    (_M(r"applicants may file documents of their own application only"), "申请人只能上传本人申请的资料"),
    (_M(r"unknown document code .*"), "未知的资料类别"),
    (_M(r"loan \S+ has nothing filed yet"), "该贷款尚无归档资料"),
    (_M(r"the credit file .*does not verify.*"), "信贷档案校验不通过，不能导出"),
    (_M(r"the credit file has no scanned pages"), "信贷档案尚无扫描件"),
    (_M(r"only archivists remove records from a credit file"), "只有档案管理员可以从信贷档案中移除记录"),
    (_M(r"prints are enrolled at the investigation; .*"), "指纹在调查环节采集"),
    (_M(r"only the loan's investigating officers enroll prints"), "只有本案的调查客户经理可以采集指纹"),
    (_M(r"guarantors are added by officer A during the investigation"), "担保人由客户经理A角在调查环节添加"),
    (_M(r"this person is already a guarantor of the loan"), "此人已是该贷款的担保人"),
    (_M(r"the applicant cannot guarantee their own loan"), "借款人不能为自己的贷款担保"),
    (_M(r"a guarantor needs a name and an ID number.*"), "担保人须填写姓名和身份证号（15至18位）"),
    (_M(r"prints are matched at the desk by the disbursement clerk"), "指纹由信贷会计在放款柜台核验"),
    (_M(r"the loan is at \w+, not at disbursement"), "贷款不在放款环节"),
    (_M(r"the capture is empty"), "采集文件是空的"),
    (_M(r"the capture is larger than .*"), "采集文件过大"),
    (_M(r"this capture's bytes were already submitted.*"), "此采集文件已提交过，为防重放被拒绝；请重新采集"),
    (_M(r"the print did not match your enrollment.*"), "指纹与您采集的指纹不符"),
    (_M(r".* has no enrolled print.*"), "尚未采集指纹"),
    (_M(r"the fingerprint search could not cover every enrolled print.*"), "指纹查重暂时未能覆盖全部已采集指纹，未给出结果；请稍后再试"),
    (_M(r"only staff enroll their fingers for step-up"), "只有员工采集本人指纹用于重要操作确认"),
    (_M(r"step-up is for staff"), "指纹确认仅供员工使用"),
    (_M(r"fingerprint records are for staff"), "指纹记录仅供员工查看"),
    (_M(r"finger .*"), "请选择手指（1至10）"),
    (_M(r"dpi must be .*"), "分辨率须在50至5000 dpi之间"),
    (_M(r"image_base64 is not base64"), "采集文件无法读取"),
    (_M(r"post-loan records are filed by the post-loan manager"), "贷后记录由贷后管理人登记"),
    (_M(r"only the loan's assigned post-loan manager files its records"), "只有本贷款的贷后管理人可以登记记录"),
    (_M(r"an imported loan must be checked by a manager before records are filed"), "导入的贷款须经经营层核对后才能登记记录"),
    (_M(r"imported loans are checked by (a )?managers?"), "导入的贷款由经营层负责人核对"),
    (_M(r"loan \S+ (was not imported|has been checked already|is closed|is already under post-loan management)"), "该贷款的状态不允许此操作"),
    (_M(r"inspection prints are taken by the post-loan manager"), "贷后检查指纹由贷后管理人采集"),
    (_M(r"a record needs at least one scanned page"), "登记记录须附至少一页扫描件"),
    (_M(r"on_day may not be in the future"), "日期不能晚于今天"),
    (_M(r"a repayment repays principal .*"), "还款记录须填写还本金额或结息日"),
    (_M(r"amount_fen must be 0 to the outstanding .*"), "还本金额不能超过贷款余额"),
    (_M(r"pages\[\d+\].*"), "扫描件格式或大小不正确"),
    (_M(r"only an administrator of this office may change it"), "只有本机构的系统管理员可以修改"),
    (_M(r"only a head-office administrator may grant the chairman role"), "只有总行系统管理员可以授予董事长/理事长角色"),
    (_M(r"administrators cannot remove their own admin role"), "系统管理员不能取消本人的管理员角色"),
    (_M(r"only administrators and the chairman read the audit trail"), "审计记录仅供系统管理员和董事长/理事长查看"),
    (_M(r"user name \S+ is taken"), "该用户名已被使用"),
    (_M(r"an office with code \S+ already exists"), "该机构代码已存在"),
    (_M(r"unknown role\(s\): .*"), "未知的角色"),
    (_M(r"a .* cannot sit under a .*"), "该类型的机构不能设在所选上级机构下"),
    (_M(r"password .*"), "密码不符合要求：至少8位，不能包含用户名，不能是常用密码"),
    (_M(r"no such user"), "没有该用户"),
    (_M(r"no intake sub-center is set up"), "尚未设立受理分中心"),
    (_M(r"sign in to apply on a customer's behalf"), "请登录后代客户申请"),
    (_M(r"missing or wrong CSRF token|cross-site request refused|refused: .*"), "请求被拒绝：请刷新页面后重试"),
    (_M(r"someone else changed this at the same time; reload and retry"), "他人同时修改了此案件，请刷新后重试"),
    (_M(r"a request with this Idempotency-Key is still being processed.*"), "相同的请求正在处理中，请稍候"),
    (_M(r"an internal error occurred.*"), "系统内部错误，已记录"),
    (_M(r"the request body is too large"), "提交的内容过大"),
    (_M(r"(malformed JSON|the body must be).*"), "提交的内容格式不正确"),
    (_M(r"needs a fingerprint step-up.*|.*step-up.*"), "此重要操作需本人指纹确认"),
    (_M(r"table is required for CSV"), "导出CSV须选择表格"),
]
_SUBJECTS = {"loan": "贷款", "user": "用户", "office": "机构", "page": "扫描件", "recording": "录像",
             "archive entry": "档案记录", "committee meeting": "贷审会"}
# by HTTP status, for a message nobody has worded in Chinese yet
_BY_STATUS = {400: "请求有误", 401: "请先登录", 403: "您无权办理此操作", 404: "未找到",
              409: "与案件当前状态冲突，请刷新后重试", 413: "提交的内容过大", 415: "提交的内容格式不正确",
              422: "填写的内容有误，请检查", 429: "操作过于频繁，请稍后再试"}
_FLAG_NEEDS = {
    "prints_enrolled": {"zh": "须先采集借款人及每位担保人的指纹", "en": "the applicant's and every guarantor's fingers must be enrolled first"},
    "fingerprints_matched": {"zh": "借款人及担保人的指纹尚未在放款柜台核验", "en": "the applicant's and guarantors' prints have not been matched at the desk"},
}


def has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


def _pick(table: Mapping, code, language: str) -> str:
    entry = table.get(code)
    return entry.get(language, entry["zh"]) if entry else str(code)


class Catalogue:
    """The one place a page gets the name of a code or the wording of a message, in one language:
    stages, actions, documents from the workflow definition; products from the rule tables;
    roles and office kinds from core.roles; everything else from the tables above."""

    def __init__(self, language: str, definition: Any = None, products: Mapping | None = None) -> None:
        self.language = language if language in LANGUAGES else "zh"
        self.definition = definition
        self.products = products or {}

    def _named(self, table: Mapping, code: str | None) -> str:
        item = table.get(code) if code is not None else None
        return getattr(item, f"name_{self.language}") if item is not None else (code or "—")

    def label(self, key: str) -> str:
        entry = LABELS.get(key) or (FIELDS.get(key[6:]) if key.startswith("field_") else None)
        return entry.get(self.language, entry["zh"]) if entry else key.removeprefix("field_")

    __call__ = label

    def stage(self, code: str | None) -> str:
        return self._named(self.definition.stages if self.definition else {}, code)

    def action(self, code: str | None) -> str:
        if code in OTHER_ACTIONS:  # confirmed by fingerprint, but not a step of the workflow
            return _pick(OTHER_ACTIONS, code, self.language)
        return self._named(self.definition.actions if self.definition else {}, code)

    def script_labels(self) -> dict[str, str]:
        """What the page scripts name: JS_LABELS and every action (the step-up dialog says which)."""
        out = {key: self.label(key) for key in JS_LABELS}
        codes = list(self.definition.actions) if self.definition else []
        out.update({f"action_{code}": self.action(code) for code in [*codes, *OTHER_ACTIONS]})
        return out

    def document(self, code: str | None) -> str:
        return self._named(self.definition.documents if self.definition else {}, code)

    def product(self, code: str | None) -> str:
        return self._named(self.products, code)

    def role(self, code: str | None) -> str:
        return self._named(ROLES, code)

    def office_kind(self, code: str | None) -> str:
        return self._named(OFFICE_KINDS, code)

    def field(self, name: str) -> str:
        return _pick(FIELDS, name, self.language)

    def choice(self, code: str) -> str:
        return _pick(CHOICES, code, self.language)

    def channel(self, code: str) -> str:
        return _pick(CHANNELS, code, self.language)

    def phase(self, code: str) -> str:
        return _pick(PHASES, code, self.language)

    def meeting_role(self, code: str | None) -> str:
        return _pick(MEETING_ROLES, code, self.language) if code else "—"

    def record_kind(self, code: str) -> str:
        return _pick(RECORD_KINDS, code, self.language)

    def state(self, code: str) -> str:
        return _pick(STATES, code, self.language)

    def topic(self, code: str) -> str:
        return _pick(TOPICS, code, self.language)

    def finger(self, number: int) -> str:
        return _pick(FINGERS, int(number), self.language)

    def maker(self, name: str | None, kind: str = "") -> str:
        """Who made a step: a person's name, or the body that decided (the committee)."""
        if kind == "system" or name in DECISION_MAKERS:
            return _pick(DECISION_MAKERS, "committee", self.language)
        return name or "—"

    def task(self, kind: str) -> str:
        """A calendar item's kind (interest_reminder, maturity_overdue_2, inspection_due…)."""
        parts = kind.split("_")
        if len(parts) >= 2 and parts[0] in TASK_PARTS and parts[1] in TASK_PARTS:
            text = f"{_pick(TASK_PARTS, parts[0], self.language)}{'' if self.language == 'zh' else ': '}" \
                   f"{_pick(TASK_PARTS, parts[1], self.language)}"
            return text + (f" {parts[2]}" if len(parts) > 2 else "")
        return kind

    def hours(self, value: float | None) -> str:
        return "—" if value is None else (f"{value:g} 小时" if self.language == "zh" else f"{value:g} h")

    def deadline(self, stage: Any) -> str:
        """A stage's time limit, e.g. 1 个工作日 / 1 working day."""
        if stage is None:
            return "—"
        if getattr(stage, "deadline_working_days", None):
            n = stage.deadline_working_days
            return f"{n} 个工作日" if self.language == "zh" else f"{n} working day{'s' if n != 1 else ''}"
        if getattr(stage, "deadline_hours", None):
            n = stage.deadline_hours
            return f"{n} 小时" if self.language == "zh" else f"{n} hour{'s' if n != 1 else ''}"
        return "—"

    # --- messages ----------------------------------------------------------------------

    def blocked(self, blocked: Mapping | None) -> str:
        """Why an action cannot be taken now (loanflow.options' ``blocked``)."""
        if not blocked:
            return ""
        return self.message(blocked.get("message", ""), code=blocked.get("error"), details=blocked.get("details"))

    def message(self, message: str, *, code: str | None = None, details: Mapping | None = None,
                status: int | None = None) -> str:
        details = details or {}
        if code and code.startswith("guard_"):
            worded = self._guard(code[6:], details, message)
            if worded:
                return worded
        if code == "officer_not_in_office":
            slot = self.field(str(details.get("field")))
            return f"{slot}须是所选调查机构的客户经理" if self.language == "zh" else \
                f"{slot} must be an officer of the chosen investigating office"
        if self.language == "en" or not message or has_cjk(message):
            return message
        if code == "wrong_stage":
            return f"“{self.action(details.get('action'))}”不能在“{self.stage(details.get('stage'))}”环节办理"
        if code == "action_not_allowed":
            return f"“{self.action(details.get('action'))}”须由" + "、".join(self.role(r) for r in details.get("roles", [])) + "办理"
        if code == "duty_conflict":
            return "审贷分离：同一人不能在同一笔贷款中承担互斥的职责"
        for pattern, zh in MESSAGES:
            found = pattern.fullmatch(message)
            if found:
                values = {k: (self.field(v) if k == "name" else v) for k, v in found.groupdict().items()}
                values["what"] = _SUBJECTS.get(found.group(1) if found.groups() else "", "")
                return zh.format(**values)
        return _BY_STATUS.get(status or 0, "操作未能完成")

    def _guard(self, guard: str, details: Mapping, message: str) -> str | None:
        zh = self.language == "zh"
        if guard == "documents_present":
            missing = details.get("missing") or []
            names = "、".join(f"{self.document(c)}（{c}）" for c in missing) if zh else \
                ", ".join(f"{self.document(c)} ({c})" for c in missing)
            return f"缺少资料：{names}" if zh else f"documents missing: {names}"
        if guard == "flag_set" and details.get("flag") in _FLAG_NEEDS:
            return _FLAG_NEEDS[details["flag"]][self.language]
        if guard == "is_assigned":
            slot = self.field(str(details.get("slot")))
            return f"只有被指定为{slot}的人员可以办理" if zh else f"only the person assigned as {slot} may do this"
        if guard == "distinct_values":
            fields = [self.field(f) for f in details.get("fields", [])]
            return "、".join(fields) + "必须是不同的人" if zh else f"{' and '.join(fields)} must be different people"
        if not zh:
            return None
        if guard in ("flag_set", "flag_not_set"):
            flag = self.label(f"flag_{details.get('flag')}")
            return f"案件尚未标记“{flag}”" if guard == "flag_set" else f"案件已标记“{flag}”"
        worded = {
            "is_customer": "只有本笔贷款的申请人可以办理",
            "is_author": "只有填写此申请的人可以办理",
            "is_sender": "只有把案件送到此环节的人可以撤回",
            "next_not_acted": "下一环节已开始办理，不能撤回",
            "amount_within_approved": "金额超过批准的金额",
            "product_known": "未知的贷款品种",
            "term_within_limit": "期限超过该品种的上限" + ("，须填写超期限说明" if "justification" in message else ""),
            "signing_mode_allowed": "规则不允许此签约方式",
            "payment_mode_allowed": "按规则须采用受托支付",
            "committee_tally": "表决结果与所报决议不符",
            "committee_kind_matches": "贷审会类型与金额不符",
        }
        return worded.get(guard)


def catalogue(language: str, workflow: Any = None, definition: Any = None) -> Catalogue:
    """The catalogue for a request: the current workflow definition and today's products."""
    if workflow is None:
        return Catalogue(language, definition)
    products = workflow.rules.at(datetime.date.today()).products
    return Catalogue(language, definition or workflow.current, products)


def pick_language(cookie: str | None, accept: str) -> str:
    if cookie in LANGUAGES:
        return cookie
    return "en" if accept.lower().startswith("en") else "zh"
