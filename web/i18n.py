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
    "composite_video": {"zh": "合成录像", "en": "Composite video"},
    "composite_waiting": {"zh": "等待合成", "en": "Waiting"},
    "composite_queued": {"zh": "排队中", "en": "Queued"},
    "composite_running": {"zh": "合成中", "en": "Composing"},
    "composite_retrying": {"zh": "合成失败，正在重试", "en": "Failed; trying again"},
    "composite_done": {"zh": "已合成并归档", "en": "Composed and filed"},
    "composite_failed": {"zh": "合成失败（各人分轨录像已归档）", "en": "Failed (each person's tracks are filed)"},
    "composite_attempt": {"zh": "第{attempt}/{attempts}次", "en": "attempt {attempt} of {attempts}"},
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
