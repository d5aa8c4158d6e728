"""Gateway settings refuse unsafe production values; the access log keeps the shared format."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings
from mpp_shared.auth.internal import DEVELOPMENT_INTERNAL_SECRET
from mpp_shared.observability.accesslog import AccessLog


def test_production_refuses_the_development_internal_secret() -> None:
    with pytest.raises(ValidationError, match="internal secret"):
        GatewaySettings(environment="production")
    with pytest.raises(ValidationError, match="internal secret"):
        GatewaySettings(environment="production", internal_secret=DEVELOPMENT_INTERNAL_SECRET)

    settings = GatewaySettings(
        environment="production",
        internal_secret="p" * 40,
        nats_user="gateway",
        nats_password="n" * 40,
    )
    assert settings.principal_secret == "p" * 40


def test_development_uses_the_development_secret() -> None:
    assert (
        GatewaySettings(environment="development").principal_secret == DEVELOPMENT_INTERNAL_SECRET
    )


def test_the_one_internal_secret_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPP_INTERNAL_SECRET", "shared-by-every-process-0123456789")
    monkeypatch.setenv("MPP_GATEWAY_ENVIRONMENT", "production")
    monkeypatch.setenv("MPP_GATEWAY_NATS_USER", "gateway")
    monkeypatch.setenv("MPP_GATEWAY_NATS_PASSWORD", "n" * 40)

    assert GatewaySettings().principal_secret == "shared-by-every-process-0123456789"


def test_rate_limits_need_a_default_class() -> None:
    with pytest.raises(ValidationError, match="default"):
        GatewaySettings(rate_limits={"login": {"per_ip": 1}})


def test_access_lines_are_json_in_the_shared_format_with_personal_numbers_masked() -> None:
    stream = io.StringIO()
    log = AccessLog("gateway", stream=lambda: stream)
    logging.getLogger("mpp.access").setLevel(logging.INFO)

    log.record("GET", "/api/v1/x/3573014101900001", 200, 1.25, "rid-1", "a" * 32)
    log.record("POST", '/api/v1/"quoted"', 404, 0.5, "rid-2", "b" * 32)
    log.record("GET", "/api/v1/y/0812-3456-7890", 200, 0.5, "rid-3", "c" * 32)
    assert stream.getvalue() == ""  # buffered until flushed
    log.flush()

    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "3456" not in third["message"]
    assert first["message"] == "GET /api/v1/x/3573**********01 200"
    assert first["service"] == "gateway"
    assert first["logger"] == "mpp.access"
    assert first["level"] == "info"
    assert first["request_id"] == "rid-1"
    assert first["status"] == 200
    assert first["duration_ms"] == 1.25
    assert second["message"] == 'POST /api/v1/"quoted" 404'


def test_access_lines_follow_the_log_level() -> None:
    stream = io.StringIO()
    log = AccessLog("gateway", stream=lambda: stream)
    logger = logging.getLogger("mpp.access")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        log.record("GET", "/x", 200, 1.0, "rid", "t")
        log.flush()
    finally:
        logger.setLevel(level)

    assert stream.getvalue() == ""
