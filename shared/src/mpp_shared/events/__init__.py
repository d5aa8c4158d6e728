"""Events between services: CloudEvents envelope, transactional outbox, idempotent consumers."""

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
    EventConsumer,
    Handler,
    NakDelay,
    PermanentError,
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
    "exponential_backoff",
    "new_event",
    "record_event",
]
