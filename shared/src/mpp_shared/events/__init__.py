"""Events between services: CloudEvents envelope, transactional outbox, idempotent consumers.

Names load on first use (PEP 562): a process that only needs the NATS connection (the gateway)
does not pay for SQLAlchemy, which the outbox and the consumer bring along.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpp_shared.events.connection import NatsConnection
    from mpp_shared.events.consumer import (
        DLQ_CONSUMER_HEADER,
        DLQ_DELIVERIES_HEADER,
        DLQ_ERROR_HEADER,
        DLQ_EVENT_ID_HEADER,
        DLQ_REASON_HEADER,
        DLQ_SEQUENCE_HEADER,
        DLQ_STREAM_HEADER,
        DLQ_SUBJECT_HEADER,
        BatchHandler,
        EventConsumer,
        Handler,
        NakDelay,
        PermanentError,
        event_context,
        exponential_backoff,
    )
    from mpp_shared.events.envelope import CloudEvent, new_event
    from mpp_shared.events.outbox import OUTBOX_CHANNEL, record_event
    from mpp_shared.events.relay import OutboxRelay
    from mpp_shared.events.stream import (
        DEAD_LETTER_PREFIX,
        DEAD_LETTER_STREAM,
        EVENTS_STREAM,
        EVENTS_SUBJECTS,
        dead_letter_subject,
        ensure_dead_letter_stream,
        ensure_event_streams,
        ensure_stream,
    )

_MODULE_OF = {
    "BatchHandler": "mpp_shared.events.consumer",
    "CloudEvent": "mpp_shared.events.envelope",
    "DEAD_LETTER_PREFIX": "mpp_shared.events.stream",
    "DEAD_LETTER_STREAM": "mpp_shared.events.stream",
    "DLQ_CONSUMER_HEADER": "mpp_shared.events.consumer",
    "DLQ_DELIVERIES_HEADER": "mpp_shared.events.consumer",
    "DLQ_ERROR_HEADER": "mpp_shared.events.consumer",
    "DLQ_EVENT_ID_HEADER": "mpp_shared.events.consumer",
    "DLQ_REASON_HEADER": "mpp_shared.events.consumer",
    "DLQ_SEQUENCE_HEADER": "mpp_shared.events.consumer",
    "DLQ_STREAM_HEADER": "mpp_shared.events.consumer",
    "DLQ_SUBJECT_HEADER": "mpp_shared.events.consumer",
    "EVENTS_STREAM": "mpp_shared.events.stream",
    "EVENTS_SUBJECTS": "mpp_shared.events.stream",
    "EventConsumer": "mpp_shared.events.consumer",
    "Handler": "mpp_shared.events.consumer",
    "NakDelay": "mpp_shared.events.consumer",
    "NatsConnection": "mpp_shared.events.connection",
    "OUTBOX_CHANNEL": "mpp_shared.events.outbox",
    "OutboxRelay": "mpp_shared.events.relay",
    "PermanentError": "mpp_shared.events.consumer",
    "dead_letter_subject": "mpp_shared.events.stream",
    "ensure_dead_letter_stream": "mpp_shared.events.stream",
    "ensure_event_streams": "mpp_shared.events.stream",
    "ensure_stream": "mpp_shared.events.stream",
    "event_context": "mpp_shared.events.consumer",
    "exponential_backoff": "mpp_shared.events.consumer",
    "new_event": "mpp_shared.events.envelope",
    "record_event": "mpp_shared.events.outbox",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEAD_LETTER_PREFIX",
    "DEAD_LETTER_STREAM",
    "DLQ_CONSUMER_HEADER",
    "DLQ_DELIVERIES_HEADER",
    "DLQ_ERROR_HEADER",
    "DLQ_EVENT_ID_HEADER",
    "DLQ_REASON_HEADER",
    "DLQ_SEQUENCE_HEADER",
    "DLQ_STREAM_HEADER",
    "DLQ_SUBJECT_HEADER",
    "EVENTS_STREAM",
    "EVENTS_SUBJECTS",
    "OUTBOX_CHANNEL",
    "BatchHandler",
    "CloudEvent",
    "EventConsumer",
    "Handler",
    "NakDelay",
    "NatsConnection",
    "OutboxRelay",
    "PermanentError",
    "dead_letter_subject",
    "ensure_dead_letter_stream",
    "ensure_event_streams",
    "ensure_stream",
    "event_context",
    "exponential_backoff",
    "new_event",
    "record_event",
]
