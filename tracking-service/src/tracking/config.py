"""Settings of the tracking service, from ``MPP_TRACKING_*`` environment variables."""

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings

# Outside production only: the development key of the webhook secrets' encryption.
DEVELOPMENT_WEBHOOK_SECRET_KEY = "mpp-development-webhook-key-not-for-production"  # noqa: S105


class TrackingSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_TRACKING_", extra="ignore", frozen=True)

    service_name: str = "tracking"
    port: int = 8084
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_tracking"

    # The durable consumers of application and catalogue events. Off only for a replica that
    # should serve HTTP and live streams alone (tests of the cross-replica fan-out).
    run_consumers: bool = True
    # A fetch of the timeline's, reports' and webhooks' consumers that comes back short waits
    # this long once for more events to share its transaction (0: handle it at once). Events
    # that come one at a time then cost fewer transactions, each seen live and in the timeline
    # that much later, at most about twice this; a backlog fills its batches without waiting.
    consumer_linger_seconds: float = Field(default=0.02, ge=0, le=1)

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
    # A leased message is due again after this (its sender died mid-send); over twice the
    # SMTP timeout, so that a live send records its outcome first.
    delivery_lease_seconds: float = Field(default=120.0, gt=0)
    delivery_concurrency: int = Field(default=8, ge=1)  # sends in flight per replica

    # -- agency webhooks ---------------------------------------------------------------------
    # Receivers on private, loopback or link-local addresses (local development, the tests).
    # One variable for the whole platform, without the service prefix.
    webhook_allow_private: bool = Field(
        default=False,
        validation_alias=AliasChoices("webhook_allow_private", "MPP_WEBHOOK_ALLOW_PRIVATE"),
    )
    # Encrypts the subscriptions' signing secrets at rest; production refuses to run without.
    webhook_secret_key: SecretStr | None = Field(default=None, repr=False)
    # Off: this replica queues deliveries but leaves sending them to the others.
    webhook_deliveries_enabled: bool = True
    webhook_connect_timeout_seconds: float = 3.0
    webhook_timeout_seconds: float = 10.0
    webhook_response_bytes: int = 4096
    webhook_concurrency: int = 32  # attempts in flight per replica
    webhook_per_receiver_concurrency: int = 2  # of them to one subscription
    webhook_poll_seconds: float = 1.0
    webhook_lease_seconds: float = 120.0
    webhook_backoff_base_seconds: float = 30.0
    webhook_backoff_cap_seconds: float = 6 * 3600.0
    webhook_max_attempts: int = 15
    webhook_disable_after_failures: int = 50
    webhook_disable_after_seconds: float = 24 * 3600.0

    # -- reports -----------------------------------------------------------------------------
    # The local time of the reports' months and of working days (WIB unless told).
    report_timezone: str = "Asia/Jakarta"
    # A report's answer is kept this long per (agency, service, months) and says when its
    # figures were read (``as_of``); this replica's own changes drop it at once. 0: never kept.
    report_cache_seconds: float = Field(default=10.0, ge=0)
    report_cache_entries: int = Field(default=512, ge=1)

    @model_validator(mode="after")
    def _webhook_key_fit_for_environment(self) -> "TrackingSettings":
        if self.environment == "production" and self.webhook_secret_key is None:
            raise ValueError("production needs MPP_TRACKING_WEBHOOK_SECRET_KEY")
        if self.webhook_timeout_seconds > self.webhook_lease_seconds / 2:
            raise ValueError("webhook_lease_seconds must exceed twice the delivery timeout")
        if self.smtp_timeout_seconds > self.delivery_lease_seconds / 2:
            raise ValueError("delivery_lease_seconds must exceed twice the SMTP timeout")
        return self

    @property
    def webhook_secret_key_value(self) -> str:
        if self.webhook_secret_key is None:
            return DEVELOPMENT_WEBHOOK_SECRET_KEY
        return self.webhook_secret_key.get_secret_value()
