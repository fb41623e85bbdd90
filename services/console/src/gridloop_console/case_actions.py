"""The center's operations on a case, from its page: triage, re-dispatch, a joint action, an
extension approved or refused. dispatch decides whether the case's state allows them; the
console sends the operator's form to dispatch's API and shows its answer in words. What an
operation changes comes back as events, and the case page shows it like any other change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gridloop_console.pages import show_case
from gridloop_console.upstream import UpstreamError
from gridloop_console.web import Deps, Visitor, form_fields, require_operator

router = APIRouter(tags=["console"])

Form = dict[str, list[str]]


def _one(form: Form, name: str) -> str | None:
    value = (form.get(name) or [""])[0].strip()
    return value or None


def _many(form: Form, name: str) -> list[str]:
    return [v for value in form.get(name, []) for v in value.split(",") if v.strip()]


def _triage(case_id: str, form: Form) -> tuple[str, dict[str, Any]]:
    body = {
        "category_code": _one(form, "category_code"),
        "department": _one(form, "department"),
        "cooperating": _many(form, "cooperating"),
        "grid_id": _one(form, "grid_id"),
    }
    return f"/v1/cases/{quote(case_id)}/triage", body


def _redispatch(case_id: str, form: Form) -> tuple[str, dict[str, Any]]:
    body = {"department": _one(form, "department"), "order_id": _one(form, "order_id")}
    return f"/v1/cases/{quote(case_id)}/redispatch", body


def _joint_action(case_id: str, form: Form) -> tuple[str, dict[str, Any]]:
    body = {"lead": _one(form, "lead"), "cooperating": _many(form, "cooperating")}
    return f"/v1/cases/{quote(case_id)}/joint-action", body


def _extension(decision: str) -> Callable[[str, Form], tuple[str, dict[str, Any]]]:
    def request(_: str, form: Form) -> tuple[str, dict[str, Any]]:
        order_id = _one(form, "order_id") or ""
        return f"/v1/orders/{quote(order_id)}/extension/{decision}", {}

    return request


ACTIONS: dict[str, Callable[[str, Form], tuple[str, dict[str, Any]]]] = {
    "triage": _triage,
    "redispatch": _redispatch,
    "joint-action": _joint_action,
    "approve-extension": _extension("approve"),
    "refuse-extension": _extension("refuse"),
}


@router.post("/cases/{case_id}/actions/{action}", summary="An operation of the center (form)")
async def act(request: Request, deps: Deps, role: Visitor, case_id: str, action: str) -> Response:
    require_operator(role)
    form = await form_fields(request)
    make = ACTIONS.get(action)
    if make is None:
        return await show_case(request, deps, role, case_id, status_code=404, action_error=None)
    path, body = make(case_id, form)
    body = {name: value for name, value in body.items() if value not in (None, [])}
    body["operator"] = _one(form, "operator") or "console"
    if _one(form, "note"):
        body["note"] = _one(form, "note")
    key = _one(form, "idempotency_key") or uuid.uuid4().hex
    try:
        await deps.upstream.dispatch_action(role, path, body, key)
    except UpstreamError as refused:
        return await show_case(
            request, deps, role, case_id, status_code=refused.answer_status, action_error=refused
        )
    return RedirectResponse(f"/cases/{quote(case_id)}?done={quote(action)}", status_code=303)
