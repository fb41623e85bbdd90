"""Broker accounts: a least-privilege user and a hashed HTTP API key per department, and a
user per monitor that may hear the SLA events and nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from gridloop_common.catalogue import DEPARTMENTS_BY_CODE
from gridloop_common.contracts import EVENTS_EXCHANGE, ORDERS_EXCHANGE, REPLIES_EXCHANGE
from gridloop_common.contracts.parties import BROKER_USE
from gridloop_common.messaging import department_queue
from gridloop_dispatch.auth import department_key, hash_key, new_secret
from gridloop_dispatch.repository import DepartmentKeyRepository

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ProvisioningError(RuntimeError):
    """Provisioning cannot go ahead; the message says what to fix."""


@dataclass(frozen=True)
class TopicGrant:
    """Which routing keys a user may publish (write) and bind (read) on one topic exchange."""

    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class BrokerGrant:
    """What one broker user may do, as RabbitMQ permission regexes."""

    user: str
    configure: str
    write: str
    read: str
    topics: tuple[TopicGrant, ...]


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
        topics=(TopicGrant(REPLIES_EXCHANGE, write="^" + re.escape(code) + r"\.", read="^$"),),
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
        topics=(TopicGrant(EVENTS_EXCHANGE, write="^$", read=r"^sla\."),),
    )


SERVICE_USER_PREFIX = "gridloop-"
# The default exchange: retries and parking go through it to the service's own queues.
DEFAULT_EXCHANGE = "amq.default"


def service_grant(service: str, user_prefix: str = "") -> BrokerGrant:
    """A service declares, binds and consumes its own inbox, retry tiers and parking queue,
    declares the exchanges it uses, and publishes only the routing keys of the contracts it
    publishes (`gridloop_common.contracts.parties`): intake cannot announce a breach, sla-monitor
    cannot dispatch a case, and none but dispatch can read or bind to the orders exchange.

    Not closed here: write on the default exchange (which retries and parking need) reaches any
    queue by name, so a service's credentials must be kept as a service's (docs/security.md)."""
    use = BROKER_USE.get(service)
    if use is None:
        raise ProvisioningError(f"not a gridloop service: {service!r} (one of {list(BROKER_USE)})")
    own = re.escape(f"{service}.") + r"(?:inbox|dead|retry\.\d+ms)"
    queues = [own, *([r"dept\.[a-z0-9-]+\.orders"] if use.department_queues else [])]
    published = use.publishes(service)
    publish_to = sorted({m.EXCHANGE for m in published})
    bind_from = sorted({*use.consumes_from, *([ORDERS_EXCHANGE] if use.department_queues else [])})
    topics = tuple(
        TopicGrant(
            topic,
            write=_any_of(binding_regex(m.BINDING) for m in published if topic == m.EXCHANGE),
            # Services hear every event of the exchanges they consume from: no residents' words
            # reach them that they are not there to handle.
            read="^.*$" if topic in bind_from else "^$",
        )
        for topic in (EVENTS_EXCHANGE, REPLIES_EXCHANGE)
        if topic in use.exchanges(service)
    )
    return BrokerGrant(
        user=f"{user_prefix}{SERVICE_USER_PREFIX}{service}",
        configure=_any_of([*queues, *map(re.escape, use.exchanges(service))]),
        write=_any_of([*queues, *map(re.escape, [*publish_to, DEFAULT_EXCHANGE])]),
        read=_any_of([own, *map(re.escape, bind_from)]),
        topics=topics,
    )


def binding_regex(binding: str) -> str:
    """The routing keys an AMQP topic pattern matches (`*` one word, `#` any number)."""
    words = binding.split(".")
    pattern = ""
    for index, word in enumerate(words):
        dot = r"\." if index else ""
        if word == "#":
            pattern += f"(?:{dot}.*)?" if index else ".*"
        else:
            pattern += dot + ("[^.]+" if word == "*" else re.escape(word))
    return pattern


def _any_of(patterns: Iterable[str]) -> str:
    """One anchored regex matching any of the (already escaped) patterns; none matches nothing."""
    listed = sorted(set(patterns))
    return "^(?:" + "|".join(listed) + ")$" if listed else "^$"


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
        for topic in grant.topics:
            await self._call(
                "PUT",
                f"/api/topic-permissions/{where}",
                {"exchange": topic.exchange, "write": topic.write, "read": topic.read},
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


@dataclass(frozen=True)
class ProvisionedService:
    name: str
    user: str


async def provision_services(
    admin: BrokerAdmin,
    vhost: str,
    passwords: Mapping[str, str],
    *,
    user_prefix: str = "",
) -> list[ProvisionedService]:
    """Create or update each service's broker user and permissions (idempotent)."""
    done = []
    for name, password in passwords.items():
        grant = service_grant(name, user_prefix)
        await admin.put_user(grant.user, password)
        await admin.grant(vhost, grant)
        done.append(ProvisionedService(name, grant.user))
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
    # The system's own services (their names) and their passwords (`{code}` = the name).
    services: Sequence[str] = ()
    service_password_template: str = ""
    service_passwords_file: str = ""


@dataclass(frozen=True)
class ProvisioningDone:
    departments: list[Provisioned]
    monitors: list[ProvisionedMonitor]
    services: list[ProvisionedService]


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
    monitor_passwords = _passwords_of(
        request.monitors,
        request.monitor_password_template,
        request.monitor_passwords_file,
        "monitor",
    )
    unknown = [name for name in request.services if name not in BROKER_USE]
    if unknown:
        raise ProvisioningError(f"not gridloop services: {unknown} (they are {list(BROKER_USE)})")
    service_passwords = _passwords_of(
        request.services,
        request.service_password_template,
        request.service_passwords_file,
        "service",
    )
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
        services = await provision_services(
            admin, vhost_of(rabbitmq_url), service_passwords, user_prefix=request.user_prefix
        )
    return ProvisioningDone(departments, monitors, services)


def _passwords_of(names: Sequence[str], template: str, file: str, kind: str) -> dict[str, str]:
    if not names:
        return {}
    found = secrets_for(list(names), template=template, file=file, what=f"{kind} password")
    if found is None:
        raise ProvisioningError(
            f"no {kind} passwords: give a template (e.g. dev-{{code}}) or a JSON file"
        )
    return found


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it holds keys in the clear, once."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
