"""What the identity service does when it starts, in production too: registry, keys, admin,
the verifier of its own tokens."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from identity.components import Components
from identity.config import IdentitySettings
from identity.db.repositories import AccountRepository, SigningKeyRepository
from identity.domain.accounts import ensure_bootstrap_admin
from identity.domain.signing import ensure_signing_key, jwks
from identity.dukcapil.mock import MockDukcapil
from identity.dukcapil.population import seed_population
from mpp_shared.app import ServiceRuntime
from mpp_shared.auth import JwksClient, TokenVerifier

log = logging.getLogger(__name__)

# The verifier of the service's own tokens asks this URL; nothing listens there, the key
# store answers in-process.
# Names the key store in logs; nothing is fetched from it.
LOCAL_JWKS_URL = "local:identity-signing-keys"


def components_of(runtime: ServiceRuntime) -> Components:
    return runtime.state_as(Components)


async def wire_registry(runtime: ServiceRuntime) -> None:
    """The mock Dukcapil behind the ``PopulationRegistry`` interface, with its population."""
    components = components_of(runtime)
    settings = components.settings
    sessionmaker = runtime.session_factory()
    # The synthetic population is generated once (later calls only add dataset residents).
    await seed_population(
        sessionmaker,
        size=settings.dukcapil_population_size,
        seed=settings.dukcapil_population_seed,
        dataset=settings.dukcapil_mock_dataset,
    )
    components.registry = MockDukcapil(sessionmaker, daily_quota=settings.dukcapil_daily_quota)


async def prepare_keys_and_admin(runtime: ServiceRuntime) -> None:
    """A signing key and the bootstrap platform admin."""
    components = components_of(runtime)
    settings = components.settings
    async with runtime.session_factory()() as session, session.begin():
        await ensure_signing_key(
            keys=SigningKeyRepository(session), box=components.key_box, now=datetime.now(UTC)
        )
        if settings.bootstrap_admin_email and settings.bootstrap_admin_password:
            admin = await ensure_bootstrap_admin(
                email=settings.bootstrap_admin_email,
                password=settings.bootstrap_admin_password.get_secret_value(),
                accounts=AccountRepository(session),
                hasher=components.hasher,
            )
            if admin is not None:
                log.info("bootstrap platform admin created", extra={"account_id": str(admin.id)})


def local_token_verifier(runtime: ServiceRuntime, settings: IdentitySettings) -> TokenVerifier:
    """Verifies this service's own tokens against its key store, without a network hop."""

    async def load_jwks() -> dict[str, Any]:
        async with runtime.session_factory()() as session:
            return await jwks(
                keys=SigningKeyRepository(session),
                publish_retired_for=timedelta(seconds=settings.retired_key_publish_seconds),
                now=datetime.now(UTC),
            )

    # A rotated key is found at once: asking the local store again costs one query.
    client = JwksClient(LOCAL_JWKS_URL, source=load_jwks, cache_seconds=60, min_refresh_interval=0)
    return TokenVerifier(client, issuer=settings.jwt_issuer, audience=settings.jwt_audience)


async def install_local_verifier(runtime: ServiceRuntime) -> None:
    settings = components_of(runtime).settings
    runtime.token_verifier = local_token_verifier(runtime, settings)


async def close_local_verifier(runtime: ServiceRuntime) -> None:
    runtime.token_verifier = None
