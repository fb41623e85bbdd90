"""A stored report rendered as an Open311 service request."""
# ruff: noqa: RUF001  (Chinese texts take full-width punctuation)

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gridloop_common.catalogue import CATEGORIES_BY_CODE, UNCLASSIFIED
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


def case_status(document: dict[str, Any]) -> str:
    """The case status a report shows: a linked report mirrors its original's."""
    status = str(document.get("status", "received"))
    if status == "linked":
        return str(document.get("case_status", "received"))
    return status


def _w3(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _status_notes(document: dict[str, Any], status: str) -> str:
    note = STATUS_NOTES.get(status, "处理中")
    result = document.get("status_note")
    if status == "completed" and result:
        note = f"承办单位已办结：{redact_text(str(result))}"
    linked_to = document.get("linked_to")
    if linked_to:
        return f"与服务请求 {linked_to} 为同一问题，随其一并办理；{note}"
    return note


def _place_name(document: dict[str, Any], registry: Registry) -> str | None:
    address = document.get("address")
    if address:
        return redact_text(str(address))
    grid = registry.grid(document.get("grid_id") or "")
    village = registry.village(document.get("village_id") or "")
    township = registry.township(document.get("township_id") or "")
    parts = [p.name_zh for p in (township, village, grid) if p is not None]
    return "宁国市" + "".join(parts) if parts else None


def render_request(document: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """A report as the spec's service request; texts from residents' private channels (chat
    groups, the hotline, the native app) are not republished, only Open311's own."""
    status = case_status(document)
    category_code = str(document.get("category_code", UNCLASSIFIED))
    category = CATEGORIES_BY_CODE.get(category_code)
    location = document.get("location") or {}
    photos = document.get("photo_urls") or []
    grid_id = document.get("grid_id")
    description = document.get("description") if document.get("channel") == "open311" else None
    return {
        "service_request_id": document["_id"],
        "status": "closed" if status in FINISHED else "open",
        "status_notes": _status_notes(document, status),
        "service_name": category.name_zh if category else "未分类",
        "service_code": category_code,
        "description": redact_text(str(description)) if description else None,
        "agency_responsible": department_name(document.get("department")),
        "service_notice": service_notice(category_code),
        "requested_datetime": _w3(document.get("reported_at")),
        "updated_datetime": _w3(document.get("updated_at") or document.get("reported_at")),
        "expected_datetime": _w3(document.get("expected_by")),
        "address": _place_name(document, registry),
        "address_id": grid_id if grid_id and grid_id != UNLOCATED else None,
        "zipcode": None,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": photos[0] if photos else None,
    }
