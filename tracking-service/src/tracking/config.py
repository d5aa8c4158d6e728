"""Settings of the tracking service, from ``MPP_TRACKING_*`` environment variables."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings


class TrackingSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_TRACKING_", extra="ignore", frozen=True)

    service_name: str = "tracking"
    port: int = 8084
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_tracking"

    # The durable consumers of application and catalogue events. Off only for a replica that
    # should serve HTTP and live streams alone (tests of the cross-replica fan-out).
    run_consumers: bool = True

    # Public tracking: wrong codes for one registration number, from any address, allowed in
    # the window before every lookup of that number is 429 (brute force stays bounded).
    tracking_max_failures: int = Field(default=10, ge=1)
    tracking_failure_window_seconds: int = Field(default=3600, ge=1)

    # Server-Sent Events: a comment line this often keeps proxies and clients from timing out;
    # a client whose queue of undelivered events fills up, or that does not take one write
    # within the send timeout, is dropped (it reconnects with Last-Event-ID).
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    stream_queue_size: int = Field(default=256, ge=1)
    stream_send_timeout_seconds: float = Field(default=10.0, gt=0)
    # Events replayed at most for one Last-Event-ID (older gaps: the client reloads its list).
    stream_resume_limit: int = Field(default=1000, ge=1)

    # Email delivery of notifications over SMTP; without a host, outgoing messages stay in
    # the outbox table (status pending) for operators to see.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(default=None, repr=False)
    smtp_start_tls: bool = True
    smtp_sender: str = "MPP Digital <noreply@mpp.go.id>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # The delivery worker's poll interval and attempts before a message is marked failed.
    delivery_interval_seconds: float = Field(default=2.0, gt=0)
    delivery_max_attempts: int = Field(default=5, ge=1)
