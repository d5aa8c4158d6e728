"""HttpMetrics: each request counted once under its labels, the labelled children reused."""

from __future__ import annotations

from prometheus_client import generate_latest

from mpp_shared.observability.metrics import HttpMetrics


def _sample(metrics: HttpMetrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_observations_are_counted_under_their_own_labels() -> None:
    metrics = HttpMetrics("identity")
    metrics.observe("GET", "/api/v1/me", 200, 0.002)
    metrics.observe("GET", "/api/v1/me", 200, 0.004)
    metrics.observe("GET", "/api/v1/me", 401, 0.001)
    metrics.observe("PATCH", "/api/v1/me", 200, 0.02)

    base = {"service": "identity", "route": "/api/v1/me"}
    assert _sample(metrics, "http_requests_total", {**base, "method": "GET", "status": "200"}) == 2
    assert _sample(metrics, "http_requests_total", {**base, "method": "GET", "status": "401"}) == 1
    assert (
        _sample(metrics, "http_requests_total", {**base, "method": "PATCH", "status": "200"}) == 1
    )
    assert (
        _sample(metrics, "http_requests_total", {**base, "method": "PATCH", "status": "401"})
        is None
    )
    # Latency per method and route, whatever the status: three GETs, one within 2.5 ms.
    get = {**base, "method": "GET"}
    assert _sample(metrics, "http_request_duration_seconds_count", get) == 3
    assert _sample(metrics, "http_request_duration_seconds_bucket", {**get, "le": "0.0025"}) == 2
    assert b'http_requests_total{method="GET"' in generate_latest(metrics.registry)


def test_two_apps_keep_their_own_counts() -> None:
    first, second = HttpMetrics("identity"), HttpMetrics("identity")
    first.observe("GET", "/healthz", 200, 0.001)

    labels = {"service": "identity", "method": "GET", "route": "/healthz", "status": "200"}
    assert _sample(first, "http_requests_total", labels) == 1
    assert _sample(second, "http_requests_total", labels) is None
