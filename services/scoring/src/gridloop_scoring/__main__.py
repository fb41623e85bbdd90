"""`gridloop-scoring`: serve (the default), or `rebuild [--check]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from gridloop_common.clock import SystemClock
from gridloop_common.mongo import create_client
from gridloop_common.serve import run_service
from gridloop_common.settings import load_settings
from gridloop_scoring import repository
from gridloop_scoring.app import create_app
from gridloop_scoring.rebuild import rebuild
from gridloop_scoring.settings import ScoringSettings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="gridloop-scoring",
        description="The gridloop scoring service. Without a command: serve.",
    )
    commands = top.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    rebuild_command = commands.add_parser(
        "rebuild",
        help="recompute every figure from the stored facts",
        description=(
            "Reads every stored fact once and recomputes every figure (all levels, months, "
            "quarters, years) with the same rules as the running service, then replaces the "
            "stored figures. Settings (MONGODB_URL, MONGODB_DATABASE) come from the environment."
        ),
    )
    rebuild_command.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list figures that differ from the rebuilt ones, exit 1 if any",
    )
    return top


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command in (None, "serve"):
        run_service(ScoringSettings, create_app)
        return
    raise SystemExit(asyncio.run(run_rebuild(load_settings(ScoringSettings), check=args.check)))


async def run_rebuild(settings: ScoringSettings, *, check: bool) -> int:
    # Patient: reading a million facts keeps a single-process database busy for seconds between
    # answers, and with the service's 5 s the driver would give up on the cursor midway.
    client = create_client(settings.mongodb_url, server_selection_timeout_ms=120_000)
    try:
        database = client[settings.database_name]
        facts = repository.FactStore(database[repository.FACTS], database[repository.UNMARKED])
        figures = repository.FigureStore(database[repository.FIGURES], database[repository.SAMPLES])
        report = await rebuild(facts, figures, SystemClock(), check=check)
    finally:
        await client.close()
    out = sys.stdout
    out.write(f"facts read: {report.facts}; figures rebuilt: {report.figures}\n")
    for label, keys in (
        ("differing", report.differing),
        ("missing", report.missing),
        ("stale", report.stale),
    ):
        out.write(f"{label}: {len(keys)}\n")
        for key in keys[:50]:
            out.write(f"  {key}\n")
    if check:
        out.write("consistent\n" if report.consistent else "INCONSISTENT\n")
        return 0 if report.consistent else 1
    out.write("figures replaced\n")
    return 0


if __name__ == "__main__":
    main()
