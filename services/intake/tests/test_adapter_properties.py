"""Property-based: whatever a client sends, every channel adapter accepts it or refuses it with
reasons; nothing raises past the boundary (a raise there would be a 500 to the client).

Bodies are drawn near the real shapes (each model's own field names, values of every JSON kind,
registry ids and catalogue codes among the noise), so the adapters' own checks are reached, not
only the models' type checks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gridloop_common.catalogue import CATEGORIES
from gridloop_common.registry import load_registry
from gridloop_intake.channels import chat_group, hotline, native, open311, patrol
from gridloop_intake.submission import Submission, SubmissionRejected

REGISTRY = load_registry()
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
EXAMPLES = settings(
    max_examples=600, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

GRIDS = REGISTRY.grids[:50]
grid_ids = st.sampled_from([g.id for g in GRIDS])
codes = st.sampled_from([c.code for c in CATEGORIES])
points = st.sampled_from(GRIDS).map(lambda g: g.polygon.representative_point())
phones = st.sampled_from(["13912345678", "+86 139 1234 5678", "0563-4012345", "12"])
words = st.sampled_from(["@居民助手 楼下垃圾三天没人清运", "路面塌陷一个大坑", "中溪镇狮桥村", ""])
noise = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=6,
)
# Per field: a value the real client would send (often), or anything at all.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "grid_id": grid_ids,
    "category_code": codes,
    "service_code": codes,
    "description": words | st.text(max_size=200),
    "text": words,
    "location": points.map(lambda p: {"lat": p.y, "lon": p.x})
    | st.fixed_dictionaries({"lat": st.floats(-100, 100), "lon": st.floats(-200, 200)}),
    "photo_urls": st.lists(st.sampled_from(["https://img.example/1.jpg", "ftp://x", "x"])),
    "reporter": st.fixed_dictionaries({}, optional={"phone": phones, "name": st.text(max_size=70)}),
    "worker_id": st.sampled_from(
        [REGISTRY.officers_of_grids([g.id])[0].id for g in GRIDS] + ["off-none"]
    ),
    "group_id": st.sampled_from(
        [REGISTRY.chat_groups_of_grids([g.id])[0].id for g in GRIDS] + ["grp-none"]
    ),
    "caller_phone": phones,
    "address_text": st.sampled_from(["中溪镇狮桥村", "宁国市西津街道", "说不清楚", ""]),
    "sent_at": st.sampled_from(["2026-12-03T08:00:00+08:00", "2026-13-01", "now"]),
}


def field_values(name: str) -> st.SearchStrategy[Any]:
    plausible = PLAUSIBLE.get(name, st.text(min_size=1, max_size=30))
    # One in ten is noise (hypothesis would otherwise draw the two branches alike).
    return st.integers(0, 9).flatmap(lambda draw: noise if draw == 0 else plausible)


def bodies(model: Any) -> st.SearchStrategy[dict[str, Any]]:
    """The required fields mostly present, the others sometimes, any of them any value."""
    fields = model.model_fields
    required = {n: field_values(n) for n, f in fields.items() if f.is_required()}
    optional = {n: field_values(n) for n, f in fields.items() if not f.is_required()}
    complete = st.fixed_dictionaries(required, optional=optional)
    return st.one_of(
        complete,
        complete,
        complete,
        st.fixed_dictionaries({}, optional=fields and {**required, **optional}),
    )


ADAPTERS = [
    (native.NewReport, native.to_submission),
    (chat_group.ChatMessage, chat_group.to_submission),
    (patrol.PatrolReport, patrol.to_submission),
    (hotline.HotlineCall, hotline.to_submission),
]


def _accepted_or_refused_with_reasons(attempt: Any) -> None:
    try:
        assert isinstance(attempt(), Submission)
        event("accepted")
    except SubmissionRejected as refused:
        event("refused with reasons")
        assert refused.problems, "a refusal names at least one problem"
        assert all(problem.reason for problem in refused.problems)


@EXAMPLES
@given(st.sampled_from(ADAPTERS).flatmap(lambda a: st.tuples(st.just(a), bodies(a[0]))))
def test_every_json_channel_accepts_or_refuses_any_body(pair: Any) -> None:
    (model, adapt), body = pair
    try:
        request = model.model_validate(body)
    except ValidationError:
        event("refused by the model")
        return  # the API answers 422 with the field list (tested in the integration suite)
    event(f"{model.__name__} reached its adapter")
    _accepted_or_refused_with_reasons(lambda: adapt(request, REGISTRY, NOW))


FORM_FIELDS = [
    "api_key",
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
    "jurisdiction_id",
    "attribute[severity]",
    "attribute[floor]",
    "attribute[landmark]",
]
form_values = {
    **{name: field_values(name).map(str) for name in FORM_FIELDS},
    "api_key": st.just("k"),
    "lat": points.map(lambda p: f"{p.y:.6f}") | st.text(max_size=8),
    "long": points.map(lambda p: f"{p.x:.6f}") | st.text(max_size=8),
    "address_id": grid_ids | st.text(max_size=8),
    "email": st.sampled_from(["a@b.cn", "not-an-address", ""]),
    "media_url": st.sampled_from(["http://x.example/p.jpg", "javascript:1", ""]),
    "attribute[severity]": st.sampled_from(["low", "medium", "high", "extreme"]),
}
ALWAYS = ("service_code", "lat", "long")
forms = st.fixed_dictionaries(
    {name: form_values[name] for name in ALWAYS},
    optional={name: value for name, value in form_values.items() if name not in ALWAYS},
).map(lambda form: list(form.items()))
extra_pairs = st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20)), max_size=3)


@EXAMPLES
@given(forms, extra_pairs)
def test_the_open311_form_is_accepted_or_refused_with_reasons(
    form: list[tuple[str, str]], extra: list[tuple[str, str]]
) -> None:
    pairs = form + extra
    _accepted_or_refused_with_reasons(lambda: open311.to_submission(pairs, REGISTRY, NOW))


@EXAMPLES
@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: st.text(max_size=40) | codes | st.sampled_from(["2026-11-01", "open,closed"])
            for name in ("service_request_id", "service_code", "start_date", "end_date", "status")
        },
    )
)
def test_the_open311_query_is_valid_or_refused_with_reasons(query: dict[str, str]) -> None:
    arguments = {
        name: query.get(name)
        for name in ("service_request_id", "service_code", "start_date", "end_date", "status")
    }
    try:
        open311.request_query(**arguments, now=NOW)
    except SubmissionRejected as refused:
        assert refused.problems and all(p.reason for p in refused.problems)
