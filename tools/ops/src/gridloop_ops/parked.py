"""`gridloop-ops parked`: what each service parked and why; show one; replay or purge some.

    gridloop-ops parked list [--service dispatch]       counts by reason, then the messages
    gridloop-ops parked show --service dispatch 3       one message: reason, headers, body
    gridloop-ops parked replay --service dispatch --reason not_your_order
    gridloop-ops parked purge --service dispatch --id <message id> [--yes]

Replay puts each chosen message back in the service's inbox once (confirmed by the broker
before the parked copy is removed); purge removes for good after typing the service's name.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
from rich.console import Console
from rich.table import Table

from gridloop_common.messaging import Publisher
from gridloop_common.messaging.parked import (
    ParkedMessage,
    count_by_reason,
    peek,
    purge,
    replay,
)
from gridloop_common.services import SERVICES

Confirm = Callable[[str], str]


@dataclass(frozen=True)
class Choice:
    """Which parked messages an operator means: by id, by position, by reason, or all."""

    ids: frozenset[str] = frozenset()
    positions: frozenset[int] = frozenset()
    reason: str | None = None
    everything: bool = False

    def __call__(self, message: ParkedMessage) -> bool:
        if self.everything:
            return True
        if message.message_id in self.ids or message.position in self.positions:
            return True
        return self.reason is not None and self.reason in message.reason

    @property
    def empty(self) -> bool:
        return not (self.ids or self.positions or self.reason or self.everything)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parked = commands.add_parser("parked", help="messages a service parked in <service>.dead")
    actions = parked.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="counts by reason, then every message")
    listing.add_argument("--service", choices=list(SERVICES), action="append")
    listing.add_argument("--limit", type=int, default=200, help="messages shown per service")
    show = actions.add_parser("show", help="one message, whole")
    show.add_argument("--service", choices=list(SERVICES), required=True)
    show.add_argument("which", help="its position in `list`, or its message id")
    for name, text in (
        ("replay", "put chosen messages back in the inbox, each once"),
        ("purge", "remove chosen messages for good"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--service", choices=list(SERVICES), required=True)
        action.add_argument("--id", action="append", default=[], help="a message id (repeat)")
        action.add_argument("--position", type=int, action="append", default=[])
        action.add_argument("--reason", help="every message whose reason contains this text")
        action.add_argument("--all", action="store_true", help="every parked message")
        action.add_argument("--yes", action="store_true", help="do not ask for confirmation")


async def run(
    args: argparse.Namespace, rabbitmq_url: str, console: Console, confirm: Confirm = input
) -> int:
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        if args.action == "list":
            for service in args.service or list(SERVICES):
                messages = await peek(channel, service)
                console.print(_listing(service, messages, args.limit))
            return 0
        if args.action == "show":
            messages = await peek(channel, args.service)
            found = [m for m in messages if args.which in (m.message_id, str(m.position))]
            if not found:
                console.print(f"no parked message {args.which} in {args.service}.dead")
                return 1
            console.print(_details(found[0]))
            return 0
        choice = Choice(frozenset(args.id), frozenset(args.position), args.reason, bool(args.all))
        if choice.empty:
            console.print("say which messages: --id, --position, --reason or --all")
            return 2
        chosen = [m for m in await peek(channel, args.service) if choice(m)]
        if not chosen:
            console.print("no parked message matches")
            return 1
        if args.action == "purge" and not args.yes:
            answer = confirm(
                f"remove {len(chosen)} parked message(s) of {args.service} for good? "
                f"type the service name to confirm: "
            )
            if answer.strip() != args.service:
                console.print("nothing removed")
                return 1
        if args.action == "replay":
            done = await replay(channel, Publisher(channel, "gridloop-ops"), args.service, choice)
            console.print(f"replayed {len(done)} message(s) into {args.service}.inbox")
        else:
            done = await purge(channel, args.service, choice)
            console.print(f"removed {len(done)} message(s) from {args.service}.dead")
        return 0


def _listing(service: str, messages: Sequence[ParkedMessage], limit: int) -> Table:
    table = Table(title=f"{service}.dead — {len(messages)} parked")
    table.add_column("#", justify="right")
    table.add_column("age")
    table.add_column("type")
    table.add_column("reason")
    table.add_column("message id")
    table.add_column("attempts", justify="right")
    now = datetime.now(UTC)
    for reason, count in count_by_reason(messages).items():
        table.add_row("", "", "", f"[bold]{count} x {reason}[/]", "", "")
    for message in messages[:limit]:
        table.add_row(
            str(message.position),
            _age(now, message.parked_at),
            (message.type or "(not a CloudEvent)").removeprefix("org.gridloop."),
            message.reason[:90],
            message.message_id,
            str(message.attempts),
        )
    return table


def _details(message: ParkedMessage) -> str:
    try:
        body = json.dumps(json.loads(message.body), ensure_ascii=False, indent=2)
    except ValueError:
        body = message.body.decode(errors="replace")
    headers = json.dumps(message.headers, default=str, ensure_ascii=False, indent=2)
    return (
        f"message {message.message_id} (#{message.position})\n"
        f"reason:   {message.reason}\n"
        f"parked:   {message.parked_at}\n"
        f"from:     {message.exchange or '(default exchange)'} / {message.routing_key}\n"
        f"attempts: {message.attempts}\n"
        f"headers:  {headers}\n"
        f"body:\n{body}"
    )


def _age(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "?"
    seconds = int((now - then).total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7_200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} d"


def run_sync(args: argparse.Namespace, rabbitmq_url: str) -> int:
    return asyncio.run(run(args, rabbitmq_url, Console()))
