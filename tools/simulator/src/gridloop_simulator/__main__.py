"""`gridloop-simulate`: play the city against a running gridloop (by default `make up`'s).

    uv run gridloop-simulate --reports 500 --rate 10 --speed 3600

notify must send to this simulator for reporters to hear about their cases and answer them:
start the system with the sink's URLs (printed by `--print-sink-env`) in its environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gridloop_simulator.config import SimulationConfig, Targets
from gridloop_simulator.progress import show
from gridloop_simulator.simulation import Simulation


def _urls(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse(argv: list[str] | None = None) -> tuple[SimulationConfig, Targets, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="gridloop-simulate", description=__doc__.split("\n")[0])
    run = parser.add_argument_group("the run")
    run.add_argument("--reports", type=int, default=1_000)
    run.add_argument("--rate", type=float, default=10.0, help="reports per second, open loop")
    run.add_argument("--seed", type=int, default=7)
    run.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="city seconds per second; the system must run with the windows of --print-sink-env",
    )
    run.add_argument("--max-complete-hours", type=float, default=None)
    run.add_argument("--broadcasts", type=int, default=2, help="one-click notices to villages")
    run.add_argument("--city-notice", action="store_true", help="also one to every chat group")
    run.add_argument("--settle-timeout", type=float, default=600.0)
    run.add_argument("--record", type=Path, default=None, help="write the record as JSON lines")
    city = parser.add_argument_group("the city (defaults: make up)")
    defaults = Targets()
    city.add_argument("--intake", type=_urls, default=defaults.intake, help="comma-separated")
    city.add_argument("--dispatch", type=_urls, default=defaults.dispatch)
    city.add_argument("--notify", type=_urls, default=defaults.notify)
    city.add_argument("--scoring", type=_urls, default=defaults.scoring)
    city.add_argument("--rabbitmq-url", default=defaults.rabbitmq_url)
    city.add_argument("--department-user-prefix", default=defaults.department_user_prefix)
    city.add_argument(
        "--department-password-template", default=defaults.department_password_template
    )
    city.add_argument("--department-api-key-template", default=defaults.department_api_key_template)
    city.add_argument("--operator-key", default=defaults.operator_api_key)
    city.add_argument("--open311-key", default=defaults.open311_api_key)
    city.add_argument("--chat-group-key", default=defaults.chat_group_api_key)
    city.add_argument("--patrol-key", default=defaults.patrol_api_key)
    city.add_argument("--hotline-key", default=defaults.hotline_api_key)
    city.add_argument("--sink-port", type=int, default=defaults.sink_port)
    parser.add_argument(
        "--print-sink-env", action="store_true", help="print the system's settings and exit"
    )
    args = parser.parse_args(argv)
    config = SimulationConfig(
        reports=args.reports,
        rate=args.rate,
        seed=args.seed,
        speed=args.speed,
        max_complete_hours=args.max_complete_hours,
        broadcasts=args.broadcasts,
        city_notice=args.city_notice,
    )
    targets = Targets(
        intake=args.intake,
        dispatch=args.dispatch,
        notify=args.notify,
        scoring=args.scoring,
        rabbitmq_url=args.rabbitmq_url,
        department_user_prefix=args.department_user_prefix,
        department_password_template=args.department_password_template,
        department_api_key_template=args.department_api_key_template,
        operator_api_key=args.operator_key,
        open311_api_key=args.open311_key,
        chat_group_api_key=args.chat_group_key,
        patrol_api_key=args.patrol_key,
        hotline_api_key=args.hotline_key,
        sink_port=args.sink_port,
    )
    return config, targets, args


async def _main(config: SimulationConfig, targets: Targets, args: argparse.Namespace) -> int:
    simulation = Simulation(config, targets)
    console = Console(stderr=True)
    display = asyncio.create_task(show(simulation, console))
    try:
        await simulation.start()
        await simulation.run_reports()
        settled = await simulation.settle(timeout=args.settle_timeout)
    finally:
        display.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await display
        await simulation.stop()
    if args.record is not None:
        simulation.record.write(args.record)
    table = Table(title="what the city did and heard")
    table.add_column("counter")
    table.add_column("count", justify="right")
    for key, value in sorted(simulation.record.counters.items()):
        table.add_row(key, str(value))
    Console().print(table)
    if not settled:
        console.print("[yellow]the city had not settled when the settle timeout ran out[/]")
    return 0 if settled else 1


def main(argv: list[str] | None = None) -> int:
    config, targets, args = parse(argv)
    if args.print_sink_env:
        for name, value in {**targets.sink_urls, **config.system_windows()}.items():
            sys.stdout.write(f"{name}={value}\n")
        return 0
    try:
        return asyncio.run(_main(config, targets, args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
