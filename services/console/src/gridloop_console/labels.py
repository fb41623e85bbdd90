"""Words, dates and numbers as the center reads them: Chinese by default, English on request.

Dates are shown in Asia/Shanghai, the city's time, whatever the server's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gridloop_common.catalogue import CATEGORIES, DEPARTMENTS
from gridloop_common.periods import SHANGHAI
from gridloop_console.places import Places

LANGUAGES = ("zh", "en")

# key → (Chinese, English)
LABELS: dict[str, tuple[str, str]] = {
    "title": ("宁国市多网合一 · 运行中心", "gridloop · operations console"),
    "overview": ("总览", "Overview"),
    "board": ("时限看板", "SLA board"),
    "cases": ("案件动态", "Case feed"),
    "case": ("案件", "Case"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "key": ("访问密钥", "Access key"),
    "wrong_key": (
        "密钥不正确:请使用运行中心发放的操作员或查看员密钥。",
        "That key is not valid: use the operator or viewer key the center issued.",
    ),
    "console_disabled": (
        "控制台尚未配置操作员密钥(OPERATOR_API_KEY)。",
        "The console has no operator key configured (OPERATOR_API_KEY).",
    ),
    "operator": ("操作员", "operator"),
    "viewer": ("查看员(只读)", "viewer (read only)"),
    "today": ("今日", "Today"),
    "this_month": ("本月", "This month"),
    "reported": ("上报", "Reported"),
    "dispatched": ("派单", "Dispatched"),
    "acceptance_rate": ("受理率(8小时内接单)", "Accepted within 8 h"),
    "completion_rate": ("办结率(时限内办结)", "Completed in time"),
    "satisfaction": ("满意率", "Satisfaction"),
    "closed": ("已销号", "Closed"),
    "open_orders": ("在办工单", "Open orders"),
    "breaches_last_hour": ("近一小时超时", "Breaches, last hour"),
    "reports_per_hour": ("近24小时每小时上报量", "Reports per hour, last 24 h"),
    "green": ("正常", "green"),
    "yellow": ("预警", "yellow"),
    "red": ("超时", "red"),
    "township": ("乡镇(街道)", "Township"),
    "department": ("责任单位", "Department"),
    "clock": ("时限", "Clock"),
    "accept": ("接单", "accept"),
    "complete": ("办结", "complete"),
    "all": ("全部", "all"),
    "filter": ("筛选", "Filter"),
    "deadline": ("截止", "Deadline"),
    "overdue": ("超时", "overdue"),
    "left": ("剩余", "left"),
    "category": ("问题类别", "Category"),
    "grid": ("网格", "Grid"),
    "status": ("状态", "Status"),
    "timeline": ("办理经过", "Timeline"),
    "report": ("群众上报", "Report"),
    "channel": ("渠道", "Channel"),
    "orders": ("工单", "Orders"),
    "no_open_orders": ("没有在办工单。", "No open orders."),
    "nothing_yet": ("暂无。", "Nothing yet."),
    "not_found": ("未找到该案件。", "No such case."),
    "report_pending": (
        "该上报已收到,案件尚未生成(派单中)。",
        "The report is in; its case is not opened yet (being routed).",
    ),
    "live": ("实时", "live"),
    "language": ("English", "中文"),
    "of": ("/", "of"),
    # Case statuses
    "status_reported": ("已上报", "reported"),
    "status_escalated": ("已上交中心", "escalated to the center"),
    "status_dispatched": ("待接单", "waiting for acceptance"),
    "status_in_progress": ("办理中", "in progress"),
    "status_rejected": ("已退回", "rejected, to be re-routed"),
    "status_completed": ("已办结,待评价", "completed, awaiting feedback"),
    "status_closed": ("已销号", "closed"),
    "status_resolved_locally": ("村(社区)已就地解决", "resolved in the village"),
    # Timeline entries
    "kind_reported": ("群众上报", "reported"),
    "kind_escalated": ("上交中心", "escalated to the center"),
    "kind_resolved_locally": ("就地解决", "resolved locally"),
    "kind_dispatched": ("派单", "dispatched"),
    "kind_reopened": ("不满意,重新办理", "reopened (not satisfied)"),
    "kind_accepted": ("接单", "accepted"),
    "kind_extended": ("延期获批", "extension approved"),
    "kind_rejected": ("退单", "rejected"),
    "kind_flagged": ("多次退转,已标记", "flagged: bounced too often"),
    "kind_completed": ("办结", "completed"),
    "kind_closed": ("评价销号", "closed by feedback"),
    "kind_sla_warning": ("时限预警", "SLA warning"),
    "kind_sla_breached": ("超时", "SLA breached"),
    "kind_sla_met": ("按时", "met in time"),
    "kind_sla_settled_late": ("超时后办理", "settled late"),
    "rankings": ("排名", "Rankings"),
    "grades": ("季度等次", "Quarterly grades"),
    "grade_excellent": ("优秀", "excellent"),
    "grade_good": ("良好", "good"),
    "grade_pass": ("合格", "pass"),
    "grades_explained": (
        "按综合得分排序(同分看办件量,再看编号),优秀 : 良好 : 合格 = 1 : 2 : 7,名额按最大余数分配。",
        "Ordered by composite score (then cases handled, then id); excellent : good : pass = "
        "1 : 2 : 7, seats by largest remainder.",
    ),
    "score": ("综合得分", "Score"),
    "weights": ("权重", "Weights"),
    "separated_by": ("与下一名的区分", "Separated from the next by"),
    "seats": ("名额", "Seats"),
    "actions": ("中心操作", "The center's actions"),
    "actions_hint": (
        "是否允许由派单服务按案件状态判定;不允许时显示其答复,案件不变。",
        "dispatch judges whether the case's state allows it; if not, its answer is shown and "
        "nothing changes.",
    ),
    "action_sent": (
        "已提交,结果将出现在办理经过中。",
        "Sent; the outcome appears in the timeline.",
    ),
    "action_triage": ("分拨", "Triage"),
    "action_redispatch": ("改派", "Re-dispatch"),
    "action_joint": ("发起联动", "Start a joint action"),
    "action_approve": ("批准延期", "Approve extension"),
    "action_refuse": ("不予延期", "Refuse extension"),
    "extension_request": ("延期申请", "extension request"),
    "lead_unit": ("牵头单位", "Lead unit"),
    "cooperating_units": ("协办单位", "Cooperating units"),
    "map": ("网格地图", "Map"),
    "map_hint": (
        "按网格在办工单的最重颜色着色;点击网格查看详情。",
        "Each grid in its open orders' worst colour; click a grid for its details.",
    ),
    "no_grid": ("登记册中没有该网格。", "The registry has no such grid."),
    "grid_worker": ("网格员", "Grid worker"),
    "chat_groups_heading": ("网格群", "Chat groups"),
    "notices": ("一键通知", "Notices"),
    "notice": ("通知", "Notice"),
    "period": ("期间", "Period"),
    "level": ("层级", "Level"),
    "metric": ("指标", "Metric"),
    "rank": ("名次", "Rank"),
    "basis": ("依据", "Basis"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "fewer_is_better": ("越少越好", "fewer is better"),
    "refused_by": ("操作未完成,服务答复", "Not done; the service answered"),
    "level_department": ("责任单位", "department"),
    "level_township": ("乡镇(街道)", "township"),
    "level_village": ("村(社区)", "village"),
    "level_grid": ("网格", "grid"),
    "level_grid_worker": ("网格员", "grid worker"),
    "level_handler": ("经办人", "handler"),
    "metric_handled": ("办件量", "cases handled"),
    "metric_on_time_acceptance_rate": ("按时受理率", "accepted in time"),
    "metric_on_time_completion_rate": ("按时办结率", "completed in time"),
    "metric_satisfaction_rate": ("满意率", "satisfaction"),
    "metric_reported": ("上报量", "reports"),
    "metric_dispatched": ("派单量", "orders dispatched"),
    "metric_breaches": ("超时次数", "breaches"),
    "metric_reopens": ("重办次数", "reopens"),
    "audience": ("通知对象", "Audience"),
    "area_grid": ("网格", "grid"),
    "area_village": ("村(社区)", "village"),
    "area_township": ("乡镇(街道)", "township"),
    "area_city": ("全市", "the whole city"),
    "area_ids": ("区域编号(多个用逗号分隔)", "Area ids (comma-separated)"),
    "audience_hint": ("选择区域后显示覆盖人数。", "Choose an area to see whom it reaches."),
    "reaches": ("将送达", "Reaches"),
    "chat_groups": ("个网格群", "chat groups"),
    "households": ("户", "households"),
    "unknown_area": ("登记册中没有该区域。", "The registry has no such area."),
    "notice_title": ("标题", "Title"),
    "notice_body": ("内容", "Text"),
    "channels": ("发送渠道", "Channels"),
    "notice_channel_chat_group": ("网格群消息", "chat group message"),
    "notice_channel_sms": ("短信(每户)", "SMS to every household"),
    "send": ("发送", "Send"),
    "viewer_cannot_send": (
        "查看员只能查看,发送通知需操作员登录。",
        "A viewer only reads: sending takes the operator's sign-in.",
    ),
    "sent_notices": ("已发通知", "Sent notices"),
    "sent_at": ("发送时间", "Sent"),
    "recipients": ("接收数", "Recipients"),
    "notice_status_expanding": ("准备中", "preparing"),
    "notice_status_sending": ("发送中", "sending"),
    "notice_status_completed": ("已完成", "completed"),
    "total_recipients": ("接收对象", "recipients"),
    "total_delivered": ("已送达", "delivered"),
    "total_failed": ("失败", "failed"),
    "total_skipped": ("跳过", "skipped"),
    "total_pending": ("待发送", "pending"),
    "satisfied": ("满意", "satisfied"),
    "unsatisfied": ("不满意", "not satisfied"),
    # Parked messages
    "parked": ("滞留消息", "Parked messages"),
    "parked_nav": ("滞留消息", "Parked"),
    "parked_explained": (
        "各服务无法处理的消息(格式错误、多次失败或被拒)停在其滞留队列,不会丢失;"
        "原因排除后可重新投递到该服务的收件队列,已处理过的消息不会重复生效。",
        "Messages a service could not handle (malformed, failing again and again, refused) wait "
        "in its parking queue and are not lost; once the cause is mended, replay them into the "
        "service's inbox: one already applied has no second effect.",
    ),
    "service": ("服务", "Service"),
    "queue": ("队列", "Queue"),
    "parked_waiting": ("滞留数", "Parked"),
    "reasons": ("原因及条数", "Reasons and counts"),
    "reason": ("原因", "Reason"),
    "none_parked": ("无滞留消息", "none parked"),
    "counted_over": ("按最早的若干条计数:", "counted over the oldest"),
    "parked_at": ("滞留时间", "Parked at"),
    "message_type": ("消息类型", "Type"),
    "routing_key": ("路由键", "Routing key"),
    "attempts": ("尝试次数", "Attempts"),
    "replay": ("重新投递", "Replay"),
    "replay_all": ("全部重新投递", "Replay all"),
    "replayed": ("已重新投递", "Replayed"),
    "viewer_cannot_replay": (
        "查看员只能查看;重新投递需操作员登录。",
        "A viewer only reads; replaying takes the operator.",
    ),
    "service_intake": ("受理(intake)", "intake"),
    "service_dispatch": ("派单(dispatch)", "dispatch"),
    "service_sla-monitor": ("时限监控(sla-monitor)", "sla-monitor"),
    "service_scoring": ("考核(scoring)", "scoring"),
    "service_notify": ("通知(notify)", "notify"),
    "service_console": ("运行中心(console)", "console"),
    # Channels
    "channel_native": ("居民助手", "residents' app"),
    "channel_chat_group": ("网格群", "grid chat group"),
    "channel_patrol": ("网格员巡查", "grid worker's patrol"),
    "channel_hotline": ("热线", "hotline"),
    "channel_open311": ("Open311", "Open311"),
}

_DEPARTMENT_NAMES = {d.code: (d.name_zh, d.name_en) for d in DEPARTMENTS}
_CATEGORY_NAMES = {c.code: c.name_zh for c in CATEGORIES}


@dataclass(frozen=True)
class Words:
    """What a template calls `t(...)`, `department(...)`, `when(...)`, `number(...)`."""

    language: str
    places: Places | None = None

    @property
    def _index(self) -> int:
        return 0 if self.language == "zh" else 1

    def __call__(self, key: str) -> str:
        pair = LABELS.get(key)
        return pair[self._index] if pair else key

    @property
    def known(self) -> frozenset[str]:
        """Every label key (a template asks before naming something only scoring knows)."""
        return frozenset(LABELS)

    def department(self, code: str | None) -> str:
        names = _DEPARTMENT_NAMES.get(code or "")
        return names[self._index] if names else (code or "—")

    def category(self, code: str | None) -> str:
        # The catalogue names categories in Chinese only; English shows the code.
        if self.language == "zh":
            return _CATEGORY_NAMES.get(code or "", code or "—")
        return (code or "—").replace("-", " ")

    def township(self, township_id: str | None) -> str:
        names = self.places.townships if self.places else {}
        if self.language == "zh" and township_id in names:
            return names[township_id]
        return township_id or "—"

    def grid(self, grid_id: str | None) -> str:
        names = self.places.grids if self.places else {}
        if self.language == "zh" and grid_id in names:
            return f"{names[grid_id]}"
        return grid_id or "—"

    def entity(self, level: str, entity_id: str) -> str:
        """A ranked entity's name: units, townships and grids by name, people by their id."""
        if level == "department":
            return self.department(entity_id)
        if level == "township":
            return self.township(entity_id)
        if level == "grid":
            return self.grid(entity_id)
        return entity_id

    def figure(self, value: float | None) -> str:
        """A ranked value: a rate as a percentage, a count grouped."""
        if value is None:
            return "—"
        if isinstance(value, float) and 0 <= value <= 1 and not value.is_integer():
            return f"{100 * value:.1f}%"
        return self.number(value)

    @staticmethod
    def when(moment: datetime | None) -> str:
        return "—" if moment is None else moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:,.0f}"

    @staticmethod
    def percent(part: int, whole: int) -> str:
        return "—" if whole == 0 else f"{100 * part / whole:.1f}%"

    def duration(self, seconds: float) -> str:
        """A span such as 3 h 20 min (3小时20分), rounded down to minutes."""
        minutes = int(abs(seconds) // 60)
        hours, minutes = divmod(minutes, 60)
        if self.language == "zh":
            return f"{hours}小时{minutes}分" if hours else f"{minutes}分"
        return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def language_of(requested: str | None, remembered: str | None, default: str) -> str:
    for choice in (requested, remembered):
        if choice in LANGUAGES:
            return choice
    return default
