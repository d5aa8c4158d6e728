"""Settings of the gateway, from ``MPP_GATEWAY_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict

from mpp_shared.auth.internal import check_internal_secret
from mpp_shared.config import BaseServiceSettings

MIB = 1024 * 1024


class RateLimit(BaseModel):
    """Requests allowed per sliding window, per client IP and per account (token subject)."""

    model_config = {"frozen": True}

    per_ip: int | None = Field(default=None, ge=1)
    per_account: int | None = Field(default=None, ge=1)
    window_seconds: int = Field(default=60, ge=1, le=3600)


# Per-IP limits stay generous outside login and registration: many Indonesian mobile users
# share one carrier-grade NAT address.
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "default": RateLimit(per_ip=1200, per_account=600),
    "login": RateLimit(per_ip=20),
    "registration": RateLimit(per_ip=10),
    "token": RateLimit(per_ip=120),
    "tracking": RateLimit(per_ip=60),
}


class GatewaySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="MPP_GATEWAY_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "gateway"
    port: int = 8080

    # Each a base URL, or several separated by commas: the replicas of that service, between
    # which the gateway balances (a replica that cannot be reached is skipped).
    identity_url: str = "http://127.0.0.1:8081"
    catalog_url: str = "http://127.0.0.1:8082"
    application_url: str = "http://127.0.0.1:8083"
    tracking_url: str = "http://127.0.0.1:8084"

    upstream_connect_timeout_seconds: float = 2.0
    # Longest wait for an upstream's response head, and longest silence inside a response body
    # (streaming routes such as SSE have no silence limit).
    upstream_timeout_seconds: float = 30.0
    # Below uvicorn's keep-alive (5 s), so the gateway drops an idle connection first.
    upstream_idle_seconds: float = 4.0
    upstream_max_idle_connections: int = 256
    # A failed connect is tried again (nothing was sent yet) after a short, growing backoff.
    upstream_connect_attempts: int = Field(default=3, ge=1, le=10)
    upstream_connect_backoff_seconds: float = Field(default=0.05, ge=0)
    # After this many requests in a row found a service unreachable, answer 503 at once for
    # upstream_retry_after_seconds (one dead replica behind a Service address does not trip it).
    upstream_failure_threshold: int = Field(default=5, ge=1)
    upstream_retry_after_seconds: float = 1.0
    # Open connections per service at most; callers beyond wait first come, first served,
    # up to upstream_queue_size of them for upstream_queue_timeout_seconds each, else 503.
    upstream_max_connections: int = Field(default=512, ge=1)
    upstream_queue_size: int = Field(default=1024, ge=0)
    upstream_queue_timeout_seconds: float = Field(default=5.0, gt=0)
    upstream_busy_retry_after_seconds: int = Field(default=1, ge=1)

    # Bounds on what a caller may send (enforced by the server protocol, gateway.server).
    max_request_line_bytes: int = Field(default=8 * 1024, ge=256)  # else 414
    max_header_line_bytes: int = Field(default=16 * 1024, ge=256)  # one header; else 431
    max_head_bytes: int = Field(default=64 * 1024, ge=1024)  # all headers; else 431
    max_headers: int = Field(default=100, ge=8)  # else 431
    # From a connection's first byte (or the end of its last request) to a complete request
    # head (else 408); between two pieces of a request body (else 408).
    client_head_timeout_seconds: float = Field(default=10.0, gt=0)
    client_body_timeout_seconds: float = Field(default=30.0, gt=0)
    # After an answer sent before the request body was all received, its rest is read and
    # thrown away for this long at most (so the caller reads the answer, not a reset).
    client_linger_seconds: float = Field(default=10.0, gt=0)
    # Longest wait for a caller to take the next piece of a streamed response.
    client_send_timeout_seconds: float = Field(default=60.0, gt=0)
    # Idle keep-alive connections of callers are closed after this long.
    client_keep_alive_seconds: float = Field(default=5.0, gt=0)

    # Shared by the gateway and the services (the HMAC key of X-MPP-Principal). One variable
    # for every process: MPP_INTERNAL_SECRET; MPP_GATEWAY_INTERNAL_SECRET is also read.
    internal_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MPP_INTERNAL_SECRET", "MPP_GATEWAY_INTERNAL_SECRET"),
        repr=False,
    )

    jwks_cache_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 10.0
    jwt_leeway_seconds: float = 30.0
    # Verified tokens kept by the gateway (never past their expiry).
    token_cache_size: int = 16384
    # Until the signing keys, every service's OpenAPI document and the revocations are in,
    # the gateway retries after a backoff from 0.2 s doubling up to this.
    startup_retry_max_seconds: float = Field(default=1.0, gt=0)

    # "nats": refuse revoked tokens, following identity's revocation events in the stream
    # ``events_stream`` over ``nats_url``; "off": only for a gateway without NATS (tests).
    revocations: Literal["nats", "off"] = "nats"
    # How far back a starting replica replays revocations: longer than the longest access-token
    # lifetime (identity's MPP_IDENTITY_ACCESS_TOKEN_TTL_SECONDS, 900) plus a margin.
    revocation_replay_seconds: float = Field(default=1200.0, gt=0)

    rate_limit_enabled: bool = True
    rate_limits: dict[str, RateLimit] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # "nats": counters shared by every replica over NATS (``nats_url``), each replica counting
    # alone while NATS is away; "local": this replica alone.
    rate_limit_sync: Literal["nats", "local"] = "nats"
    rate_limit_sync_interval_seconds: float = 0.1
    rate_limit_max_keys: int = 200_000
    # Reverse proxies in front of the gateway whose X-Forwarded-For is believed (CIDRs).
    trusted_proxies: list[str] = Field(default_factory=list)

    max_body_bytes: int = 1 * MIB
    max_upload_bytes: int = 64 * MIB

    cors_origins: list[str] = Field(default_factory=list)
    cors_max_age_seconds: int = 600
    # 0 leaves Strict-Transport-Security out (plain HTTP in development).
    hsts_seconds: int = 0

    # The gateway's own Prometheus /metrics, on an internal port apart from the public one
    # (default: the public port + 1000), on 127.0.0.1 unless told otherwise; 0 turns it off.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    openapi_refresh_seconds: float = 60.0
    access_log: bool = True

    @model_validator(mode="after")
    def _secrets_and_limits(self) -> GatewaySettings:
        check_internal_secret(self.internal_secret, environment=self.environment)
        if "default" not in self.rate_limits:
            raise ValueError("rate_limits needs a 'default' class")
        self.upstream_replicas()
        return self

    @property
    def principal_secret(self) -> str:
        return check_internal_secret(self.internal_secret, environment=self.environment)

    @property
    def metrics_listen_port(self) -> int | None:
        """The internal metrics port in force, None when turned off."""
        if self.metrics_port is None:
            return self.port + 1000 if self.port + 1000 <= 65535 else None
        return self.metrics_port or None

    def upstream_replicas(self) -> dict[str, tuple[str, ...]]:
        """Every replica's base URL, by service, in the order configured."""
        configured = {
            "identity": self.identity_url,
            "catalog": self.catalog_url,
            "application": self.application_url,
            "tracking": self.tracking_url,
        }
        return {name: _replica_urls(name, value) for name, value in configured.items()}

    def upstreams(self) -> dict[str, str]:
        """The first replica's base URL, by service."""
        return {name: urls[0] for name, urls in self.upstream_replicas().items()}

    def rate_limit(self, name: str) -> RateLimit:
        return self.rate_limits.get(name) or self.rate_limits["default"]


def _replica_urls(service: str, value: str) -> tuple[str, ...]:
    urls = tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
    if not urls:
        raise ValueError(f"no URL for the {service} service")
    if len(set(urls)) != len(urls):
        raise ValueError(f"the {service} service's URLs name one replica twice")
    return urls
