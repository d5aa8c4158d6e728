"""The routing table: every public path of API.md, its service, who may call it, its limits.

One declarative table. A path that no route matches is not public and answers 404 at the
edge, so the services' internal routes are never reachable from outside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from mpp_shared.auth.principal import ALL_ROLES, STAFF_ROLES, Principal, Role


class Auth(Enum):
    # No token needed; a bearer token that is present is still verified (a bad one is 401).
    PUBLIC = "public"
    # A valid bearer token is needed.
    TOKEN = "token"  # noqa: S105 - a kind of access, not a secret
    # The service authenticates the caller itself (OAuth2 endpoints: client credentials in
    # the Authorization header, a login form, a token to revoke); the gateway does not look.
    SERVICE = "service"


class Body(Enum):
    JSON = "json"  # settings.max_body_bytes
    UPLOAD = "upload"  # settings.max_upload_bytes


READ = frozenset({"GET", "HEAD"})
POST = frozenset({"POST"})
USERS: frozenset[str] = ALL_ROLES
CITIZEN: frozenset[str] = frozenset({Role.CITIZEN})
STAFF: frozenset[str] = STAFF_ROLES
ADMINS: frozenset[str] = frozenset({Role.AGENCY_ADMIN, Role.PLATFORM_ADMIN})
PLATFORM_ADMIN: frozenset[str] = frozenset({Role.PLATFORM_ADMIN})
AGENCY_STAFF: frozenset[str] = frozenset({Role.OFFICER, Role.AGENCY_ADMIN})
# At the counter: the resident checks in, or the officer at the desk does it for them.
COUNTER_VISITORS: frozenset[str] = frozenset({Role.CITIZEN, Role.OFFICER})
# The owner, or the agency's staff filing for a resident at a counter.
COUNTER_FILERS: frozenset[str] = frozenset({Role.CITIZEN, Role.OFFICER, Role.AGENCY_ADMIN})
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# What a canonical path never holds: "//", a backslash, a "." or ".." segment (also with a
# ";parameter", which some stacks strip before resolving), control characters. A path with
# any of them is no route's, whatever a service would make of it.
_NOT_CANONICAL = re.compile(r"//|\\|/\.\.?(?:/|;|\Z)|[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Route:
    """A public path pattern, the service behind it and the edge's rules for it.

    ``pattern`` is a path with ``{name}`` for one segment; a trailing ``/**`` also matches the
    path itself and everything below it. ``methods`` None means every method. The first route
    that matches path and method wins, so specific routes come first.

    ``roles``: with ``Auth.TOKEN``, the caller needs one of them (empty: any valid token);
    ``agency_clients`` also lets agency-system tokens in (they carry scopes and no user role);
    ``mfa_enrolment`` lets in staff tokens that are only good for enrolling TOTP.
    The edge checks are coarse; each service still authorises every object it returns.
    """

    pattern: str
    service: str
    methods: frozenset[str] | None = None
    auth: Auth = Auth.PUBLIC
    roles: frozenset[str] = frozenset()
    agency_clients: bool = False
    mfa_enrolment: bool = False
    limit: str = "default"
    body: Body = Body.JSON
    # Long-lived responses (Server-Sent Events): no limit on silence between chunks.
    stream: bool = False

    def regex(self) -> str:
        pattern = self.pattern
        tail = ""
        if pattern.endswith("/**"):
            pattern, tail = pattern[:-3], "(?:/.*)?"
        body = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(pattern))
        return f"{body}{tail}"

    def admits(self, principal: Principal) -> bool:
        """Whether the edge lets this (already authenticated) principal through."""
        if not self.roles or principal.has_role(*self.roles):
            return True
        return self.agency_clients and not principal.roles and principal.agency_id is not None


ROUTES: tuple[Route, ...] = (
    # identity-service
    Route("/.well-known/openid-configuration", "identity", READ),
    Route("/oauth2/jwks", "identity", READ),
    Route("/oauth2/token", "identity", POST, Auth.SERVICE, limit="token"),
    Route("/oauth2/authorize", "identity", POST, Auth.SERVICE, limit="login"),
    Route("/oauth2/userinfo", "identity", auth=Auth.TOKEN),
    Route("/oauth2/**", "identity", auth=Auth.SERVICE),
    Route("/api/v1/auth/login", "identity", POST, limit="login"),
    Route("/api/v1/auth/logout", "identity", POST, Auth.TOKEN, mfa_enrolment=True),
    Route("/api/v1/citizens", "identity", POST, limit="registration"),
    Route("/api/v1/me/mfa/**", "identity", POST, Auth.TOKEN, STAFF, mfa_enrolment=True),
    Route("/api/v1/me/face-verification", "identity", POST, Auth.TOKEN, CITIZEN, body=Body.UPLOAD),
    Route("/api/v1/me/consents/**", "identity", auth=Auth.TOKEN, roles=CITIZEN),
    Route("/api/v1/me/access-log", "identity", READ, Auth.TOKEN, CITIZEN),
    Route("/api/v1/me/**", "identity", auth=Auth.TOKEN, roles=USERS),
    Route("/api/v1/staff/**", "identity", auth=Auth.TOKEN, roles=ADMINS),
    Route("/api/v1/clients/**", "identity", auth=Auth.TOKEN, roles=PLATFORM_ADMIN),
    Route("/api/v1/admin/**", "identity", auth=Auth.TOKEN, roles=PLATFORM_ADMIN),
    Route("/api/v1/counter/verifications", "identity", POST, Auth.TOKEN, AGENCY_STAFF),
    # catalog-service: reading the catalogue is public, writing it takes an admin
    Route("/api/v1/regions/**", "catalog", READ),
    Route("/api/v1/regions/**", "catalog", auth=Auth.TOKEN, roles=PLATFORM_ADMIN),
    Route("/api/v1/agencies/**", "catalog", READ),
    Route("/api/v1/agencies/**", "catalog", auth=Auth.TOKEN, roles=PLATFORM_ADMIN),
    Route("/api/v1/locations/**", "catalog", READ),
    Route("/api/v1/locations/**", "catalog", auth=Auth.TOKEN, roles=ADMINS),
    Route("/api/v1/services/**", "catalog", READ),
    Route("/api/v1/services/**", "catalog", auth=Auth.TOKEN, roles=ADMINS),
    # tracking-service: its read models below an application come before application-service
    Route(
        "/api/v1/applications/{id}/timeline",
        "tracking",
        READ,
        Auth.TOKEN,
        USERS,
        agency_clients=True,
    ),
    Route("/api/v1/applications/{id}/survey", "tracking", auth=Auth.TOKEN, roles=CITIZEN),
    Route("/api/v1/tracking/**", "tracking", READ, limit="tracking"),
    Route("/api/v1/notifications/**", "tracking", auth=Auth.TOKEN, roles=USERS),
    Route("/api/v1/events/stream", "tracking", READ, Auth.TOKEN, USERS, stream=True),
    Route("/api/v1/webhooks/**", "tracking", auth=Auth.TOKEN, roles=ADMINS, agency_clients=True),
    Route("/api/v1/reports/**", "tracking", READ, Auth.TOKEN, ADMINS),
    # application-service
    # Staff of the agency complete an application filed at a counter in the resident's place.
    Route(
        "/api/v1/applications/{id}/documents",
        "application",
        POST,
        Auth.TOKEN,
        COUNTER_FILERS,
        body=Body.UPLOAD,
    ),
    Route("/api/v1/applications", "application", auth=Auth.TOKEN, roles=CITIZEN),
    Route("/api/v1/applications/{id}/submit", "application", POST, Auth.TOKEN, COUNTER_FILERS),
    Route("/api/v1/applications/{id}/withdraw", "application", POST, Auth.TOKEN, CITIZEN),
    Route(
        "/api/v1/applications/**",
        "application",
        auth=Auth.TOKEN,
        roles=USERS,
        agency_clients=True,
    ),
    # complete may attach the output document (the permit, the certificate): an upload.
    Route(
        "/api/v1/agency/applications/{id}/actions",
        "application",
        POST,
        Auth.TOKEN,
        AGENCY_STAFF,
        agency_clients=True,
        body=Body.UPLOAD,
    ),
    Route(
        "/api/v1/agency/applications/**",
        "application",
        auth=Auth.TOKEN,
        roles=AGENCY_STAFF,
        agency_clients=True,
    ),
    # application-service: counter bookings (antrean) and the public queue board
    Route("/api/v1/bookings/slots", "application", READ),
    Route("/api/v1/bookings/{id}/check-in", "application", POST, Auth.TOKEN, COUNTER_VISITORS),
    Route("/api/v1/bookings/**", "application", auth=Auth.TOKEN, roles=USERS),
    Route("/api/v1/queues/**", "application", READ),
    Route("/api/v1/agency/locations/**", "application", POST, Auth.TOKEN, AGENCY_STAFF),
    Route("/api/v1/agency/bookings/**", "application", POST, Auth.TOKEN, AGENCY_STAFF),
    # application-service: complaints and consultations (anonymous cases too)
    Route("/api/v1/complaints/track/**", "application", limit="tracking"),
    Route("/api/v1/complaints", "application", POST, limit="registration"),
    # One case: its complainant, or the staff of its agency (the service tells them apart).
    Route("/api/v1/complaints/{id}", "application", READ, Auth.TOKEN, CITIZEN | AGENCY_STAFF),
    Route("/api/v1/complaints/**", "application", auth=Auth.TOKEN, roles=CITIZEN),
    Route("/api/v1/agency/complaints/**", "application", auth=Auth.TOKEN, roles=AGENCY_STAFF),
    Route("/api/v1/agency/complaint-settings", "application", auth=Auth.TOKEN, roles=AGENCY_STAFF),
)


class RoutingTable:
    """Finds the route of a request with one precompiled regex per method.

    Each method's regex is the alternation of the routes that accept the method, in table
    order; the name of the group that matched says which route it was.
    """

    def __init__(self, routes: Iterable[Route] = ROUTES) -> None:
        self.routes: tuple[Route, ...] = tuple(routes)
        self._by_method = {method: self._compile(method) for method in _METHODS}
        self._other = self._compile(None)

    def _compile(self, method: str | None) -> tuple[re.Pattern[str], dict[str, Route]]:
        names: dict[str, Route] = {}
        branches: list[str] = []
        for index, route in enumerate(self.routes):
            if route.methods is not None and method not in route.methods:
                continue
            name = f"r{index}"
            names[name] = route
            branches.append(f"(?P<{name}>{route.regex()})")
        if not branches:
            return re.compile(r"(?!)"), names
        return re.compile("(?:" + "|".join(branches) + r")\Z"), names

    def match(self, method: str, path: str) -> Route | None:
        """The route of a decoded, canonical path (None for any other: not public)."""
        if _NOT_CANONICAL.search(path) is not None:
            return None
        regex, names = self._by_method.get(method) or self._other
        found = regex.match(path)
        if found is None or found.lastgroup is None:
            return None
        return names[found.lastgroup]

    def services(self) -> frozenset[str]:
        return frozenset(route.service for route in self.routes)
