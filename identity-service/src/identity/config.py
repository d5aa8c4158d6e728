"""Settings of the identity service, from ``MPP_IDENTITY_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings
from mpp_shared.contracts.identity.v1 import DEVELOPMENT_RESIDENT_LINK_KEY

# Refused in production: whoever reads this file could decrypt the signing keys.
DEVELOPMENT_KEY_ENCRYPTION_SECRET = "development-only-key-encryption-secret-change-me"  # noqa: S105


class IdentitySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="MPP_IDENTITY_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "identity"
    port: int = 8081
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_identity"

    # Encrypts private signing keys and TOTP secrets at rest (AES-GCM, key derived by HKDF)
    # and signs the login form's CSRF token.
    key_encryption_secret: SecretStr = SecretStr(DEVELOPMENT_KEY_ENCRYPTION_SECRET)

    # The first platform admin; no prefix, as API.md and docker-compose name them.
    bootstrap_admin_email: str | None = Field(
        default=None, validation_alias=AliasChoices("MPP_BOOTSTRAP_ADMIN_EMAIL")
    )
    bootstrap_admin_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MPP_BOOTSTRAP_ADMIN_PASSWORD")
    )
    # Extra residents for the mock registry (API.md names the variable without a prefix).
    dukcapil_mock_dataset: Path | None = Field(
        default=None, validation_alias=AliasChoices("DUKCAPIL_MOCK_DATASET")
    )
    # Keys the resident link of counter applications (mpp_shared.contracts.identity.v1
    # .resident_key); application-service holds the same secret. No prefix: both read it.
    resident_link_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_RESIDENT_LINK_KEY),
        validation_alias=AliasChoices("MPP_RESIDENT_LINK_KEY", "resident_link_key"),
        repr=False,
    )
    dukcapil_population_size: int = 10_000
    dukcapil_population_seed: int = 2026
    dukcapil_daily_quota: int = 100_000

    # Tokens.
    access_token_ttl_seconds: int = 900
    id_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    authorization_code_ttl_seconds: int = 60
    login_form_ttl_seconds: int = 600
    # A retired signing key stays in the JWKS this long after rotation: past the lifetime of
    # every token it signed plus the verifiers' clock leeway and JWKS cache.
    retired_key_publish_seconds: int = 900 + 900 + 600

    # Password hashing (argon2id; OWASP's second recommended profile). Tests lower these.
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65_536
    argon2_parallelism: int = 4
    password_min_length: int = 10

    # The gateway's addresses or CIDRs (MPP_IDENTITY_TRUSTED_PROXIES, a JSON list): only a
    # request from one of them may name the caller's address in X-Forwarded-For. Anyone else's
    # header is ignored, since login and registration throttling count per address. The default
    # is loopback, where `make run` puts the gateway; docker-compose names the gateway's address.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")

    # Login throttling (the rule: identity.domain.accounts.authenticate, identity-service/
    # README.md). Per account and address: after `slow_after` failures in the window each
    # attempt waits base·2^(n-slow_after) seconds (at most `slowdown_max`), after `lock_after`
    # that address is locked out of that account for `lock_seconds`. Per address, for every
    # account: the same with the ip thresholds. Per account, from every address: after
    # `account_slow_after` failures each address waits its turn (at most
    # `account_max_delay_seconds`) before each attempt; an account is never locked.
    login_window_seconds: int = 900
    login_pair_slow_after: int = 3
    login_pair_lock_after: int = 10
    login_account_slow_after: int = 10
    login_account_max_delay_seconds: float = 30.0
    login_ip_slow_after: int = 20
    login_ip_lock_after: int = 100
    login_slowdown_base_seconds: float = 1.0
    login_slowdown_max_seconds: float = 60.0
    login_lock_seconds: int = 900

    # Registration attempts (every attempt counts, so the registry cannot be probed).
    registration_window_seconds: int = 3600
    registration_per_nik: int = 5
    registration_per_ip: int = 20
    # Face verification attempts per citizen per day.
    face_verification_per_day: int = 10
    selfie_max_bytes: int = 5 * 1024 * 1024

    # NATS request-reply subjects outside `mpp.>` and the queue group replicas share.
    rpc_queue_group: str = "identity"

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> IdentitySettings:
        if self.environment != "production":
            return self
        secret = self.key_encryption_secret.get_secret_value()
        if secret == DEVELOPMENT_KEY_ENCRYPTION_SECRET or len(secret) < 32:
            raise ValueError(
                "MPP_IDENTITY_KEY_ENCRYPTION_SECRET must be set to a secret of at least 32 "
                "characters in production"
            )
        link_key = self.resident_link_key.get_secret_value()
        if link_key == DEVELOPMENT_RESIDENT_LINK_KEY or len(link_key) < 32:
            raise ValueError(
                "MPP_RESIDENT_LINK_KEY must be set to a secret of at least 32 characters in "
                "production"
            )
        if self.bootstrap_admin_password is not None:
            password = self.bootstrap_admin_password.get_secret_value()
            if len(password) < self.password_min_length or password.startswith("change-me"):
                raise ValueError("MPP_BOOTSTRAP_ADMIN_PASSWORD is too weak for production")
        return self
