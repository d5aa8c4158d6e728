"""No route of the table reaches a service's operational endpoints, however the path is spelt.

A service resolves what the gateway forwards its own way: it percent-decodes, and a lenient
stack may resolve dot segments, merge "//" or ignore case. For every route pattern and every
trick, either the table refuses the path, or the path a service would make of it is still
below the route's own prefix and is no operational endpoint.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

import pytest

from gateway.routes import ROUTES, Route, RoutingTable

TABLE = RoutingTable()
OPERATIONAL = ("/metrics", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def _sample(route: Route) -> str:
    """A concrete path of the pattern (``{id}`` filled, ``/**`` dropped)."""
    pattern = route.pattern.removesuffix("/**")
    return re.sub(r"\{[a-z_]+\}", "x1", pattern)


def _tricks(base: str, target: str) -> list[str]:
    name = target.lstrip("/")
    depth = base.count("/")
    up = "../" * depth
    return [
        target,
        target.upper(),
        target.title(),
        target + "/",
        "/" + target,
        "//" + name,
        f"{base}/{up}{name}",
        f"{base}/../{name}",
        f"{base}/./../{name}",
        f"{base}/%2e%2e/{name}",
        f"{base}/%2E%2E/%2e%2e/{up}{name}",
        f"{base}/..%2f..%2f{name}",
        f"{base}%2f..%2f..%2f{name}",
        f"{base}/..%5c..%5c{name}",
        f"{base}/..\\..\\{name}",
        f"{base}//{up}{name}",
        f"{base}/.%2e/{up}{name}",
        f"{base};/../{name}",
        f"{base}/x1/..;/..;/{name}",
        f"{base}/{name}%00",
        f"{base}/{name}\x00",
        f"{base}/{name.upper()}",
        f"{base}/%2e%2e%2f{up}{name}",
    ]


def _as_a_service_might_see_it(path: str) -> str:
    decoded = unquote(unquote(path)).replace("\\", "/").replace(";", "")
    return posixpath.normpath(re.sub("/+", "/", decoded)).lower()


def _cases() -> list[tuple[Route, str]]:
    return [
        (route, trick)
        for route in ROUTES
        for target in OPERATIONAL
        for trick in _tricks(_sample(route), target)
    ]


@pytest.mark.parametrize("method", METHODS)
def test_no_route_pattern_can_reach_an_operational_endpoint(method: str) -> None:
    cases = _cases()
    assert len(cases) > 1000
    for route, trick in cases:
        # The gateway matches the decoded path (as the server hands it over).
        matched = TABLE.match(method, unquote(trick))
        if matched is None:
            continue
        resolved = _as_a_service_might_see_it(trick)
        assert not any(resolved.startswith(op) for op in OPERATIONAL), (route.pattern, trick)
        prefix = _sample(matched).lower()
        if matched.pattern.endswith("}"):  # a last {id} segment is whatever the caller wrote
            prefix = prefix.rsplit("/", 1)[0] + "/"
        assert resolved.startswith(prefix), (matched.pattern, trick, resolved)


def test_every_pattern_has_a_prefix_below_which_no_operational_endpoint_lies() -> None:
    for route in ROUTES:
        literal = route.pattern.split("{", 1)[0].removesuffix("/**")
        assert len(literal) > 1, route.pattern  # no route takes the whole root
        for op in OPERATIONAL:
            assert not op.startswith(literal), route.pattern
            assert not literal.startswith(op), route.pattern


@pytest.mark.parametrize(
    "path",
    ["/api/v1/me//x", "/api/v1/me/./x", "/api/v1/me/x/..", "/api/v1/me\\x", "/api/v1/me/\x00"],
)
def test_paths_that_are_not_canonical_have_no_route(path: str) -> None:
    assert TABLE.match("GET", path) is None
