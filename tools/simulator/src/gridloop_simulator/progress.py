"""A live view of a run on a terminal (rich progress bars), or a line every few seconds."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gridloop_simulator.simulation import Simulation

ROWS = (
    ("reports sent", "sent"),
    ("answered", "answered"),
    ("orders received", "orders"),
    ("replies sent", "replies"),
    ("verdicts", "verdicts"),
    ("SLA events heard", "sla"),
    ("notices delivered", "deliveries"),
)


def figures(simulation: Simulation) -> dict[str, int]:
    counters = simulation.record.counters
    return {
        "sent": simulation.residents.sent,
        "answered": simulation.residents.answered,
        "orders": counters["orders"],
        "replies": sum(
            v for k, v in counters.items() if k.startswith("replies_") and k != "replies_given_up"
        ),
        "verdicts": counters["feedback_satisfied"] + counters["feedback_unsatisfied"],
        "sla": sum(v for k, v in counters.items() if k.startswith("sla_") and k != "sla_repeats"),
        "deliveries": counters["deliveries"],
    }


async def show(simulation: Simulation, console: Console | None = None) -> None:
    """Render until cancelled."""
    console = console or Console(stderr=True)
    total = len(simulation.plan)
    if not console.is_terminal:
        while True:
            await asyncio.sleep(10)
            line = "  ".join(f"{label}={figures(simulation)[key]}" for label, key in ROWS)
            sys.stderr.write(f"[simulator] {line}\n")
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        tasks = {
            key: bars.add_task(label, total=total if key in ("sent", "answered") else None)
            for label, key in ROWS
        }
        while True:
            now = figures(simulation)
            for key, task in tasks.items():
                bars.update(task, completed=now[key])
            await asyncio.sleep(0.25)
