"""The routing table: which service answers which public path (../shared/API.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    """A public path pattern and the service behind it.

    ``pattern`` is a path with ``{name}`` for one segment; a trailing ``/**`` also matches
    everything below. The first route that matches wins, so specific routes come first.
    """

    pattern: str
    service: str

    def compile(self) -> re.Pattern[str]:
        pattern = self.pattern
        tail = ""
        if pattern.endswith("/**"):
            pattern, tail = pattern[:-3], "(?:/.*)?"
        body = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(pattern))
        return re.compile(f"^{body}{tail}$")


ROUTES: tuple[Route, ...] = (
    # identity-service
    Route("/.well-known/openid-configuration", "identity"),
    Route("/oauth2/**", "identity"),
    Route("/api/v1/auth/**", "identity"),
    Route("/api/v1/citizens/**", "identity"),
    Route("/api/v1/me/**", "identity"),
    Route("/api/v1/staff/**", "identity"),
    Route("/api/v1/clients/**", "identity"),
    # catalog-service
    Route("/api/v1/regions/**", "catalog"),
    Route("/api/v1/agencies/**", "catalog"),
    Route("/api/v1/locations/**", "catalog"),
    Route("/api/v1/services/**", "catalog"),
    # tracking-service: read models that hang below an application come before the
    # application-service's prefix.
    Route("/api/v1/applications/{id}/timeline", "tracking"),
    Route("/api/v1/applications/{id}/survey", "tracking"),
    Route("/api/v1/tracking/**", "tracking"),
    Route("/api/v1/notifications/**", "tracking"),
    Route("/api/v1/events/stream", "tracking"),
    Route("/api/v1/webhooks/**", "tracking"),
    Route("/api/v1/reports/**", "tracking"),
    # application-service
    Route("/api/v1/applications/**", "application"),
    Route("/api/v1/agency/applications/**", "application"),
)


class RoutingTable:
    def __init__(self, routes: tuple[Route, ...] = ROUTES) -> None:
        self._compiled = [(route.compile(), route) for route in routes]

    def match(self, path: str) -> Route | None:
        for regex, route in self._compiled:
            if regex.match(path):
                return route
        return None
