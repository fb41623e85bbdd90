"""Confirmed, persistent, mandatory publishing: a message is routed and stored, or an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from gridloop_common.messaging.outgoing import Outgoing


class PublishFailed(RuntimeError):
    """The broker returned (unroutable) or nacked the message."""


class Publisher:
    def __init__(self, channel: AbstractChannel, app_id: str) -> None:
        # The channel must be opened with publisher_confirms=True and on_return_raises=True,
        # otherwise an unroutable mandatory message would be dropped without an error.
        self._channel = channel
        self._app_id = app_id
        self._exchanges: dict[str, AbstractExchange] = {}

    async def _exchange(self, name: str) -> AbstractExchange:
        if name == "":
            return self._channel.default_exchange
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = await self._channel.get_exchange(name, ensure=False)
            self._exchanges[name] = exchange
        return exchange

    async def publish(
        self, outgoing: Outgoing, extra_headers: dict[str, str] | None = None
    ) -> None:
        exchange = await self._exchange(outgoing.exchange)
        message = aio_pika.Message(
            body=outgoing.body,
            content_type=outgoing.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=outgoing.message_id or None,
            correlation_id=outgoing.correlation_id,
            app_id=self._app_id,
            headers={**outgoing.headers, **(extra_headers or {})},
        )
        try:
            await exchange.publish(message, routing_key=outgoing.routing_key, mandatory=True)
        except aio_pika.exceptions.DeliveryError as error:
            raise PublishFailed(
                f"broker refused {outgoing.exchange or '(default)'}/{outgoing.routing_key}: "
                f"{_describe(error)}"
            ) from error

    async def publish_all(self, outgoings: Iterable[Outgoing]) -> None:
        """Publish with every confirm in flight at once; raise if any was refused."""
        results = await asyncio.gather(
            *(self.publish(outgoing) for outgoing in outgoings), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result


def _describe(error: aio_pika.exceptions.DeliveryError) -> str:
    frame = error.frame
    text = getattr(frame, "reply_text", None)
    return str(text) if text else type(frame).__name__
