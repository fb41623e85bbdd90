"""The only package that imports aio-pika: topology, confirmed publishing, the consumer runner."""

from gridloop_common.messaging.consumer import (
    REASON_HEADER,
    Consumer,
    Delivery,
    DuplicateSubscription,
    NotYet,
    PermanentError,
    Subscription,
)
from gridloop_common.messaging.outgoing import Outgoing, envelope
from gridloop_common.messaging.publisher import Publisher, PublishFailed
from gridloop_common.messaging.topology import (
    Binding,
    dead_queue,
    department_queue,
    inbox_queue,
    retry_queue,
)

__all__ = [
    "REASON_HEADER",
    "Binding",
    "Consumer",
    "Delivery",
    "DuplicateSubscription",
    "NotYet",
    "Outgoing",
    "PermanentError",
    "PublishFailed",
    "Publisher",
    "Subscription",
    "dead_queue",
    "department_queue",
    "envelope",
    "inbox_queue",
    "retry_queue",
]
