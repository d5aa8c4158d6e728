"""The service's OpenAPI document builds: the gateway is not ready until it has merged it."""

from __future__ import annotations

from tracking.config import TrackingSettings
from tracking.main import create_app


def test_the_openapi_document_builds_with_every_route() -> None:
    app = create_app(TrackingSettings(environment="test"))

    document = app.openapi()

    assert "/api/v1/events/stream" in document["paths"]
    assert "/api/v1/webhooks" in document["paths"]
    assert "/api/v1/tracking/{registration_number}" in document["paths"]
