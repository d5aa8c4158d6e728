"""The CloudEvents 1.0 envelope (JSON structured mode) every event travels in."""

from __future__ import annotations

import builtins
import functools
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from mpp_shared.observability.context import current_request_id, trace_var

DataT = TypeVar("DataT", bound=BaseModel)

# mpp.<service>.<entity>.<verb>: the type doubles as the NATS subject, so each part must be
# one subject token (no dots, wildcards or spaces).
_EVENT_TYPE = re.compile(r"^mpp(\.[a-z][a-z0-9_-]*){3}$")
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")

# Turns ids, dates and decimals in a plain mapping into JSON values, as model_dump does.
_JSON_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class CloudEvent(BaseModel):
    """One event. Its ``type`` is also the NATS subject it is published on.

    Extension attributes besides ``correlationid`` and ``traceparent`` are kept when parsing
    (``extra="allow"``) so an event passes through unchanged.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    # The request id that caused the event: lets operators follow one citizen action across
    # services without putting who the citizen is into the event.
    correlationid: str | None = None
    # CloudEvents distributed-tracing extension (W3C trace context).
    traceparent: str | None = None

    @field_validator("id")
    @classmethod
    def _canonical_uuid(cls, value: str) -> str:
        # The id is the outbox primary key and the Nats-Msg-Id: one spelling per event.
        if _CANONICAL_ID.match(value):
            return value  # already that spelling (every event we publish): no parse needed
        return str(uuid.UUID(value))

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset (RFC 3339)")
        return value.astimezone(UTC)

    @property
    def nats_subject(self) -> str:
        return self.type

    @functools.cached_property
    def event_id(self) -> uuid.UUID:
        # Read several times per event by a consumer (inbox, timeline, notifications).
        return uuid.UUID(self.id)

    def to_json_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object, absent optional attributes left out."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> CloudEvent:
        return cls.model_validate_json(body)

    def data_as(self, model: builtins.type[DataT]) -> DataT:
        """The payload as its contract model (``mpp_shared.contracts.<publisher>.v1``)."""
        return model.model_validate(self.data)


def new_event(
    *,
    type: str,
    source: str,
    data: BaseModel | Mapping[str, Any],
    subject: str | None = None,
) -> CloudEvent:
    """A new event with a fresh id, the current time and the current request's correlation."""
    if not _EVENT_TYPE.match(type):
        raise ValueError(f"event type {type!r} is not mpp.<service>.<entity>.<verb>")
    if isinstance(data, BaseModel):
        payload = data.model_dump(mode="json")
    else:
        payload = _JSON_OBJECT.dump_python(dict(data), mode="json")
    trace = trace_var.get()
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=type,
        subject=subject,
        time=datetime.now(UTC),
        data=payload,
        correlationid=current_request_id(),
        traceparent=trace.traceparent if trace is not None else None,
    )
