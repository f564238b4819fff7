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
}

STAGES: dict[str, dict[str, str]] = {}


def translator(language: str):
    def label(key: str) -> str:
        entry = LABELS.get(key) or STAGES.get(key)
        return entry.get(language, entry["zh"]) if entry else key
    return label


def pick_language(cookie: str | None, accept: str) -> str:
    if cookie in LANGUAGES:
        return cookie
    return "en" if accept.lower().startswith("en") else "zh"
