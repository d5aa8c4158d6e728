"""Operators' retention limits on the events stream survive every service's start."""

from __future__ import annotations

import dataclasses

from mpp_shared.events import NatsConnection
from mpp_shared.events.stream import EVENTS_STREAM, ensure_event_streams, ensure_stream


async def test_a_retention_limit_set_by_an_operator_is_kept(connection: NatsConnection) -> None:
    js = connection.jetstream
    await ensure_event_streams(js)
    info = await js.stream_info(EVENTS_STREAM)
    await js.update_stream(
        dataclasses.replace(info.config, max_age=3600.0, max_msgs=1000, max_bytes=1 << 20)
    )

    # What every relay and consumer does when it (re)connects.
    await ensure_event_streams(js)
    await ensure_stream(js, duplicate_window_seconds=60.0)  # a change that does update it

    config = (await js.stream_info(EVENTS_STREAM)).config
    assert config.max_age == 3600.0
    assert config.max_msgs == 1000
    assert config.max_bytes == 1 << 20
    assert config.duplicate_window == 60.0


async def test_a_limit_asked_for_in_code_is_applied(connection: NatsConnection) -> None:
    js = connection.jetstream
    await ensure_event_streams(js)
    await ensure_stream(js, max_age_seconds=600.0)
    assert (await js.stream_info(EVENTS_STREAM)).config.max_age == 600.0
