"""What notices say, in Chinese then English; times in Ningguo's own clock (Asia/Shanghai)."""

# Full-width punctuation is correct in Chinese text, not a look-alike of ASCII.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from gridloop_common.catalogue import CATEGORIES_BY_CODE, DEPARTMENTS_BY_CODE
from gridloop_common.contracts import ExcellentCase, TopPerformer
from gridloop_common.registry import Registry

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A commendation names this many cases and performers; the full lists travel in `data`.
COMMENDATION_LIST_LIMIT = 10
# A department's own words about its work, quoted to the reporter, are cut to this length.
RESULT_LIMIT = 200

_CLOCK_ZH = {"accept": "受理", "complete": "办结"}
_CLOCK_EN = {"accept": "accept-by", "complete": "complete-by"}
_GRANULARITY_ZH = {"month": "月度", "quarter": "季度", "year": "年度"}
_GRANULARITY_EN = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}


def department_names(code: str) -> tuple[str, str]:
    known = DEPARTMENTS_BY_CODE.get(code)
    return (known.name_zh, f"the {known.name_en}") if known else (code, code)


def category_name(code: str | None) -> str:
    known = CATEGORIES_BY_CODE.get(code or "")
    return known.name_zh if known else (code or "")


def local_time(when: datetime) -> str:
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def duration_zh(seconds: float) -> str:
    minutes = max(0, round(abs(seconds) / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}天"] if days else []
    parts += [f"{hours}小时"] if hours else []
    parts += [f"{minutes}分钟"] if minutes or not parts else []
    return "".join(parts)


def duration_en(seconds: float) -> str:
    minutes = max(0, round(abs(seconds) / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


# --- reporters ---


def case_accepted(case_id: str, report_id: str | None, department: str) -> tuple[str, str]:
    name_zh, name_en = department_names(department)
    reference = _reference(case_id, report_id)
    return (
        "您反映的问题已受理",
        f"您反映的问题（{reference}）已由{name_zh}受理。"
        f" Your report ({_reference_en(case_id, report_id)}) has been accepted by {name_en}.",
    )


def case_completed(
    case_id: str,
    report_id: str | None,
    department: str,
    result: str | None,
    *,
    feedback_url: str,
    feedback_code: str,
) -> tuple[str, str]:
    """The feedback code is the reporter's token: the verdict needs it, the case id is public."""
    name_zh, name_en = department_names(department)
    said = ""
    if result and result.strip():
        quoted = result.strip()[:RESULT_LIMIT]
        said = f"处理结果：{quoted}。"
    return (
        "您反映的问题已办结，请评价",
        f"您反映的问题（{_reference(case_id, report_id)}）已由{name_zh}办结。{said}"
        f"请评价处理结果：{feedback_url}（评价码 {feedback_code}）。"
        f" Your report ({_reference_en(case_id, report_id)}) has been resolved by {name_en}."
        f" Please rate the result: {feedback_url} (code {feedback_code}).",
    )


def case_closed(case_id: str, report_id: str | None, satisfied: bool) -> tuple[str, str]:
    reference = _reference(case_id, report_id)
    if satisfied:
        return (
            "案件已办结归档",
            f"您反映的问题（{reference}）已办结归档，感谢您的评价。"
            f" Case {case_id} is closed. Thank you for your feedback.",
        )
    return (
        "案件已关闭",
        f"您反映的问题（{reference}）已关闭：重新办理次数已达上限，如有需要请再次反映。"
        f" Case {case_id} is closed: it was reopened as often as allowed."
        " Please report again if the problem remains.",
    )


def _reference(case_id: str, report_id: str | None) -> str:
    return f"报告 {report_id}，案件 {case_id}" if report_id else f"案件 {case_id}"


def _reference_en(case_id: str, report_id: str | None) -> str:
    return f"report {report_id}, case {case_id}" if report_id else f"case {case_id}"


# --- supervisors ---


def sla_alert(
    *,
    breached: bool,
    order_id: str,
    case_id: str,
    department: str,
    clock: str,
    deadline: datetime,
    late_seconds: float,
) -> tuple[str, str]:
    name_zh, name_en = department_names(department)
    when = local_time(deadline)
    clock_zh, clock_en = _CLOCK_ZH.get(clock, clock), _CLOCK_EN.get(clock, clock)
    if breached:
        return (
            f"【超时】工单 {order_id} {name_zh}",
            f"【超时】工单 {order_id}（案件 {case_id}）{name_zh}{clock_zh}时限 {when}，"
            f"已逾期 {duration_zh(late_seconds)}。"
            f" Breach: order {order_id} (case {case_id}) of {name_en} passed its {clock_en}"
            f" deadline {when} (Beijing time); {duration_en(late_seconds)} late.",
        )
    return (
        f"【预警】工单 {order_id} {name_zh}",
        f"【预警】工单 {order_id}（案件 {case_id}）{name_zh}{clock_zh}时限 {when}，"
        f"剩余 {duration_zh(late_seconds)}。"
        f" Warning: order {order_id} (case {case_id}) of {name_en} is due {clock_en} {when}"
        f" (Beijing time); {duration_en(late_seconds)} left.",
    )


def case_flagged(
    *, order_id: str, case_id: str, department: str, bounces: int, threshold: int
) -> tuple[str, str]:
    name_zh, name_en = department_names(department)
    return (
        f"【督办】案件 {case_id} 多次退回",
        f"【督办】案件 {case_id} 已在部门间退回 {bounces} 次（上限 {threshold}），"
        f"最近一次为{name_zh}退回工单 {order_id}，无办理时限，请协调。"
        f" Flagged: case {case_id} bounced between units {bounces} times (limit {threshold});"
        f" the last was order {order_id}, rejected by {name_en}. No deadline: please step in.",
    )


# --- the city ---


def commendation(
    period: str,
    granularity: str,
    cases: Sequence[ExcellentCase],
    performers: Sequence[TopPerformer],
    registry: Registry,
) -> tuple[str, str]:
    label_zh = _GRANULARITY_ZH.get(granularity, granularity)
    label_en = _GRANULARITY_EN.get(granularity, granularity)
    lines_zh = [f"【表彰】{period} {label_zh}网格治理表彰。"]
    lines_en = [f"Commendations for {period} ({label_en})."]
    if cases:
        shown = cases[:COMMENDATION_LIST_LIMIT]
        listed = "；".join(
            f"{c.case_id}（{category_name(c.category_code)}，{department_names(c.department)[0]}）"
            for c in shown
        )
        lines_zh.append(f"优秀案件：{listed}{_more_zh(len(cases) - len(shown))}。")
        lines_en.append(
            "Excellent cases: "
            + ", ".join(c.case_id for c in shown)
            + _more_en(len(cases) - len(shown))
            + "."
        )
    if performers:
        shown_p = performers[:COMMENDATION_LIST_LIMIT]
        listed = "；".join(
            f"{entity_name(p.level, p.entity_id, registry)}（{p.metric} {_number(p.value)}）"
            for p in shown_p
        )
        lines_zh.append(f"表现突出：{listed}{_more_zh(len(performers) - len(shown_p))}。")
        lines_en.append(
            "Top performers: "
            + ", ".join(f"{p.entity_id} ({p.metric} {_number(p.value)})" for p in shown_p)
            + _more_en(len(performers) - len(shown_p))
            + "."
        )
    return (f"{period} {label_zh}表彰", "".join(lines_zh) + " " + " ".join(lines_en))


def entity_name(level: str, entity_id: str, registry: Registry) -> str:
    if level == "department":
        return department_names(entity_id)[0]
    if level == "township":
        township = registry.township(entity_id)
        return township.name_zh if township else entity_id
    if level == "village":
        village = registry.village(entity_id)
        return village.name_zh if village else entity_id
    if level == "grid":
        grid = registry.grid(entity_id)
        return grid.name_zh if grid else entity_id
    # Officers and anything newer are named by id: notify holds no names of people.
    return entity_id


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _more_zh(rest: int) -> str:
    return f"等（另有 {rest} 项）" if rest > 0 else ""


def _more_en(rest: int) -> str:
    return f" and {rest} more" if rest > 0 else ""
