"""The other end of notify's channels: the chat platform, the SMS gateway, the resident app.

Each request is recorded by its Idempotency-Key (notify's delivery id), so the audit can tell a
delivery made once from the same delivery repeated. A completion notice is handed to the
reporters, who answer it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from gridloop_common.testing.served import ServedApp
from gridloop_simulator.record import DeliveryHeard, Record

ENDPOINTS = ("chat-group", "sms", "resident-app")
# What identifies the recipient in each endpoint's body.
ADDRESS_FIELD = {"chat-group": "group_id", "sms": "to", "resident-app": "recipient_id"}

# (case id, notice id, feedback code): the code is the reporter's token the verdict needs.
OnCompleted = Callable[[str, str, str], None]
# An SMS carries the code in its text only, as a resident reads it.
SMS_CODE = re.compile(r"评价码 ([A-Z2-7]{12})")


def sink_app(record: Record, on_completed: OnCompleted) -> FastAPI:
    app = FastAPI(title="gridloop simulator: notify's receivers", docs_url=None, redoc_url=None)

    async def receive(endpoint: str, request: Request) -> JSONResponse:
        try:
            body: dict[str, Any] = await request.json()
        except ClientDisconnect:
            # notify died mid-request: nothing was delivered; it sends again under the same key.
            return JSONResponse({"ok": False}, status_code=499)
        heard = DeliveryHeard(
            delivery_id=request.headers.get("Idempotency-Key") or str(body.get("delivery_id")),
            endpoint=endpoint,
            kind=str(body.get("kind", "")),
            notice_id=str(body.get("notice_id", "")),
            case_id=body.get("case_id"),
            order_id=body.get("order_id"),
            address=str(body.get(ADDRESS_FIELD[endpoint], "")),
            received_at=time.time(),
        )
        if record.delivery_heard(heard) and heard.kind == "case_completed" and heard.case_id:
            on_completed(heard.case_id, heard.notice_id, feedback_code(body))
        return JSONResponse({"ok": True})

    for endpoint in ENDPOINTS:

        async def route(request: Request, endpoint: str = endpoint) -> JSONResponse:
            return await receive(endpoint, request)

        app.add_api_route(f"/{endpoint}", route, methods=["POST"])
    return app


def feedback_code(body: dict[str, Any]) -> str:
    if body.get("feedback_code"):
        return str(body["feedback_code"])
    found = SMS_CODE.search(str(body.get("text", "")))
    return found.group(1) if found else ""


class Sink(ServedApp):
    """The sink's app on its own port, inside the simulator's program."""
