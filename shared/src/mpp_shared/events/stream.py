"""The JetStream streams that hold events (``MPP`` on ``mpp.>``) and dead letters (``MPP_DLQ``).

Subject scheme:

- events: ``mpp.<service>.<entity>.<verb>``, stored in stream ``MPP`` (subjects ``mpp.>``),
  deduplicated on ``Nats-Msg-Id`` (= event id) within an explicit duplicate window;
- dead letters: ``dlq.mpp.<consumer>``, stored in stream ``MPP_DLQ`` (subjects ``dlq.mpp.>``),
  one subject per durable consumer, so an operator lists one consumer's failures with a
  subject filter and replays them by republishing the body to its original subject (header
  ``Mpp-Dlq-Subject``).

Dead letters live under their own root rather than at ``mpp.dlq.<consumer>`` because NATS
refuses two streams with overlapping subjects, and inside ``MPP`` they would reach every
consumer that filters ``mpp.>`` (e.g. the tracking timeline) as if they were events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import APIError, NotFoundError

log = logging.getLogger(__name__)

EVENTS_STREAM = "MPP"
EVENTS_SUBJECTS: tuple[str, ...] = ("mpp.>",)
DEAD_LETTER_STREAM = "MPP_DLQ"
DEAD_LETTER_PREFIX = "dlq.mpp"
DEFAULT_DUPLICATE_WINDOW_SECONDS = 120.0

# JetStream's "stream name already in use" error: another replica created it first.
_STREAM_NAME_IN_USE = 10058


def dead_letter_subject(consumer: str) -> str:
    """Where the durable consumer ``consumer`` puts the events it gave up on."""
    return f"{DEAD_LETTER_PREFIX}.{consumer}"


async def ensure_stream(
    js: JetStreamContext,
    *,
    name: str = EVENTS_STREAM,
    subjects: Sequence[str] = EVENTS_SUBJECTS,
    duplicate_window_seconds: float = DEFAULT_DUPLICATE_WINDOW_SECONDS,
    max_age_seconds: float | None = None,
    replicas: int = 1,
) -> StreamInfo:
    """Create the file-storage stream ``name``, or bring an existing one to this configuration.

    Safe to call from every replica on every (re)connect: an unchanged stream is left alone.
    ``max_age_seconds=None`` keeps messages until an operator sets a limit, and keeps the limit
    an operator set: the age, message and byte limits of an existing stream are never undone.
    ``replicas``: how many servers of a JetStream cluster keep it (a clustered server changes
    it in place).
    """
    wanted = StreamConfig(
        name=name,
        subjects=list(subjects),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        # Explicit, because the outbox relay's at-least-once publishing relies on it.
        duplicate_window=duplicate_window_seconds,
        max_age=max_age_seconds,
        num_replicas=replicas,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            info = await js.add_stream(wanted)
        except APIError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise
            info = await js.stream_info(name)
        else:
            log.info("stream created", extra={"stream": name, "subjects": list(subjects)})
            return info
    if max_age_seconds is None:
        wanted.max_age = info.config.max_age
    if _differs(info.config, wanted):
        # The operator's other limits stay as they are.
        wanted.max_msgs = info.config.max_msgs
        wanted.max_bytes = info.config.max_bytes
        wanted.max_msgs_per_subject = info.config.max_msgs_per_subject
        info = await js.update_stream(wanted)
        log.info("stream updated", extra={"stream": name, "subjects": list(subjects)})
    return info


async def ensure_dead_letter_stream(
    js: JetStreamContext, *, name: str = DEAD_LETTER_STREAM, replicas: int = 1
) -> StreamInfo:
    """The stream that keeps dead letters until an operator deals with them."""
    return await ensure_stream(
        js,
        name=name,
        subjects=[f"{DEAD_LETTER_PREFIX}.>"],
        duplicate_window_seconds=DEFAULT_DUPLICATE_WINDOW_SECONDS,
        replicas=replicas,
    )


async def ensure_event_streams(
    js: JetStreamContext,
    *,
    name: str = EVENTS_STREAM,
    duplicate_window_seconds: float = DEFAULT_DUPLICATE_WINDOW_SECONDS,
    replicas: int = 1,
) -> None:
    """Both streams: the events stream and the dead-letter stream."""
    await ensure_stream(
        js, name=name, duplicate_window_seconds=duplicate_window_seconds, replicas=replicas
    )
    await ensure_dead_letter_stream(js, replicas=replicas)


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) != sorted(wanted.subjects or [])
        or current.storage != wanted.storage
        or abs((current.duplicate_window or 0) - (wanted.duplicate_window or 0)) > 1e-6
        or abs((current.max_age or 0) - (wanted.max_age or 0)) > 1e-6
        or current.retention != wanted.retention
        or current.discard != wanted.discard
        or (current.num_replicas or 1) != (wanted.num_replicas or 1)
    )
