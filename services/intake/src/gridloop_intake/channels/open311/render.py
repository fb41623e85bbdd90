"""A stored report rendered as an Open311 service request."""
# ruff: noqa: RUF001  (Chinese texts take full-width punctuation)

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gridloop_common.catalogue import CATEGORIES_BY_CODE
from gridloop_common.contracts import UNLOCATED
from gridloop_common.logging import redact_text
from gridloop_common.registry import Registry
from gridloop_intake.channels.open311.services import department_name, service_notice
from gridloop_intake.submission import FINISHED

# --- a stored report as an Open311 service request ---

STATUS_NOTES = {
    "received": "已受理，等待派遣",
    "dispatched": "已派遣，等待承办单位接单",
    "accepted": "承办单位已接单，正在处理",
    "completed": "承办单位已办结，等待回访",
    "closed": "已结案",
    "resolved": "已就地解决",
}


@dataclass(frozen=True)
class ServiceRequest:
    """What Open311 shows of a stored report (the repository reads it: `service_request_of`)."""

    report_id: str
    # The case's status; a supporting (linked) report shows its original's.
    case_status: str
    linked_to: str | None
    channel: str
    category_code: str
    description: str | None
    department: str | None
    status_note: str | None
    reported_at: datetime | None
    updated_at: datetime | None
    expected_by: datetime | None
    address: str | None
    grid_id: str | None
    village_id: str | None
    township_id: str | None
    lat: float | None
    lon: float | None
    photo_urls: tuple[str, ...] = ()


def _w3(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _status_notes(request: ServiceRequest) -> str:
    status = request.case_status
    note = STATUS_NOTES.get(status, "处理中")
    if status == "completed" and request.status_note:
        note = f"承办单位已办结：{redact_text(request.status_note)}"
    if request.linked_to:
        return f"与服务请求 {request.linked_to} 为同一问题，随其一并办理；{note}"
    return note


def _place_name(request: ServiceRequest, registry: Registry) -> str | None:
    if request.address:
        return redact_text(request.address)
    grid = registry.grid(request.grid_id or "")
    village = registry.village(request.village_id or "")
    township = registry.township(request.township_id or "")
    parts = [p.name_zh for p in (township, village, grid) if p is not None]
    return "宁国市" + "".join(parts) if parts else None


def render_request(request: ServiceRequest, registry: Registry) -> dict[str, Any]:
    """A report as the spec's service request; texts from residents' private channels (chat
    groups, the hotline, the native app) are not republished, only Open311's own."""
    category = CATEGORIES_BY_CODE.get(request.category_code)
    grid_id = request.grid_id
    description = request.description if request.channel == "open311" else None
    return {
        "service_request_id": request.report_id,
        "status": "closed" if request.case_status in FINISHED else "open",
        "status_notes": _status_notes(request),
        "service_name": category.name_zh if category else "未分类",
        "service_code": request.category_code,
        "description": redact_text(description) if description else None,
        "agency_responsible": department_name(request.department),
        "service_notice": service_notice(request.category_code),
        "requested_datetime": _w3(request.reported_at),
        "updated_datetime": _w3(request.updated_at or request.reported_at),
        "expected_datetime": _w3(request.expected_by),
        "address": _place_name(request, registry),
        "address_id": grid_id if grid_id and grid_id != UNLOCATED else None,
        "zipcode": None,
        "lat": request.lat,
        "long": request.lon,
        "media_url": request.photo_urls[0] if request.photo_urls else None,
    }
