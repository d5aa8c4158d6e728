"""The long-lived parts of a running identity service, built once from the settings: the
service's own runtime (``ServiceRuntime.state``), which its dependencies read typed."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from identity.config import IdentitySettings
from identity.domain.accounts import LoginPolicies, RegistrationLimits
from identity.domain.crypto import FormSigner, SecretBox, derive_key
from identity.domain.keys import KeyCache
from identity.domain.passwords import PasswordHasher
from identity.domain.throttle import AttemptPolicy, DelayPolicy, FailurePolicy
from identity.domain.tokens import Issuer, TokenLifetimes
from identity.dukcapil.registry import PopulationRegistry

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Components:
    settings: IdentitySettings
    hasher: PasswordHasher
    key_box: SecretBox
    totp_box: SecretBox
    form_signer: FormSigner
    key_cache: KeyCache
    issuer: Issuer
    login_policies: LoginPolicies
    registration_limits: RegistrationLimits
    face_attempts: AttemptPolicy
    trusted_proxies: tuple[IpNetwork, ...]
    idempotency_box: SecretBox
    idempotency_key: bytes
    registry: PopulationRegistry | None = None

    def population_registry(self) -> PopulationRegistry:
        if self.registry is None:
            raise RuntimeError("the population registry is not wired yet")
        return self.registry


def build_components(settings: IdentitySettings) -> Components:
    secret = settings.key_encryption_secret.get_secret_value().encode()
    key_box = SecretBox(secret, purpose="signing-keys/v1")
    window = timedelta(seconds=settings.login_window_seconds)
    lock = timedelta(seconds=settings.login_lock_seconds)
    return Components(
        settings=settings,
        hasher=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        ),
        key_box=key_box,
        totp_box=SecretBox(secret, purpose="totp-secrets/v1"),
        form_signer=FormSigner(secret, purpose="login-form/v1"),
        key_cache=KeyCache(key_box),
        issuer=Issuer(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            lifetimes=TokenLifetimes(
                access=timedelta(seconds=settings.access_token_ttl_seconds),
                id_token=timedelta(seconds=settings.id_token_ttl_seconds),
                refresh=timedelta(seconds=settings.refresh_token_ttl_seconds),
                code=timedelta(seconds=settings.authorization_code_ttl_seconds),
            ),
        ),
        login_policies=LoginPolicies(
            per_pair=FailurePolicy(
                window=window,
                slow_after=settings.login_pair_slow_after,
                lock_after=settings.login_pair_lock_after,
                base_delay=settings.login_slowdown_base_seconds,
                max_delay=settings.login_slowdown_max_seconds,
                lock=lock,
            ),
            per_ip=FailurePolicy(
                window=window,
                slow_after=settings.login_ip_slow_after,
                lock_after=settings.login_ip_lock_after,
                base_delay=settings.login_slowdown_base_seconds,
                max_delay=settings.login_slowdown_max_seconds,
                lock=lock,
            ),
            per_account=DelayPolicy(
                window=window,
                slow_after=settings.login_account_slow_after,
                base_delay=settings.login_slowdown_base_seconds,
                max_delay=settings.login_account_max_delay_seconds,
            ),
        ),
        registration_limits=RegistrationLimits(
            per_nik=AttemptPolicy(
                window=timedelta(seconds=settings.registration_window_seconds),
                limit=settings.registration_per_nik,
            ),
            per_ip=AttemptPolicy(
                window=timedelta(seconds=settings.registration_window_seconds),
                limit=settings.registration_per_ip,
            ),
            password_min_length=settings.password_min_length,
        ),
        face_attempts=AttemptPolicy(
            window=timedelta(days=1), limit=settings.face_verification_per_day
        ),
        idempotency_box=SecretBox(secret, purpose="idempotency/v1"),
        idempotency_key=derive_key(secret, purpose="idempotency-fingerprint/v1"),
        trusted_proxies=tuple(
            ipaddress.ip_network(network, strict=False) for network in settings.trusted_proxies
        ),
    )
