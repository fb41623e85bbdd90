"""Open311 GeoReport v2: catalogue categories as services; form posts and reports translated."""
# ruff: noqa: RUF001  (Chinese texts take full-width punctuation)

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email

from gridloop_common.catalogue import (
    CATEGORIES,
    CATEGORIES_BY_CODE,
    DEPARTMENTS_BY_CODE,
    UNCLASSIFIED,
    Category,
)
from gridloop_common.contracts import UNLOCATED, GeoPoint, ReplyAddress
from gridloop_common.logging import redact_text
from gridloop_common.registry import Registry
from gridloop_intake.locating import place_address, place_grid, place_point
from gridloop_intake.submission import (
    FINISHED,
    Contact,
    Placement,
    Problem,
    Submission,
    SubmissionRejected,
)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's behaviour last changed (discovery.json's changeset); bump with the API.
CHANGESET = "2026-11-26T00:00:00Z"
# GET requests.json: the spec's default window, its widest range and its page size.
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]


@dataclass(frozen=True)
class Attribute:
    """A service's extra question (the spec's service definition attribute)."""

    code: str
    datatype: Datatype
    description: str
    order: int
    required: bool = False
    values: tuple[tuple[str, str], ...] = ()
    max_length: int = 100

    def as_open311(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "variable": True,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": None,
            "order": self.order,
            "description": self.description,
        }
        if self.values:
            rendered["values"] = [{"key": key, "name": name} for key, name in self.values]
        return rendered

    def problem_with(self, value: str) -> str | None:
        if self.values and value not in {key for key, _ in self.values}:
            return f"must be one of {', '.join(key for key, _ in self.values)}"
        if len(value) > self.max_length:
            return f"longer than {self.max_length} characters"
        if self.datatype == "string" and ("\n" in value or "\r" in value):
            return "a string attribute takes one line"
        return None


SEVERITY = Attribute(
    "severity",
    "singlevaluelist",
    "严重程度 (severity)",
    order=1,
    values=(("low", "一般"), ("medium", "较重"), ("high", "紧急")),
)
FLOOR = Attribute("floor", "string", "楼层，如 3、B1 (floor)", order=2, max_length=16)
LANDMARK = Attribute(
    "landmark", "string", "附近地标，如店名、门牌、路口 (nearby landmark)", order=2, max_length=100
)
# Problems inside a building are found by floor; problems on a street by a landmark nearby.
FLOOR_SERVICES = frozenset(
    {
        "elevator-fault",
        "property-service",
        "dangerous-house",
        "fire-hazard",
        "gas-leak",
        "neighbourhood-noise",
        "restaurant-fumes",
        "old-community-renovation",
        "public-toilet",
    }
)
LANDMARK_SERVICES = frozenset(
    {
        "road-damage",
        "street-light",
        "street-light-install",
        "manhole-cover",
        "drain-blockage",
        "street-vending",
        "illegal-ads",
        "bike-parking",
        "greenery",
        "fallen-tree",
        "construction-waste",
        "illegal-building",
        "open-burning",
        "flooding",
        "bus-stop",
        "rural-road",
        "bridge-safety",
        "traffic-signal",
        "illegal-parking",
        "road-signs",
        "water-pipe-burst",
        "power-line-hazard",
    }
)


def attributes_of(service_code: str) -> tuple[Attribute, ...]:
    floor = (FLOOR,) if service_code in FLOOR_SERVICES else ()
    landmark = (LANDMARK,) if service_code in LANDMARK_SERVICES else ()
    return (SEVERITY, *floor, *landmark)


def _department_name(code: str | None) -> str | None:
    department = DEPARTMENTS_BY_CODE.get(code) if code else None
    return department.name_zh if department else None


def service_notice(category_code: str) -> str | None:
    category = CATEGORIES_BY_CODE.get(category_code)
    if category is None:
        return None
    return (
        f"由{_department_name(category.department)}办理，"
        f"自派遣起{category.complete_within_hours:g}小时内办结"
    )


def linked_notice(linked_to: str) -> str:
    return f"与服务请求 {linked_to} 为同一问题，已并入其办理"


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": f"{category.name_zh}：{service_notice(category.code)}",
        "metadata": bool(attributes_of(category.code)),
        "type": "realtime",
        "keywords": ", ".join(category.keywords),
        "group": _department_name(category.department),
    }


# The catalogue is constant: render the list once, not per request.
SERVICES: tuple[dict[str, Any], ...] = tuple(_service(c) for c in CATEGORIES)


def service_definition(service_code: str) -> dict[str, Any] | None:
    if service_code not in CATEGORIES_BY_CODE:
        return None
    return {
        "service_code": service_code,
        "attributes": [a.as_open311() for a in attributes_of(service_code)],
    }


def discovery(endpoint_url: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "宁国市智慧治理中心 (Ningguo smart-governance center), via the city operator",
        "key_service": (
            "POST requests.json needs an api_key issued by the city operator "
            "(GRIDLOOP_OPEN311_API_KEYS); `make up` accepts dev-open311-key"
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json"],
            }
        ],
    }


# --- POST requests.json: the form, exactly as the spec names its fields ---

FORM_FIELDS = frozenset(
    {
        "api_key",
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
    }
)
_ATTRIBUTE_KEY = re.compile(r"attribute\[([^\[\]]*)\](\[\])?")
_PHONE = re.compile(r"\+?[0-9 -]{5,20}")
_URL = re.compile(r"https?://\S+")


class _Form:
    """The posted pairs: known fields once each, `attribute[code]` answers, problems so far."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.problems: list[Problem] = []
        self.values: dict[str, str] = {}
        self.attributes: list[tuple[str, str, str]] = []  # (form key, code, value)
        seen: set[str] = set()
        for key, raw in pairs:
            value = raw.strip()
            match = _ATTRIBUTE_KEY.fullmatch(key)
            if match is not None:
                if value:
                    self.attributes.append((key, match[1], value))
                continue
            # Fields the spec does not name are ignored, as Open311 servers do.
            if key not in FORM_FIELDS:
                continue
            if key in seen:
                self.problems.append(Problem(key, "given more than once"))
                continue
            seen.add(key)
            # Clients send empty fields for what the user left blank: absent, not invalid.
            if value:
                self.values[key] = value

    def text(self, name: str, max_length: int) -> str | None:
        value = self.values.get(name)
        if value is not None and len(value) > max_length:
            self.problems.append(Problem(name, f"longer than {max_length:,} characters"))
            return None
        return value

    def number(self, name: str, low: float, high: float) -> float | None:
        text = self.text(name, 40)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            self.problems.append(Problem(name, "not a number"))
            return None
        if not math.isfinite(value) or not low <= value <= high:
            self.problems.append(Problem(name, f"must be between {low:g} and {high:g}"))
            return None
        return value


def _category(form: _Form) -> Category | None:
    code = form.text("service_code", 64)
    if code is None:
        form.problems.append(Problem("service_code", "required; see GET services.json"))
        return None
    category = CATEGORIES_BY_CODE.get(code)
    if category is None:
        form.problems.append(
            Problem("service_code", f"unknown service_code {code!r}; see GET services.json")
        )
    return category


def _attributes(form: _Form, category: Category) -> tuple[tuple[str, str], ...]:
    known = {a.code: a for a in attributes_of(category.code)}
    answers: dict[str, str] = {}
    for key, code, value in form.attributes:
        attribute = known.get(code)
        if attribute is None:
            form.problems.append(
                Problem(
                    key,
                    f"service {category.code!r} has no attribute {code!r}; "
                    f"see GET services/{category.code}.json",
                )
            )
        elif code in answers:
            form.problems.append(Problem(key, "given more than once"))
        elif (reason := attribute.problem_with(value)) is not None:
            form.problems.append(Problem(key, reason))
        else:
            answers[code] = value
    for attribute in known.values():
        if attribute.required and attribute.code not in answers:
            form.problems.append(Problem(f"attribute[{attribute.code}]", "required"))
    return tuple(sorted(answers.items()))


def _contact(form: _Form) -> Contact:
    # Reasons never repeat the value: a contact detail does not belong in an error message.
    email = form.text("email", 254)
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            form.problems.append(Problem("email", "not a valid e-mail address"))
            email = None
    phone = form.text("phone", 20)
    if phone is not None and not _PHONE.fullmatch(phone):
        form.problems.append(Problem("phone", "digits, spaces, hyphens and a leading + only"))
        phone = None
    names = [form.text("first_name", 64), form.text("last_name", 64)]
    name = " ".join(n for n in names if n) or None
    return Contact(phone=phone, name=name, email=email)


def _placement(
    form: _Form, registry: Registry
) -> tuple[Placement | None, GeoPoint | None, str | None]:
    """Placement, point and address text; lat/long beat address_id beat address_string."""
    lat = form.number("lat", -90, 90)
    lon = form.number("long", -180, 180)
    address = form.text("address_string", 500)
    address_id = form.text("address_id", 64)
    has_lat, has_long = "lat" in form.values, "long" in form.values
    if has_lat != has_long:
        missing = "long" if has_lat else "lat"
        form.problems.append(Problem(missing, "lat and long go together"))
        return None, None, address
    try:
        if lat is not None and lon is not None:
            return place_point(registry, lat, lon, field="lat"), GeoPoint(lat=lat, lon=lon), address
        if has_lat:  # given but invalid: already a problem
            return None, None, address
        if address_id is not None:
            # Our address system is the grid registry: an address_id is a grid id.
            return place_grid(registry, address_id, field="address_id"), None, address
    except SubmissionRejected as rejected:
        form.problems.extend(rejected.problems)
        return None, None, address
    if address is not None:
        return place_address(registry, address), None, address
    if "address_id" not in form.values:
        form.problems.append(
            Problem("lat", "give lat and long, or address_string, or address_id (a grid id)")
        )
    return None, None, address


def to_submission(
    pairs: Sequence[tuple[str, str]], registry: Registry, now: datetime
) -> Submission:
    """The posted form as a Submission; every problem found is reported at once."""
    form = _Form(pairs)
    category = _category(form)
    attributes = _attributes(form, category) if category is not None else ()
    description = form.text("description", 4000)
    media_url = form.text("media_url", 2000)
    if media_url is not None and not _URL.fullmatch(media_url):
        form.problems.append(Problem("media_url", "must be an http(s) URL"))
    contact = _contact(form)
    account_id = form.text("account_id", 64)
    device_id = form.text("device_id", 64)
    form.text("jurisdiction_id", 64)
    placement, point, address = _placement(form, registry)
    if form.problems or category is None or placement is None:
        raise SubmissionRejected(*form.problems, code=_rejection_code(form.problems))
    if account_id:
        external_ref: str | None = f"open311-account:{account_id}"
    else:
        external_ref = f"open311-device:{device_id}" if device_id else None
    return Submission(
        channel="open311",
        placement=placement,
        category_code=category.code,
        description=description or category.name_zh,
        received_at=now,
        location=point,
        photo_urls=(media_url,) if media_url else (),
        contact=contact,
        # Without an e-mail address the client follows the request by its id (filled in later).
        reply_to=ReplyAddress(channel="email", address=contact.email)
        if contact.email
        else ReplyAddress(channel="open311"),
        external_ref=external_ref,
        address=address,
        attributes=attributes,
    )


def _rejection_code(problems: Sequence[Problem]) -> str:
    reasons = " ".join(p.reason for p in problems)
    if "unknown service_code" in reasons:
        return "unknown_service_code"
    if "outside the city" in reasons:
        return "outside_city"
    return "invalid_request"


# --- GET requests.json: the query ---


@dataclass(frozen=True)
class RequestQuery:
    """What GET requests.json asked for; `ids` overrides every other filter (the spec's rule)."""

    ids: tuple[str, ...] | None = None
    service_codes: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    # None: both; True: only closed; False: only open.
    closed: bool | None = None


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in (value or "").split(",") if p.strip()))


def _w3_datetime(field: str, value: str, problems: list[Problem]) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        problems.append(Problem(field, "not a w3 datetime such as 2026-11-01T00:00:00Z"))
        return None
    if parsed.tzinfo is None:
        problems.append(Problem(field, "needs a time zone (Z or an offset such as +08:00)"))
        return None
    return parsed.astimezone(UTC)


def request_query(
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
    now: datetime,
) -> RequestQuery:
    """Validate GET requests.json's parameters; default range: the last 90 days."""
    problems: list[Problem] = []
    ids = _csv(service_request_id)
    if ids:
        if len(ids) > MAX_REQUESTS:
            problems.append(Problem("service_request_id", f"at most {MAX_REQUESTS} ids"))
            raise SubmissionRejected(*problems, code="invalid_query")
        return RequestQuery(ids=ids)
    codes = _csv(service_code)
    unknown = [c for c in codes if c not in CATEGORIES_BY_CODE and c != UNCLASSIFIED]
    if unknown:
        problems.append(Problem("service_code", f"unknown service_code {', '.join(unknown)}"))
    statuses = set(_csv(status))
    if statuses - {"open", "closed"}:
        problems.append(Problem("status", "open, closed or both (comma-separated)"))
    start = _w3_datetime("start_date", start_date, problems) if start_date else None
    end = _w3_datetime("end_date", end_date, problems) if end_date else None
    if problems:
        raise SubmissionRejected(*problems, code="invalid_query")
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW
    if end is None:
        end = start + DEFAULT_WINDOW
    if start > end:
        raise SubmissionRejected(Problem("start_date", "after end_date"), code="invalid_query")
    if end - start > DEFAULT_WINDOW:
        raise SubmissionRejected(
            Problem("end_date", "the range may not span more than 90 days"), code="invalid_query"
        )
    closed = None if len(statuses) != 1 else statuses == {"closed"}
    return RequestQuery(service_codes=codes or None, start=start, end=end, closed=closed)


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
        "agency_responsible": _department_name(document.get("department")),
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
