"""GET requests.json: its parameters validated into a RequestQuery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gridloop_common.catalogue import CATEGORIES_BY_CODE, UNCLASSIFIED
from gridloop_intake.submission import Problem, SubmissionRejected

# --- GET requests.json: the query ---

# GET requests.json: the spec's default window, its widest range and its page size.
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000


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
