"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def asyncpg_url(url: str) -> str:
    """The SQLAlchemy URL with the asyncpg driver: operators paste plain postgres:// URLs."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    return url


class BaseServiceSettings(BaseSettings):
    """Read from the environment (prefix per service, e.g. ``MPP_CATALOG_``) when built.

    Settings are built in ``create_app`` or the service's ``__main__``, never at import time.
    """

    model_config = SettingsConfigDict(env_prefix="MPP_", extra="ignore", frozen=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:55432/mpp",
        description="SQLAlchemy URL of the service's own database (asyncpg driver).",
    )
    # Connections of the service's pool (opened as needed, then kept); a request beyond them
    # waits its turn, first come, first served.
    database_pool_size: int = Field(default=20, ge=1)
    # A request waits at most this long for a connection (first come, first served), then is
    # answered 503 with Retry-After: below the gateway's upstream timeout (30 s).
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # A pooled connection idle this long is tested (a round trip) before use; one that
    # answered more recently is trusted (0: test every checkout).
    database_pool_ping_after_idle_seconds: float = Field(default=5.0, ge=0)
    run_migrations: bool = True
    # Load the demo data of the README on start (idempotent); `make run` turns it on.
    seed_demo_data: bool = False

    nats_url: str = "nats://127.0.0.1:54222"
    events_stream: str = "MPP"
    events_duplicate_window_seconds: float = 120.0

    # Public URL of the gateway: the issuer of tokens and the base of links in responses.
    public_url: str = "http://127.0.0.1:8080"
    jwks_url: str = "http://127.0.0.1:8081/oauth2/jwks"
    jwt_audience: str = "mpp"
    # The HMAC key of the principal headers the gateway signs (mpp_shared.auth.internal). One
    # variable for every process, without a service prefix.
    internal_secret: str | None = Field(
        default=None, validation_alias=AliasChoices("MPP_INTERNAL_SECRET"), repr=False
    )
    internal_principal_max_age_seconds: float = 30.0

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return asyncpg_url(value)

    @model_validator(mode="after")
    def _internal_secret_fit_for_environment(self) -> BaseServiceSettings:
        from mpp_shared.auth.internal import check_internal_secret

        check_internal_secret(self.internal_secret, environment=self.environment)
        return self

    @property
    def principal_secret(self) -> str:
        """The internal secret in force (a development default outside production)."""
        from mpp_shared.auth.internal import check_internal_secret

        return check_internal_secret(self.internal_secret, environment=self.environment)

    @property
    def jwt_issuer(self) -> str:
        return self.public_url.rstrip("/")
