"""Demo data for `make run` (``seed_demo_data``): the README's residents and citizen accounts."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

from identity.bootstrap import components_of
from identity.db.repositories import AccountRepository
from identity.domain.accounts import REGISTRY_CALLER
from identity.domain.exceptions import AlreadyRegistered, EmailInUse
from identity.domain.models import Account
from identity.domain.profile import citizen_profile
from identity.dukcapil.population import seed_population
from mpp_shared.app import ServiceRuntime
from mpp_shared.auth import Role as AuthRole

SERVICE_ROOT = Path(__file__).resolve().parents[2]
DEMO_RESIDENTS = SERVICE_ROOT / "demo" / "residents.csv"
# The README lists these accounts; only with seed_demo_data (make run), never in production.
DEMO_CITIZEN_PASSWORD = "Warga#Dev2026"  # noqa: S105
DEMO_CITIZEN_ACCOUNTS = 2


async def seed_demo_data(runtime: ServiceRuntime) -> None:
    """The demo residents in the mock registry and, outside production, their accounts."""
    settings = components_of(runtime).settings
    if not settings.seed_demo_data:
        return
    if DEMO_RESIDENTS.exists():
        await seed_population(runtime.session_factory(), size=0, dataset=DEMO_RESIDENTS)
    if settings.environment != "production":
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
