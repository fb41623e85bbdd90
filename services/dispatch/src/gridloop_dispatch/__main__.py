"""`gridloop-dispatch`: serve (the default), or `provision-departments`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from gridloop_common.catalogue import DEPARTMENTS
from gridloop_common.clock import SystemClock
from gridloop_common.contracts.parties import BROKER_USE
from gridloop_common.mongo import create_client
from gridloop_common.serve import run_service
from gridloop_common.settings import load_settings
from gridloop_dispatch.app import create_app
from gridloop_dispatch.provisioning import (
    ProvisioningError,
    ProvisioningRequest,
    management_url_for,
    run_provisioning,
)
from gridloop_dispatch.repository import DEPARTMENT_KEYS, DepartmentKeyRepository
from gridloop_dispatch.settings import DispatchSettings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="gridloop-dispatch",
        description="The gridloop dispatch service. Without a command: serve.",
    )
    commands = top.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    provision = commands.add_parser(
        "provision-departments",
        help="create each department's and monitor's least-privilege broker user (and API key)",
        description=(
            "Creates (or resets) one RabbitMQ user per department through the management API: "
            "read only dept.<code>.orders, write only gridloop.replies under routing keys "
            "<code>.*, configure nothing. Optionally stores each department's HTTP API key "
            "(hashed) in dispatch's database. With --monitors, one user per monitor too "
            "(monitor-<name>: declare, bind and consume only monitor.<name>.* queues, bound "
            "to gridloop.events only under sla.*). With --services, one user per gridloop service "
            "(gridloop-<service>: its own inbox, retry and parking queues, publishing only the "
            "routing keys of its own contracts). Settings (RABBITMQ_URL, MONGODB_URL, "
            "RABBITMQ_MANAGEMENT_URL, DEPARTMENT_*, MONITOR_*, BROKER_SERVICES, SERVICE_*) come "
            "from the environment; options override."
        ),
    )
    provision.add_argument("--departments", help="comma-separated codes (default: all)")
    provision.add_argument("--user-prefix", help="broker user = <prefix><code>")
    provision.add_argument("--password-template", help="e.g. dev-{code} (development only)")
    provision.add_argument("--passwords-file", help='JSON {"<code>": "<password>"}')
    provision.add_argument("--api-key-template", help="secret of key <code>.<secret>, with {code}")
    provision.add_argument("--api-keys-file", help='JSON {"<code>": "<secret>"}')
    provision.add_argument(
        "--issue-api-keys", metavar="FILE", help="generate random keys, write them to FILE (0600)"
    )
    provision.add_argument("--monitors", help="comma-separated monitor names (default: none)")
    provision.add_argument("--monitor-password-template", help="e.g. dev-{code}, {code} = name")
    provision.add_argument("--monitor-passwords-file", help='JSON {"<name>": "<password>"}')
    provision.add_argument(
        "--services", help="comma-separated services given their own user, or `all` (default: none)"
    )
    provision.add_argument("--service-password-template", help="e.g. dev-{code}, {code} = service")
    provision.add_argument("--service-passwords-file", help='JSON {"<service>": "<password>"}')
    return top


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command in (None, "serve"):
        run_service(DispatchSettings, create_app)
        return
    raise SystemExit(asyncio.run(provision(args, load_settings(DispatchSettings))))


async def provision(args: argparse.Namespace, settings: DispatchSettings) -> int:
    codes = list(_names(args.departments)) if args.departments else [d.code for d in DEPARTMENTS]
    request = ProvisioningRequest(
        codes=codes,
        user_prefix=args.user_prefix
        if args.user_prefix is not None
        else settings.department_user_prefix,
        password_template=args.password_template
        or settings.department_password_template.get_secret_value(),
        passwords_file=args.passwords_file or settings.department_passwords_file,
        api_key_template=args.api_key_template
        or settings.department_api_key_template.get_secret_value(),
        api_keys_file=args.api_keys_file or settings.department_api_keys_file,
        issue_api_keys_to=args.issue_api_keys or "",
        monitors=_names(args.monitors) if args.monitors else settings.monitor_names,
        monitor_password_template=args.monitor_password_template
        or settings.monitor_password_template.get_secret_value(),
        monitor_passwords_file=args.monitor_passwords_file or settings.monitor_passwords_file,
        services=_services(args.services or ",".join(settings.broker_services)),
        service_password_template=args.service_password_template
        or settings.service_password_template.get_secret_value(),
        service_passwords_file=args.service_passwords_file or settings.service_passwords_file,
    )
    management = settings.rabbitmq_management_url.get_secret_value() or management_url_for(
        settings.rabbitmq_url
    )
    client = create_client(settings.mongodb_url)
    try:
        keys = DepartmentKeyRepository(client[settings.database_name][DEPARTMENT_KEYS])
        done = await run_provisioning(
            request,
            rabbitmq_url=settings.rabbitmq_url,
            management_url=management,
            keys=keys,
            now=SystemClock().now(),
        )
    except ProvisioningError as error:
        sys.stderr.write(f"provision-departments: {error}\n")
        return 2
    finally:
        await client.close()
    for item in done.departments:
        key = "API key stored (hashed)" if item.api_key_set else "API key unchanged"
        sys.stdout.write(f"{item.code}: broker user {item.user}, queue {item.queue}; {key}\n")
    for monitor in done.monitors:
        sys.stdout.write(f"monitor {monitor.name}: broker user {monitor.user}, {monitor.queues}\n")
    for service in done.services:
        sys.stdout.write(f"service {service.name}: broker user {service.user}\n")
    sys.stdout.write(
        f"provisioned {len(done.departments)} department(s), {len(done.monitors)} monitor(s), "
        f"{len(done.services)} service(s)\n"
    )
    return 0


def _services(listed: str) -> tuple[str, ...]:
    names = _names(listed)
    return tuple(BROKER_USE) if names == ("all",) else names


def _names(listed: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in listed.split(",") if name.strip())


if __name__ == "__main__":
    main()
