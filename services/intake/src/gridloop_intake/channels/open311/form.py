"""POST requests.json: the posted form, its fields checked, as a Submission."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from gridloop_common.catalogue import CATEGORIES_BY_CODE, Category
from gridloop_common.contracts import GeoPoint, ReplyAddress
from gridloop_common.registry import Registry
from gridloop_intake.channels.open311.services import attributes_of
from gridloop_intake.locating import place_address, place_grid, place_point
from gridloop_intake.submission import (
    Contact,
    Placement,
    Problem,
    Submission,
    SubmissionRejected,
)

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
