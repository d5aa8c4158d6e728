"""Every operation tracking-service documents is reachable through the gateway, with the
edge's access rule that the service expects (the routing table is the only public door)."""

from __future__ import annotations

import re

import pytest

from gateway.routes import Auth, RoutingTable
from tracking.config import TrackingSettings
from tracking.main import create_app

TABLE = RoutingTable()
OPERATIONAL = {"/healthz", "/readyz", "/metrics"}
# The only tracking paths the public may call without a token.
PUBLIC = {"/api/v1/tracking/{registration_number}"}


def _operations() -> list[tuple[str, str]]:
    document = create_app(TrackingSettings(environment="test")).openapi()
    found = []
    for path, item in document["paths"].items():
        if path in OPERATIONAL:
            continue
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), path))
    return sorted(found)


OPERATIONS = _operations()


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "0b6a5f0e-7a51-4c39-9bd2-5a3c5f9c1d11", path)


def test_tracking_documents_the_operations_of_its_api_rows() -> None:
    paths = {path for _, path in OPERATIONS}
    assert {
        "/api/v1/tracking/{registration_number}",
        "/api/v1/applications/{application_id}/timeline",
        "/api/v1/notifications",
        "/api/v1/events/stream",
        "/api/v1/webhooks",
        "/api/v1/webhooks/{webhook_id}/deliveries",
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "/api/v1/reports/service-levels",
        "/api/v1/reports/satisfaction",
    } <= paths


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_tracking_operation_is_routed_to_tracking(method: str, path: str) -> None:
    route = TABLE.match(method, _concrete(path))
    assert route is not None, f"{method} {path} is not reachable through the gateway"
    assert route.service == "tracking"
    if path in PUBLIC:
        assert route.auth is Auth.PUBLIC
    else:
        assert route.auth is Auth.TOKEN


def test_the_live_stream_is_routed_as_a_stream() -> None:
    route = TABLE.match("GET", "/api/v1/events/stream")
    assert route is not None
    assert route.stream


def test_agency_systems_reach_their_webhooks_and_timelines() -> None:
    for method, path in [
        ("POST", "/api/v1/webhooks"),
        ("GET", "/api/v1/webhooks"),
        ("DELETE", "/api/v1/webhooks/{webhook_id}"),
        ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
        ("GET", "/api/v1/applications/{application_id}/timeline"),
    ]:
        route = TABLE.match(method, _concrete(path))
        assert route is not None
        assert route.agency_clients, f"{method} {path}"
