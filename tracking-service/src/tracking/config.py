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

    @model_validator(mode="after")
    def _webhook_key_fit_for_environment(self) -> "TrackingSettings":
        if self.environment == "production" and self.webhook_secret_key is None:
            raise ValueError("production needs MPP_TRACKING_WEBHOOK_SECRET_KEY")
        if self.webhook_timeout_seconds > self.webhook_lease_seconds / 2:
            raise ValueError("webhook_lease_seconds must exceed twice the delivery timeout")
        return self

    @property
    def webhook_secret_key_value(self) -> str:
        if self.webhook_secret_key is None:
            return DEVELOPMENT_WEBHOOK_SECRET_KEY
        return self.webhook_secret_key.get_secret_value()
