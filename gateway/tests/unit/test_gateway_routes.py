"""The routing table sends every public path of API.md to its service, and nothing else."""

from __future__ import annotations

import uuid

import pytest

from gateway.routes import ROUTES, Auth, Body, Route, RoutingTable
from mpp_shared.auth.principal import Principal

TABLE = RoutingTable()


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("GET", "/.well-known/openid-configuration", "identity"),
        ("GET", "/oauth2/jwks", "identity"),
        ("GET", "/oauth2/authorize", "identity"),
        ("POST", "/oauth2/authorize", "identity"),
        ("POST", "/oauth2/token", "identity"),
        ("POST", "/oauth2/revoke", "identity"),
        ("GET", "/oauth2/userinfo", "identity"),
        ("POST", "/api/v1/auth/login", "identity"),
        ("POST", "/api/v1/auth/logout", "identity"),
        ("POST", "/api/v1/citizens", "identity"),
        ("GET", "/api/v1/me", "identity"),
        ("PATCH", "/api/v1/me", "identity"),
        ("POST", "/api/v1/me/face-verification", "identity"),
        ("GET", "/api/v1/me/consents", "identity"),
        ("DELETE", "/api/v1/me/consents/7c1d", "identity"),
        ("GET", "/api/v1/me/access-log", "identity"),
        ("POST", "/api/v1/staff", "identity"),
        ("POST", "/api/v1/me/mfa/totp", "identity"),
        ("POST", "/api/v1/me/mfa/totp/confirm", "identity"),
        ("POST", "/api/v1/clients", "identity"),
        ("POST", "/api/v1/admin/signing-keys/rotate", "identity"),
        ("GET", "/api/v1/regions", "catalog"),
        ("GET", "/api/v1/agencies", "catalog"),
        ("POST", "/api/v1/agencies", "catalog"),
        ("GET", "/api/v1/locations", "catalog"),
        ("GET", "/api/v1/services", "catalog"),
        ("GET", "/api/v1/services/5f0e", "catalog"),
        ("POST", "/api/v1/services", "catalog"),
        ("PATCH", "/api/v1/services/5f0e/draft", "catalog"),
        ("POST", "/api/v1/services/5f0e/publish", "catalog"),
        ("POST", "/api/v1/services/5f0e/retire", "catalog"),
        ("POST", "/api/v1/applications", "application"),
        ("GET", "/api/v1/applications", "application"),
        ("GET", "/api/v1/applications/9a1b", "application"),
        ("PATCH", "/api/v1/applications/9a1b", "application"),
        ("POST", "/api/v1/applications/9a1b/documents", "application"),
        ("GET", "/api/v1/applications/9a1b/documents/d0c5", "application"),
        ("POST", "/api/v1/applications/9a1b/submit", "application"),
        ("POST", "/api/v1/applications/9a1b/withdraw", "application"),
        ("GET", "/api/v1/agency/applications", "application"),
        ("POST", "/api/v1/agency/applications/9a1b/actions", "application"),
        ("GET", "/api/v1/tracking/REG-2026-0001", "tracking"),
        ("GET", "/api/v1/applications/9a1b/timeline", "tracking"),
        ("GET", "/api/v1/notifications", "tracking"),
        ("GET", "/api/v1/events/stream", "tracking"),
        ("POST", "/api/v1/webhooks", "tracking"),
        ("GET", "/api/v1/webhooks/77/deliveries", "tracking"),
        ("POST", "/api/v1/applications/9a1b/survey", "tracking"),
        ("GET", "/api/v1/reports/service-levels", "tracking"),
        ("GET", "/api/v1/reports/satisfaction", "tracking"),
        ("GET", "/api/v1/bookings/slots", "application"),
        ("POST", "/api/v1/bookings", "application"),
        ("GET", "/api/v1/bookings", "application"),
        ("GET", "/api/v1/bookings/b00c", "application"),
        ("POST", "/api/v1/bookings/b00c/cancel", "application"),
        ("POST", "/api/v1/bookings/b00c/check-in", "application"),
        ("GET", "/api/v1/queues/10c4", "application"),
        ("POST", "/api/v1/agency/locations/10c4/counters/c0c0/call-next", "application"),
        ("POST", "/api/v1/agency/bookings/b00c/served", "application"),
        ("POST", "/api/v1/agency/bookings/b00c/no-show", "application"),
        ("POST", "/api/v1/complaints", "application"),
        ("GET", "/api/v1/complaints", "application"),
        ("GET", "/api/v1/complaints/c0de", "application"),
        ("POST", "/api/v1/complaints/c0de/messages", "application"),
        ("GET", "/api/v1/complaints/track/ADU-64.72-2026-000001", "application"),
        ("POST", "/api/v1/complaints/track/ADU-64.72-2026-000001/messages", "application"),
        ("GET", "/api/v1/agency/complaints", "application"),
        ("POST", "/api/v1/agency/complaints/c0de/actions", "application"),
        ("GET", "/api/v1/agency/complaints/report", "application"),
        ("PUT", "/api/v1/agency/complaint-settings", "application"),
    ],
)
def test_every_public_endpoint_goes_to_its_service(method: str, path: str, service: str) -> None:
    route = TABLE.match(method, path)

    assert route is not None, f"{method} {path} is not routed"
    assert route.service == service


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/internal/applications"),
        ("GET", "/api/internal/accounts"),
        ("GET", "/api/v2/me"),
        ("GET", "/api/v1/mee"),
        ("GET", "/api/v1/citizens"),  # registration is POST only
        ("DELETE", "/api/v1/tracking/REG-1"),
        ("GET", "/metrics/extra"),
        ("GET", "/"),
    ],
)
def test_paths_that_are_not_public_have_no_route(method: str, path: str) -> None:
    assert TABLE.match(method, path) is None


def test_specific_routes_win_over_prefixes() -> None:
    timeline = TABLE.match("GET", "/api/v1/applications/1/timeline")
    documents = TABLE.match("POST", "/api/v1/applications/1/documents")
    action = TABLE.match("POST", "/api/v1/agency/applications/1/actions")
    catalogue_write = TABLE.match("POST", "/api/v1/services")
    catalogue_read = TABLE.match("GET", "/api/v1/services")

    assert timeline is not None
    assert timeline.service == "tracking"
    assert documents is not None
    assert documents.body is Body.UPLOAD
    assert action is not None
    assert action.body is Body.UPLOAD  # complete may attach the output document
    assert action.agency_clients
    assert catalogue_read is not None
    assert catalogue_read.auth is Auth.PUBLIC
    assert catalogue_write is not None
    assert catalogue_write.auth is Auth.TOKEN


def test_strict_limit_classes_cover_login_registration_and_public_tracking() -> None:
    def limit(method: str, path: str) -> str:
        route = TABLE.match(method, path)
        assert route is not None
        return route.limit

    assert limit("POST", "/api/v1/auth/login") == "login"
    assert limit("POST", "/oauth2/authorize") == "login"
    assert limit("POST", "/api/v1/citizens") == "registration"
    assert limit("GET", "/api/v1/tracking/REG-1") == "tracking"
    assert limit("POST", "/oauth2/token") == "token"
    assert limit("GET", "/api/v1/services") == "default"


def test_only_the_event_stream_is_a_streaming_route() -> None:
    assert [route.pattern for route in ROUTES if route.stream] == ["/api/v1/events/stream"]


def test_roles_and_agency_clients() -> None:
    agency_queue = TABLE.match("GET", "/api/v1/agency/applications")
    assert agency_queue is not None
    citizen = Principal(subject="c", roles=frozenset({"citizen"}))
    officer = Principal(subject="o", roles=frozenset({"officer"}))
    agency_system = Principal(
        subject="client-1",
        scopes=frozenset({"applications:process"}),
        agency_id=uuid.uuid4(),
    )
    stray_client = Principal(subject="client-2")

    assert agency_queue.admits(officer)
    assert agency_queue.admits(agency_system)
    assert not agency_queue.admits(citizen)
    assert not agency_queue.admits(stray_client)


def test_a_route_without_roles_admits_any_token() -> None:
    route = Route("/x", "identity", auth=Auth.TOKEN)

    assert route.admits(Principal(subject="anyone"))


def test_method_specific_routes_fall_through_to_the_next_match() -> None:
    table = RoutingTable((Route("/a/**", "one", frozenset({"GET"})), Route("/a/**", "two")))

    assert table.match("GET", "/a/b") == table.routes[0]
    assert table.match("POST", "/a/b") == table.routes[1]
    assert table.match("BREW", "/a") == table.routes[1]
    assert table.match("GET", "/ab") is None


def test_signing_key_rotation_is_for_platform_admins_only() -> None:
    rotate = TABLE.match("POST", "/api/v1/admin/signing-keys/rotate")
    assert rotate is not None
    assert rotate.admits(Principal(subject="a", roles=frozenset({"platform_admin"})))
    assert not rotate.admits(Principal(subject="b", roles=frozenset({"agency_admin"})))


def test_counter_and_complaint_routes_are_public_only_where_anonymous_callers_belong() -> None:
    def route(method: str, path: str) -> Route:
        found = TABLE.match(method, path)
        assert found is not None, f"{method} {path} is not routed"
        return found

    # Slots and the queue board are for anybody; an anonymous complaint needs no token.
    assert route("GET", "/api/v1/bookings/slots").auth is Auth.PUBLIC
    assert route("GET", "/api/v1/queues/10c4").auth is Auth.PUBLIC
    assert route("POST", "/api/v1/complaints").auth is Auth.PUBLIC
    assert route("POST", "/api/v1/complaints").limit == "registration"
    assert route("GET", "/api/v1/complaints/track/ADU-1").limit == "tracking"
    # Booking a place and reading one's own cases need the citizen's token.
    assert route("POST", "/api/v1/bookings").auth is Auth.TOKEN
    assert route("GET", "/api/v1/complaints").auth is Auth.TOKEN
    # The officer at the desk may check a resident in; only staff call numbers.
    officer = Principal(subject=str(uuid.uuid4()), roles=frozenset({"officer"}))
    citizen = Principal(subject=str(uuid.uuid4()), roles=frozenset({"citizen"}))
    assert route("POST", "/api/v1/bookings/b00c/check-in").admits(officer)
    call = route("POST", "/api/v1/agency/locations/10c4/counters/c0c0/call-next")
    assert call.admits(officer)
    assert not call.admits(citizen)
    assert not route("POST", "/api/v1/agency/complaints/c0de/actions").admits(citizen)
    # The agency's officer reads the case it answers; replying as the complainant stays theirs.
    assert route("GET", "/api/v1/complaints/c0de").admits(officer)
    assert route("GET", "/api/v1/complaints/c0de").admits(citizen)
    assert not route("GET", "/api/v1/complaints").admits(officer)
    assert not route("POST", "/api/v1/complaints/c0de/messages").admits(officer)
    # A GET below the public POST is not public.
    assert TABLE.match("GET", "/api/v1/complaints") is not None
    assert route("GET", "/api/v1/complaints").auth is Auth.TOKEN
