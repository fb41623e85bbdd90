"""Provisioning rules: least-privilege grants, where secrets come from, the CLI's default."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gridloop_dispatch.__main__ import parser
from gridloop_dispatch.provisioning import (
    ProvisioningError,
    accounts_for,
    binding_regex,
    department_grant,
    management_url_for,
    monitor_grant,
    secrets_for,
    service_grant,
    vhost_of,
)


def test_a_department_reads_its_queue_writes_replies_under_its_code_and_configures_nothing() -> (
    None
):
    grant = department_grant("city-mgmt", "t1-")
    assert grant.user == "t1-city-mgmt"
    assert grant.configure == "^$"
    assert re.fullmatch(grant.read, "dept.city-mgmt.orders")
    assert not re.fullmatch(grant.read, "dept.water.orders")
    assert not re.fullmatch(grant.read, "dept.city-mgmtx.orders")
    assert re.fullmatch(grant.write, "gridloop.replies")
    assert not re.fullmatch(grant.write, "gridloop.orders")
    assert not re.fullmatch(grant.write, "gridloopXreplies")
    (topic,) = grant.topics
    assert topic.exchange == "gridloop.replies"
    assert re.match(topic.write, "city-mgmt.accept")
    assert not re.match(topic.write, "water.accept")
    assert not re.match(topic.write, "city-mgmt-evil.accept")
    assert topic.read == "^$"


def test_a_code_that_is_not_a_plain_code_is_refused() -> None:
    with pytest.raises(ProvisioningError):
        department_grant(".*")
    with pytest.raises(ProvisioningError):
        monitor_grant("a.b")


def test_a_monitor_owns_its_queues_and_binds_events_only_under_sla() -> None:
    grant = monitor_grant("city-center", "t1-")
    # RabbitMQ searches a permission regex anywhere in the name: each must anchor itself.
    assert grant.user == "t1-monitor-city-center"
    for regex in (grant.configure, grant.write, grant.read):
        assert re.search(regex, "monitor.city-center.breaches")
        assert not re.search(regex, "monitor.city-centre.breaches")
        assert not re.search(regex, "monitor.city-center.")
        assert not re.search(regex, "dept.city-mgmt.orders")
        assert not re.search(regex, "dispatch.inbox")
    # Binding needs read on the exchange; nothing else is readable, nothing is publishable.
    assert re.search(grant.read, "gridloop.events")
    assert not re.search(grant.write, "gridloop.events")
    assert not re.search(grant.configure, "gridloop.events")
    assert not re.search(grant.read, "gridloop.orders")
    (topic,) = grant.topics
    assert topic.exchange == "gridloop.events"
    assert re.search(topic.read, "sla.breached.accept.water")
    assert not re.search(topic.read, "case.dispatched.water")
    assert not re.search(topic.read, "#")
    assert topic.write == "^$"


def test_a_service_owns_its_queues_and_publishes_only_its_own_contracts() -> None:
    grant = service_grant("sla-monitor", "t1-")
    assert grant.user == "t1-gridloop-sla-monitor"
    for regex in (grant.configure, grant.write, grant.read):
        for own in ("sla-monitor.inbox", "sla-monitor.dead", "sla-monitor.retry.5000ms"):
            assert re.search(regex, own), (regex, own)
        for other in ("dispatch.inbox", "dept.water.orders", "sla-monitor.inboxes", "x.inbox"):
            assert not re.search(regex, other), (regex, other)
    # It declares and reads only the events exchange, and writes to it only its own keys.
    assert re.search(grant.configure, "gridloop.events")
    assert not re.search(grant.configure, "gridloop.orders")
    assert not re.search(grant.read, "gridloop.orders")
    assert not re.search(grant.read, "gridloop.replies")
    (events,) = grant.topics
    assert events.exchange == "gridloop.events"
    assert re.search(events.write, "sla.breached.accept.water")
    assert re.search(events.write, "sla.warning.completion.water")
    assert not re.search(events.write, "case.dispatched.water")
    assert not re.search(events.write, "slaxbreached.accept")
    assert re.search(events.read, "case.dispatched.#")


def test_dispatch_alone_declares_the_department_queues_and_reads_the_replies() -> None:
    dispatch = service_grant("dispatch")
    assert re.search(dispatch.configure, "dept.water.orders")
    assert re.search(dispatch.write, "gridloop.orders")
    assert re.search(dispatch.read, "gridloop.replies")
    assert not re.search(dispatch.read, "dept.water.orders")  # it sends orders, never reads them
    assert not re.search(dispatch.write, "gridloop.replies")  # only departments reply
    for name in ("intake", "sla-monitor", "scoring", "notify", "console"):
        grant = service_grant(name)
        assert not re.search(grant.configure, "dept.water.orders"), name
        assert not re.search(grant.write, "gridloop.orders"), name
    notify = service_grant("notify")
    assert not re.search(notify.write, "gridloop.events")  # it publishes no event at all
    console = service_grant("console")
    assert not re.search(console.write, "gridloop.events")  # a read model publishes nothing
    assert re.search(console.read, "console.inbox")
    with pytest.raises(ProvisioningError):
        service_grant("billing")


@pytest.mark.parametrize(
    ("binding", "matching", "not_matching"),
    [
        (
            "case.closed.#",
            ["case.closed", "case.closed.water", "case.closed.a.b"],
            ["case.closedx"],
        ),
        ("*.accept", ["water.accept"], ["accept", "a.b.accept", "water.acceptx"]),
        ("dispatch.watermark", ["dispatch.watermark"], ["dispatch.watermark.x"]),
    ],
)
def test_a_topic_binding_becomes_the_regex_of_the_keys_it_matches(
    binding: str, matching: list[str], not_matching: list[str]
) -> None:
    regex = "^(?:" + binding_regex(binding) + ")$"
    for key in matching:
        assert re.search(regex, key), (binding, key)
    for key in not_matching:
        assert not re.search(regex, key), (binding, key)


def test_secrets_come_from_a_file_or_a_template_with_the_code() -> None:
    assert secrets_for(["water"], template="dev-{code}") == {"water": "dev-water"}
    assert secrets_for(["water"]) is None
    with pytest.raises(ProvisioningError, match="must contain"):
        secrets_for(["water"], template="same-for-all")


def test_a_secrets_file_must_name_every_department(tmp_path: Path) -> None:
    file = tmp_path / "passwords.json"
    file.write_text(json.dumps({"water": "s3cret"}))
    assert secrets_for(["water"], file=str(file)) == {"water": "s3cret"}
    with pytest.raises(ProvisioningError, match="city-mgmt"):
        secrets_for(["water", "city-mgmt"], file=str(file))


def test_api_keys_name_their_department() -> None:
    [account] = accounts_for(["water"], {"water": "pw"}, {"water": "abc"})
    assert account.api_key == "water.abc"
    [without] = accounts_for(["water"], {"water": "pw"}, None)
    assert without.api_key is None


def test_the_management_api_and_vhost_follow_the_amqp_url() -> None:
    url = "amqp://admin:p%40ss@rabbit.internal:5672/city%2Fprod"
    assert management_url_for(url) == "http://admin:p%40ss@rabbit.internal:15672"
    assert vhost_of(url) == "city/prod"
    assert vhost_of("amqp://guest:guest@localhost:5672/") == "/"


def test_the_console_script_serves_by_default_and_provisions_on_request() -> None:
    assert parser().parse_args([]).command is None
    args = parser().parse_args(["provision-departments", "--departments", "water"])
    assert (args.command, args.departments) == ("provision-departments", "water")
