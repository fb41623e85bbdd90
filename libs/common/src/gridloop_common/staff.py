"""The city staff's door on a service's routes: the operator's key opens them all, the read-only
viewer's key the reads (gridloop_common.api_keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from gridloop_common.api_keys import API_KEY_HEADER, require_staff
from gridloop_common.settings import StaffKeySettings

StaffKey = Annotated[
    str | None,
    Header(
        alias=API_KEY_HEADER,
        max_length=200,
        description="The operator's key (OPERATOR_API_KEY), or for a read the viewer's",
    ),
]


async def authenticated_staff(request: Request, key: StaffKey = None) -> None:
    """A route dependency judging the key against the keys of the service answering (the
    settings of the runtime `service_app` keeps), before the body is read."""
    settings = request.app.state.runtime.settings
    if not isinstance(settings, StaffKeySettings):
        raise TypeError(f"{settings.service_name}'s settings have no staff keys")
    require_staff(
        key,
        request.method,
        operator=settings.operator_api_key.get_secret_value(),
        viewer=settings.viewer_api_key.get_secret_value(),
    )
