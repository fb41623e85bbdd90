"""Broker accounts: a least-privilege user and a hashed HTTP API key per department, and a
user per monitor that may hear the SLA events and nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from gridloop_common.catalogue import DEPARTMENTS_BY_CODE
from gridloop_common.contracts import EVENTS_EXCHANGE, REPLIES_EXCHANGE
from gridloop_common.messaging import department_queue
from gridloop_dispatch.auth import department_key, hash_key, new_secret
from gridloop_dispatch.repository import DepartmentKeyRepository

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ProvisioningError(RuntimeError):
    """Provisioning cannot go ahead; the message says what to fix."""


@dataclass(frozen=True)
class BrokerGrant:
    """What one department's broker user may do, as RabbitMQ permission regexes."""

    user: str
    configure: str
    write: str
    read: str
    topic_exchange: str
    topic_write: str
    topic_read: str


def department_grant(code: str, user_prefix: str = "") -> BrokerGrant:
    """Read only its own queue, write only to the replies exchange and only under its own code,
    configure nothing. The topic permission is what lets dispatch trust the routing key."""
    if not _CODE.match(code):
        raise ProvisioningError(f"not a department code: {code!r}")
    return BrokerGrant(
        user=f"{user_prefix}{code}",
        configure="^$",
        write="^" + re.escape(REPLIES_EXCHANGE) + "$",
        read="^" + re.escape(department_queue(code)) + "$",
        topic_exchange=REPLIES_EXCHANGE,
        topic_write="^" + re.escape(code) + r"\.",
        topic_read="^$",
    )


MONITOR_USER_PREFIX = "monitor-"


def monitor_queues(name: str) -> str:
    """The queues a monitor may declare and consume: `monitor.<name>.<anything>`."""
    return "^" + re.escape(f"monitor.{name}.") + ".+$"


def monitor_grant(name: str, user_prefix: str = "") -> BrokerGrant:
    """Its own `monitor.<name>.*` queues, bound to `gridloop.events` only under `sla.`: it hears
    warnings and breaches, not the case events with residents' words, and publishes nothing.
    RabbitMQ checks a binding against write on the queue, read on the exchange and the topic
    read permission on the binding key."""
    if not _CODE.match(name):
        raise ProvisioningError(f"not a monitor name (a-z, 0-9, -): {name!r}")
    own = monitor_queues(name)
    return BrokerGrant(
        user=f"{user_prefix}{MONITOR_USER_PREFIX}{name}",
        configure=own,
        write=own,
        read=f"(?:{own})|^{re.escape(EVENTS_EXCHANGE)}$",
        topic_exchange=EVENTS_EXCHANGE,
        topic_write="^$",
        topic_read=r"^sla\.",
    )


@dataclass(frozen=True)
class DepartmentAccount:
    code: str
    password: str
    # The full HTTP API key (`<code>.<secret>`); None leaves the stored key as it is.
    api_key: str | None = None


def secrets_for(
    codes: Sequence[str], *, template: str = "", file: str = "", what: str = "password"
) -> dict[str, str] | None:
    """One secret per department from a JSON file or a `{code}` template; None if neither."""
    if file:
        try:
            loaded = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ProvisioningError(f"cannot read the {what} file {file}: {error}") from None
        if not isinstance(loaded, dict):
            raise ProvisioningError(f"the {what} file {file} must hold a JSON object")
        missing = [c for c in codes if not isinstance(loaded.get(c), str) or not loaded[c]]
        if missing:
            raise ProvisioningError(f"the {what} file {file} has no {what} for {missing}")
        return {c: str(loaded[c]) for c in codes}
    if template:
        if "{code}" not in template:
            # The same secret for every department would let one impersonate the others.
            raise ProvisioningError(f"the {what} template must contain {{code}}")
        return {c: template.format(code=c) for c in codes}
    return None


def management_url_for(amqp_url: str) -> str:
    """The broker's management API on port 15672, with the AMQP URL's credentials."""
    parts = urlsplit(amqp_url)
    user = quote(unquote(parts.username or "guest"), safe="")
    password = quote(unquote(parts.password or "guest"), safe="")
    return f"http://{user}:{password}@{parts.hostname or '127.0.0.1'}:15672"


def vhost_of(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


class BrokerAdmin:
    """The few RabbitMQ management API calls provisioning needs."""

    def __init__(self, management_url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(management_url)
        self._base = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port or 15672}"))
        self._auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
        self._client = httpx.AsyncClient(base_url=self._base, auth=self._auth, timeout=timeout)

    async def __aenter__(self) -> BrokerAdmin:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise ProvisioningError(
                f"the management API at {self._base} does not answer ({error}); enable it with "
                "`rabbitmq-plugins enable rabbitmq_management`"
            ) from None
        if response.status_code >= 400:
            raise ProvisioningError(
                f"{method} {path} → {response.status_code}: {response.text[:200]}"
            )
        return response

    async def put_user(self, user: str, password: str) -> None:
        # No tags: a department has no business in the management UI.
        await self._call(
            "PUT", f"/api/users/{quote(user, safe='')}", {"password": password, "tags": ""}
        )

    async def grant(self, vhost: str, grant: BrokerGrant) -> None:
        where = f"{quote(vhost, safe='')}/{quote(grant.user, safe='')}"
        await self._call(
            "PUT",
            f"/api/permissions/{where}",
            {"configure": grant.configure, "write": grant.write, "read": grant.read},
        )
        await self._call(
            "PUT",
            f"/api/topic-permissions/{where}",
            {
                "exchange": grant.topic_exchange,
                "write": grant.topic_write,
                "read": grant.topic_read,
            },
        )

    async def delete_user(self, user: str) -> None:
        response = await self._client.delete(f"/api/users/{quote(user, safe='')}")
        if response.status_code not in (204, 404):
            raise ProvisioningError(f"DELETE user {user} → {response.status_code}")


@dataclass(frozen=True)
class Provisioned:
    code: str
    user: str
    queue: str
    api_key_set: bool


async def provision_departments(
    admin: BrokerAdmin,
    vhost: str,
    accounts: Sequence[DepartmentAccount],
    keys: DepartmentKeyRepository | None,
    now: datetime,
    *,
    user_prefix: str = "",
) -> list[Provisioned]:
    """Create or update each department's broker user, permissions and API key hash.

    Idempotent: running it again resets passwords, permissions and keys to the given ones.
    """
    unknown = [a.code for a in accounts if a.code not in DEPARTMENTS_BY_CODE]
    if unknown:
        raise ProvisioningError(f"not in the catalogue: {unknown}")
    done = []
    for account in accounts:
        grant = department_grant(account.code, user_prefix)
        await admin.put_user(grant.user, account.password)
        await admin.grant(vhost, grant)
        if account.api_key is not None and keys is not None:
            await keys.put(account.code, hash_key(account.api_key), now)
        done.append(
            Provisioned(
                account.code,
                grant.user,
                department_queue(account.code),
                account.api_key is not None and keys is not None,
            )
        )
    return done


@dataclass(frozen=True)
class ProvisionedMonitor:
    name: str
    user: str
    queues: str


async def provision_monitors(
    admin: BrokerAdmin,
    vhost: str,
    passwords: Mapping[str, str],
    *,
    user_prefix: str = "",
) -> list[ProvisionedMonitor]:
    """Create or update each monitor's broker user and permissions (idempotent)."""
    done = []
    for name, password in passwords.items():
        grant = monitor_grant(name, user_prefix)
        await admin.put_user(grant.user, password)
        await admin.grant(vhost, grant)
        done.append(ProvisionedMonitor(name, grant.user, f"monitor.{name}.*"))
    return done


def accounts_for(
    codes: Sequence[str], passwords: Mapping[str, str], api_secrets: Mapping[str, str] | None
) -> list[DepartmentAccount]:
    return [
        DepartmentAccount(
            code,
            passwords[code],
            department_key(code, api_secrets[code]) if api_secrets is not None else None,
        )
        for code in codes
    ]


@dataclass(frozen=True)
class ProvisioningRequest:
    codes: Sequence[str]
    user_prefix: str
    password_template: str = ""
    passwords_file: str = ""
    api_key_template: str = ""
    api_keys_file: str = ""
    # Generate random API keys and write them (code → key) to this file, readable by its owner.
    issue_api_keys_to: str = ""
    # Monitors (their names) and their passwords, as for departments (`{code}` = the name).
    monitors: Sequence[str] = ()
    monitor_password_template: str = ""
    monitor_passwords_file: str = ""


@dataclass(frozen=True)
class ProvisioningDone:
    departments: list[Provisioned]
    monitors: list[ProvisionedMonitor]


async def run_provisioning(
    request: ProvisioningRequest,
    *,
    rabbitmq_url: str,
    management_url: str,
    keys: DepartmentKeyRepository | None,
    now: datetime,
) -> ProvisioningDone:
    codes = list(request.codes)
    passwords = secrets_for(codes, template=request.password_template, file=request.passwords_file)
    if passwords is None:
        raise ProvisioningError(
            "no department passwords: give a template (e.g. dev-{code}) or a JSON file"
        )
    api_secrets = secrets_for(
        codes, template=request.api_key_template, file=request.api_keys_file, what="API key"
    )
    if request.issue_api_keys_to:
        api_secrets = {code: new_secret() for code in codes}
    accounts = accounts_for(codes, passwords, api_secrets)
    if request.issue_api_keys_to:
        issued = {a.code: a.api_key for a in accounts if a.api_key}
        _write_private(Path(request.issue_api_keys_to), json.dumps(issued, indent=2) + "\n")
    monitor_passwords: dict[str, str] = {}
    if request.monitors:
        found = secrets_for(
            list(request.monitors),
            template=request.monitor_password_template,
            file=request.monitor_passwords_file,
            what="monitor password",
        )
        if found is None:
            raise ProvisioningError(
                "no monitor passwords: give a template (e.g. dev-{code}) or a JSON file"
            )
        monitor_passwords = found
    async with BrokerAdmin(management_url) as admin:
        departments = await provision_departments(
            admin,
            vhost_of(rabbitmq_url),
            accounts,
            keys if api_secrets is not None else None,
            now,
            user_prefix=request.user_prefix,
        )
        monitors = await provision_monitors(
            admin, vhost_of(rabbitmq_url), monitor_passwords, user_prefix=request.user_prefix
        )
    return ProvisioningDone(departments, monitors)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it holds keys in the clear, once."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
