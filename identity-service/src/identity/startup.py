"""What the identity service does when it starts: registry, keys, admin, demo data, verifier."""

from __future__ import annotations

import csv
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from identity.components import Components
from identity.config import IdentitySettings
from identity.db.repositories import AccountRepository, SigningKeyRepository
from identity.domain.accounts import REGISTRY_CALLER, ensure_bootstrap_admin
from identity.domain.exceptions import AlreadyRegistered, EmailInUse
from identity.domain.models import Account
from identity.domain.profile import citizen_profile
from identity.domain.signing import ensure_signing_key, jwks
from identity.dukcapil.mock import MockDukcapil
from identity.dukcapil.population import seed_population
from mpp_shared.app import ServiceRuntime
from mpp_shared.auth import JwksClient, TokenVerifier
from mpp_shared.auth import Role as AuthRole

log = logging.getLogger(__name__)

SERVICE_ROOT = Path(__file__).resolve().parents[2]
DEMO_RESIDENTS = SERVICE_ROOT / "demo" / "residents.csv"
# The README lists these accounts; only with seed_demo_data (make run), never in production.
DEMO_CITIZEN_PASSWORD = "Warga#Dev2026"  # noqa: S105
DEMO_CITIZEN_ACCOUNTS = 2
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
    if settings.seed_demo_data and DEMO_RESIDENTS.exists():
        await seed_population(sessionmaker, size=0, dataset=DEMO_RESIDENTS)
    components.registry = MockDukcapil(sessionmaker, daily_quota=settings.dukcapil_daily_quota)


async def prepare_accounts_and_keys(runtime: ServiceRuntime) -> None:
    """A signing key, the bootstrap platform admin and, for `make run`, demo citizens."""
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
    if settings.seed_demo_data and settings.environment != "production":
        await seed_demo_citizens(runtime)


async def seed_demo_citizens(runtime: ServiceRuntime) -> None:
    """Accounts for the first demo residents (``warga1@mpp.local`` …), idempotent."""
    components = components_of(runtime)
    if not DEMO_RESIDENTS.exists():
        return
    with DEMO_RESIDENTS.open(newline="", encoding="utf-8") as handle:
        niks = [row["nik"] for row in csv.DictReader(handle)][:DEMO_CITIZEN_ACCOUNTS]
    registry = components.population_registry()
    for number, nik in enumerate(niks, start=1):
        async with runtime.session_factory()() as session, session.begin():
            accounts = AccountRepository(session)
            if await accounts.nik_registered(nik):
                continue
            resident = await registry.lookup(nik, caller=REGISTRY_CALLER)
            if resident is None:
                continue
            account = Account(
                id=uuid.uuid4(),
                role=AuthRole.CITIZEN,
                email=f"warga{number}@mpp.local",
                full_name=resident.full_name,
                password_hash=await components.hasher.hash(DEMO_CITIZEN_PASSWORD),
                phone=f"+62812000000{number:02d}",
                assurance_level=1,
                profile=citizen_profile(resident),
            )
            try:
                await accounts.add(account)
            except (AlreadyRegistered, EmailInUse):
                continue


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
