"""`gridloop-ops`: operator commands for a running gridloop.

The broker comes from RABBITMQ_URL (a user allowed to read and write the services' queues on
the city's virtual host), or --rabbitmq-url.
"""

from __future__ import annotations

import argparse
import os
import sys

from gridloop_ops import parked


def main(argv: list[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="gridloop-ops", description=__doc__.split("\n")[0])
    top.add_argument(
        "--rabbitmq-url",
        default=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    )
    commands = top.add_subparsers(dest="command", required=True)
    parked.add_commands(commands)
    args = top.parse_args(argv)
    return parked.run_sync(args, args.rabbitmq_url)


if __name__ == "__main__":
    sys.exit(main())
