"""Settings of the application service, from ``MPP_APPLICATION_*`` environment variables."""

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings
from mpp_shared.contracts.identity.v1 import DEVELOPMENT_RESIDENT_LINK_KEY


class ApplicationSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="MPP_APPLICATION_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "application"
    port: int = 8083
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_application"

    # Where documents go: ``file:<directory>`` (relative to the working directory; `make run`
    # starts the services in the repository, so the default is under .run/) or ``s3://...``.
    blob_store_url: str = "file:.run/blobs"
    # How long intake waits for identity-service's consent and prefill answers.
    identity_timeout_seconds: float = 3.0
    # How long one page of the catalogue snapshot may take.
    snapshot_timeout_seconds: float = 5.0
    # How often the SLA clock looks for applications that just became overdue.
    overdue_sweep_seconds: float = 60.0
    # The agency's output document (``complete``), any of PDF, PNG or JPEG.
    max_output_document_mb: float = 20.0
    # Form validators and published versions kept in memory (versions never change).
    validator_cache_size: int = 256
    # Connections of the pool that gives out registration serials (one statement each, in
    # autocommit, outside the submission's transaction).
    registration_serial_pool_size: int = Field(default=2, ge=1)
    # S3 credentials for an ``s3://`` store (both, or neither for the SDK's own chain).
    blob_store_access_key: SecretStr | None = Field(default=None, repr=False)
    blob_store_secret_key: SecretStr | None = Field(default=None, repr=False)
    # The largest document a citizen may upload, whatever a requirement says.
    max_document_mb: float = 50.0

    # Counter bookings (antrean).
    # How long catalog-service may take to answer about a location.
    catalog_timeout_seconds: float = 3.0
    booking_slot_minutes: int = Field(default=30, ge=5, le=240)
    # Visits one counter takes per slot.
    booking_capacity_per_counter: int = Field(default=2, ge=1, le=100)
    booking_horizon_days: int = Field(default=30, ge=0, le=366)
    booking_check_in_early_minutes: int = Field(default=60, ge=0, le=720)
    # A booking nobody checked in for becomes a no-show this long after its slot ended.
    booking_no_show_grace_minutes: int = Field(default=30, ge=0, le=720)
    # Online booking is refused after this many no-shows within the window.
    booking_no_show_limit: int = Field(default=3, ge=1)
    booking_no_show_window_days: int = Field(default=30, ge=1)
    # Local time of the day before the visit from which its reminder goes out ("HH:MM").
    booking_reminder_time: str = Field(default="08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # How often the booking clock sends reminders and marks unattended bookings no-show.
    booking_sweep_seconds: float = 60.0

    # Assisted filing at a counter: the secret shared with identity-service that keys the
    # NIK's hash an application waits on for its owner (no prefix: both services read it).
    resident_link_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_RESIDENT_LINK_KEY),
        validation_alias=AliasChoices("MPP_RESIDENT_LINK_KEY", "resident_link_key"),
        repr=False,
    )

    @model_validator(mode="after")
    def _no_default_link_key_in_production(self) -> "ApplicationSettings":
        key = self.resident_link_key.get_secret_value()
        if self.environment == "production" and (
            key == DEVELOPMENT_RESIDENT_LINK_KEY or len(key) < 32
        ):
            raise ValueError(
                "MPP_RESIDENT_LINK_KEY must be set to a secret of at least 32 characters in "
                "production"
            )
        return self
