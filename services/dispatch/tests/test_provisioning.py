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
    department_grant,
    management_url_for,
    monitor_grant,
    secrets_for,
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
    assert grant.topic_exchange == "gridloop.replies"
    assert re.match(grant.topic_write, "city-mgmt.accept")
    assert not re.match(grant.topic_write, "water.accept")
    assert not re.match(grant.topic_write, "city-mgmt-evil.accept")
    assert grant.topic_read == "^$"


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
    assert grant.topic_exchange == "gridloop.events"
    assert re.search(grant.topic_read, "sla.breached.accept.water")
    assert not re.search(grant.topic_read, "case.dispatched.water")
    assert not re.search(grant.topic_read, "#")
    assert grant.topic_write == "^$"


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
