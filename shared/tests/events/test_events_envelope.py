"""The CloudEvents envelope: attributes, correlation, payload contracts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from mpp_shared.contracts import EventData
from mpp_shared.events import CloudEvent, new_event
from mpp_shared.observability.context import TraceContext, request_id_var, trace_var


class ServicePublished(EventData):
    service_id: uuid.UUID
    version: int


def test_new_event_carries_the_cloudevents_attributes_and_the_request_id() -> None:
    service_id = uuid.uuid4()
    trace = TraceContext.new()
    request_token = request_id_var.set("req-123")
    trace_token = trace_var.set(trace)
    try:
        event = new_event(
            type="mpp.catalog.service.published",
            source="/catalog",
            subject=str(service_id),
            data=ServicePublished(service_id=service_id, version=2),
        )
    finally:
        trace_var.reset(trace_token)
        request_id_var.reset(request_token)

    body = event.to_json_dict()
    assert body["specversion"] == "1.0"
    assert uuid.UUID(body["id"]).version == 4
    assert body["source"] == "/catalog"
    assert body["type"] == "mpp.catalog.service.published"
    assert body["subject"] == str(service_id)
    assert body["datacontenttype"] == "application/json"
    assert body["time"].endswith("Z")
    assert body["data"] == {"service_id": str(service_id), "version": 2}
    assert body["correlationid"] == "req-123"
    assert body["traceparent"] == trace.traceparent
    assert event.nats_subject == "mpp.catalog.service.published"


def test_an_event_outside_a_request_has_no_correlation_attribute() -> None:
    event = new_event(type="mpp.catalog.service.published", source="/catalog", data={})
    assert "correlationid" not in event.to_json_dict()
    assert "subject" not in event.to_json_dict()


def test_an_event_survives_the_wire_and_its_data_parses_into_the_contract() -> None:
    service_id = uuid.uuid4()
    event = new_event(
        type="mpp.catalog.service.published",
        source="/catalog",
        data={"service_id": service_id, "version": 3},
    )
    parsed = CloudEvent.from_json(event.to_json())
    assert parsed == event
    assert parsed.data_as(ServicePublished) == ServicePublished(service_id=service_id, version=3)


def test_unknown_extension_attributes_are_kept() -> None:
    body = new_event(type="mpp.a.b.c", source="/a", data={}).to_json_dict()
    body["partitionkey"] = "x"
    assert CloudEvent.model_validate(body).to_json_dict()["partitionkey"] == "x"


@pytest.mark.parametrize(
    "event_type",
    [
        "catalog.service.published",
        "mpp.catalog.published",
        "mpp.catalog.service.*",
        "mpp.Catalog.x.y",
    ],
)
def test_new_event_refuses_a_type_that_is_not_an_mpp_subject(event_type: str) -> None:
    with pytest.raises(ValueError, match=r"mpp\.<service>\.<entity>\.<verb>"):
        new_event(type=event_type, source="/catalog", data={})


def test_time_is_normalised_to_utc_and_must_have_an_offset() -> None:
    wib = timezone(timedelta(hours=7))
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/x",
        type="mpp.x.y.z",
        time=datetime(2025, 1, 1, 7, 0, tzinfo=wib),
    )
    assert event.time == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    assert event.to_json_dict()["time"] == "2025-01-01T00:00:00Z"
    with pytest.raises(ValidationError):
        CloudEvent(id=str(uuid.uuid4()), source="/x", type="mpp.x.y.z", time=datetime(2025, 1, 1))


def test_an_id_that_is_not_a_uuid_is_refused() -> None:
    with pytest.raises(ValidationError):
        CloudEvent(id="42", source="/x", type="mpp.x.y.z", time=datetime.now(UTC))


def test_event_data_is_frozen_and_tolerates_fields_it_does_not_know() -> None:
    data = ServicePublished.model_validate(
        {"service_id": str(uuid.uuid4()), "version": 1, "added_later": True}
    )
    with pytest.raises(ValidationError):
        data.version = 2  # type: ignore[misc]
    assert not hasattr(data, "added_later")
