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
