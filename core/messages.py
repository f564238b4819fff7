"""Texts of the SMS and page notifications, in Chinese as customers and staff receive them."""
from __future__ import annotations

import datetime as dt

BANK = "农商银行"
LOCAL_TIME = dt.timezone(dt.timedelta(hours=8), "CST")  # the times people read in an SMS

TEMPLATES: dict[str, str] = {
    "application_received": "【{bank}】您的贷款申请已收到，受理编号{code}。可凭受理编号和身份证号查询进度。",
    "application_accepted": "【{bank}】您的贷款申请（{code}）已受理，我们将安排客户经理与您联系。",
    "application_rejected": "【{bank}】很抱歉，您的贷款申请（{code}）未获通过。原因：{reason}",
    "application_cancelled": "【{bank}】贷款申请（{code}）已撤销。",
    "application_cancelled_customer": "【{bank}】您的贷款申请（{code}）已撤销。",
    "investigation_scheduled": "【{bank}】您的贷款申请（{code}）已安排客户经理调查，请保持电话畅通。",
    "loan_approved": "【{bank}】您的贷款申请（{code}）已审批通过，请按通知办理签约。",
    "approval_notice_issued": "【{bank}】贷款（{code}）批复已出具，请按约定时间办理面签。",
    "loan_disbursed": "【{bank}】您的贷款（{code}）已发放，请按期还款。",
    "loan_active": "【{bank}】贷款（{code}）已进入贷后管理。",
    "loan_closed": "【{bank}】您的贷款（{code}）已结清，感谢您的信任。欢迎对客户经理的服务进行评价。",
    "committee_scheduled": "【{bank}】贷审会已安排：贷款{code}，请按时参加视频审批。",
    "committee_rescheduled": "【{bank}】贷审会时间调整：贷款{code}，请留意新的会议时间。",
    "case_assigned": "【{bank}】新的案件（{code}）已分派给您，请及时处理。",
    "loan_assigned": "【{bank}】贷款（{code}）已指定您为贷后管理人。",
    "assignment_withdrawn": "【{bank}】案件（{code}）的分派已撤回。",
    "case_returned": "【{bank}】案件（{code}）被退回：{reason}",
    "case_rejected": "【{bank}】案件（{code}）已否决：{reason}",
    "step_waiting": "【{bank}】案件（{code}）在“{stage}”环节等待您处理。",
    "submission_withdrawn": "【{bank}】案件（{code}）的上一步提交已撤回。",
    "fingerprint_enrolled": "【{bank}】您的指纹（第{finger}指）已于{time}采集或更新。如非本人操作，请立即联系系统管理员。",
    "credentials_changed": "【{bank}】您的系统账号{what}已于{time}变更。如非您知悉的变更，请立即联系系统管理员。",
    "deadline_near": "【{bank}】案件（{code}）在“{stage}”环节即将超时，请尽快处理。",
}


def render(template: str, **values: str) -> str:
    """The text of a message; a missing value leaves a visible dash rather than failing."""
    text = TEMPLATES.get(template)
    if text is None:
        raise KeyError(f"no message template named {template!r}")
    return text.format_map(_Defaults(values))


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return "—"
