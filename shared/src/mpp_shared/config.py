"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
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
    # The service's own NATS user (mpp_shared.events.permissions); production refuses to run
    # without one. ``make run`` generates the passwords.
    nats_user: str | None = None
    nats_password: SecretStr | None = Field(default=None, repr=False)
    # TLS to NATS: a tls:// URL or a CA file turns it on; a client certificate needs both files.
    nats_tls_ca_file: Path | None = None
    nats_tls_cert_file: Path | None = None
    nats_tls_key_file: Path | None = None
    events_stream: str = "MPP"
    events_duplicate_window_seconds: float = 120.0
    # How many servers of a JetStream cluster keep each of the project's streams (1 for a single
    # server; 3 for a three-node cluster, so that losing a node loses no event). One variable for
    # every process, without a service prefix: they all create and update the same streams.
    # (The field's own name is the second alias, so that code can pass it as an argument.)
    nats_stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        validation_alias=AliasChoices("MPP_NATS_STREAM_REPLICAS", "nats_stream_replicas"),
    )

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

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        for server in value.split(","):
            if not server.strip().startswith(("nats://", "tls://")):
                raise ValueError("NATS URLs start with nats:// or tls://")
        return value

    @model_validator(mode="after")
    def _internal_secret_fit_for_environment(self) -> BaseServiceSettings:
        from mpp_shared.auth.internal import check_internal_secret

        check_internal_secret(self.internal_secret, environment=self.environment)
        return self

    @model_validator(mode="after")
    def _nats_connection_fit_for_environment(self) -> BaseServiceSettings:
        if (self.nats_user is None) != (self.nats_password is None):
            raise ValueError("NATS_USER and NATS_PASSWORD go together")
        if self.environment == "production" and self.nats_user is None:
            raise ValueError("production needs the service's NATS_USER and NATS_PASSWORD")
        if (self.nats_tls_cert_file is None) != (self.nats_tls_key_file is None):
            raise ValueError("NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together")
        for name in ("nats_tls_ca_file", "nats_tls_cert_file", "nats_tls_key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name.upper()} {path} is not a file")
        return self

    @property
    def nats_tls(self) -> bool:
        return self.nats_tls_ca_file is not None or self.nats_url.lstrip().startswith("tls://")

    @property
    def principal_secret(self) -> str:
        """The internal secret in force (a development default outside production)."""
        from mpp_shared.auth.internal import check_internal_secret

        return check_internal_secret(self.internal_secret, environment=self.environment)

    @property
    def jwt_issuer(self) -> str:
        return self.public_url.rstrip("/")
