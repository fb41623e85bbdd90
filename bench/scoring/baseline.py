"""The bare consumer scoring is compared with: per message one `insert_one` of the raw event, then
the ack; same broker, same database, same prefetch, nothing else.

    RABBITMQ_URL=... MONGODB_URL=... MONGODB_DATABASE=... QUEUE=... PREFETCH=64 EXPECT=20000 \
        python bench/scoring/baseline.py

Consumes until EXPECT messages are acked, then prints one JSON line (wall times of the first and
the last ack, its own CPU seconds from the first message on) and exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from gridloop_common.mongo import create_client


async def main() -> None:
    expect = int(os.environ["EXPECT"])
    connection = await aio_pika.connect_robust(os.environ["RABBITMQ_URL"])
    client = create_client(os.environ["MONGODB_URL"])
    events = client[os.environ["MONGODB_DATABASE"]]["events"]
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=int(os.environ.get("PREFETCH", "64")))
    queue = await channel.declare_queue(os.environ["QUEUE"], passive=True)
    done = asyncio.Event()
    acked = 0
    first = last = cpu_first = 0.0

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal acked, first, last, cpu_first
        document = json.loads(message.body)
        document["_id"] = document.pop("id")
        await events.insert_one(document)
        await message.ack()
        acked += 1
        last = time.time()
        if acked == 1:
            # CPU from the first message on: start-up (imports, connections) is not consumption.
            first, cpu_first = last, time.process_time()
        if acked >= expect:
            done.set()

    print(json.dumps({"ready": time.time()}), flush=True)
    await queue.consume(on_message)
    await done.wait()
    cpu = time.process_time() - cpu_first
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "acked": acked,
                "first": first,
                "last": last,
                "cpu": cpu,
                "rss_kib": usage.ru_maxrss,
            }
        ),
        flush=True,
    )
    await connection.close()
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
