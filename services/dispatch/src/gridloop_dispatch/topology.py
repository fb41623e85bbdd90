"""dispatch declares one `dept.<code>.orders` queue per catalogue department at start-up."""

from __future__ import annotations

from aio_pika.abc import AbstractChannel

from gridloop_common.catalogue import DEPARTMENTS
from gridloop_common.messaging.topology import declare_department_queue


async def declare_department_queues(channel: AbstractChannel) -> None:
    for department in DEPARTMENTS:
        await declare_department_queue(channel, department.code)
