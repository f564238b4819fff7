"""Labels of the pages in Chinese (default: the users are Chinese bank staff) and English."""
from __future__ import annotations

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
    "prints_change_rule": {"zh": "更改本人指纹需用已采集的手指确认；首次采集需管理员或主管本人在场按指纹确认。每次采集都会记录审计并短信通知本人。",
                           "en": "Changing your prints needs a step-up with a finger already enrolled; the first "
                                 "enrollment needs an administrator or supervisor present, with their print. Each "
                                 "enrollment is audited and you get an SMS."},
    "witness": {"zh": "在场管理员/主管（用户名）", "en": "Administrator / supervisor present (user name)"},
    "witness_print": {"zh": "其本人指纹", "en": "Their fresh print"},
    "witness_optional": {"zh": "已有指纹时可不填（改用本人指纹确认）", "en": "Leave empty once you have prints (you confirm with your own finger)"},
}

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
}

def translator(language: str):
    def label(key: str) -> str:
        entry = LABELS.get(key) or (FIELDS.get(key[6:]) if key.startswith("field_") else None)
        return entry.get(language, entry["zh"]) if entry else key.removeprefix("field_")
    return label


def choice_namer(language: str):
    def name(code: str) -> str:
        entry = CHOICES.get(code)
        return entry.get(language, entry["zh"]) if entry else code
    return name


def pick_language(cookie: str | None, accept: str) -> str:
    if cookie in LANGUAGES:
        return cookie
    return "en" if accept.lower().startswith("en") else "zh"
