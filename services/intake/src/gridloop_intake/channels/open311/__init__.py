"""Open311 GeoReport v2: catalogue categories as services; form posts and reports translated."""

from __future__ import annotations

from gridloop_intake.channels.open311.form import FORM_FIELDS, to_submission
from gridloop_intake.channels.open311.query import (
    DEFAULT_WINDOW,
    MAX_REQUESTS,
    RequestQuery,
    request_query,
)
from gridloop_intake.channels.open311.render import STATUS_NOTES, ServiceRequest, render_request
from gridloop_intake.channels.open311.services import (
    CHANGESET,
    FLOOR,
    FLOOR_SERVICES,
    LANDMARK,
    LANDMARK_SERVICES,
    SERVICES,
    SEVERITY,
    SPECIFICATION,
    Attribute,
    Datatype,
    attributes_of,
    discovery,
    linked_notice,
    service_definition,
    service_notice,
)

__all__ = [
    "CHANGESET",
    "DEFAULT_WINDOW",
    "FLOOR",
    "FLOOR_SERVICES",
    "FORM_FIELDS",
    "LANDMARK",
    "LANDMARK_SERVICES",
    "MAX_REQUESTS",
    "SERVICES",
    "SEVERITY",
    "SPECIFICATION",
    "STATUS_NOTES",
    "Attribute",
    "Datatype",
    "RequestQuery",
    "ServiceRequest",
    "attributes_of",
    "discovery",
    "linked_notice",
    "render_request",
    "request_query",
    "service_definition",
    "service_notice",
    "to_submission",
]
