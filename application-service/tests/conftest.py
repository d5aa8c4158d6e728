"""Fixtures of the application-service tests: tokens, apps on fresh databases, the catalogue's
read copy, a fake identity-service answering on NATS as the identity user."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from application.config import ApplicationSettings
from application.db.repositories import CatalogCopyRepository
from application.main import create_app
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.contracts.catalog.v1 import ServicePublished
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.testing.client import app_client
from mpp_shared.testing.infrastructure import TestInfrastructure
from mpp_shared.testing.keys import SigningKey, new_signing_key

JWKS_URL = "http://identity.test/oauth2/jwks"
ISSUER = "http://gateway.test"
KID = "application-test-key"

FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["nik", "full_name", "reason"],
    "properties": {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
        "full_name": {"type": "string", "minLength": 1},
        "reason": {"type": "string", "enum": ["baru", "rusak", "hilang"]},
        "address": {
            "type": "object",
            "properties": {"village": {"type": "string"}, "street": {"type": "string"}},
        },
        "phone": {"type": "string"},
    },
}
VALID_FORM = {"nik": "6472011505900001", "full_name": "Budi Santoso", "reason": "baru"}


def service_payload(**overrides: Any) -> dict[str, Any]:
    """A ``ServicePublished`` payload (JSON form); every id fresh unless given."""
    payload: dict[str, Any] = {
        "service_id": str(uuid.uuid4()),
        "version": 1,
        "agency_id": str(uuid.uuid4()),
        "agency_name": "Dinas Kependudukan dan Pencatatan Sipil Kota Samarinda",
        "agency_region_code": "64.72",
        "agency_timezone": "Asia/Makassar",
        "region_codes": ["64.72"],
        "code": "ktp-el",
        "name": "Penerbitan KTP-el",
        "description": "Penerbitan KTP elektronik.",
        "category": "kependudukan",
        "keywords": ["ktp"],
        "requirements": [
            {
                "code": "kk",
                "name": "Kartu Keluarga",
                "mandatory": True,
                "accepted_types": ["application/pdf", "image/jpeg"],
                "max_size_mb": 1,
            },
            {
                "code": "foto",
                "name": "Pas foto",
                "mandatory": False,
                "accepted_types": ["image/jpeg", "image/png"],
                "max_size_mb": 1,
            },
        ],
        "procedure": ["Isi formulir.", "Verifikasi.", "Cetak."],
        "stages": [
            {"code": "verifikasi", "name": "Verifikasi berkas"},
            {"code": "cetak", "name": "Pencetakan"},
        ],
        "sla_working_days": 3,
        "fee": {"amount_idr": 0, "note": "Gratis"},
        "output": "KTP-el",
        "legal_basis": ["UU 24/2013"],
        "complaint_channel": "SP4N-LAPOR!",
        "channels": ["online", "counter"],
        "min_assurance_level": 1,
        "form_schema": copy.deepcopy(FORM),
        "prefill": {"nik": "nik", "full_name": "full_name", "address.village": "address.village"},
        "published_at": datetime.now(UTC).isoformat(),
    }
    payload.update(overrides)
    return payload


PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


@pytest.fixture(scope="session")
def application_signing_key() -> SigningKey:
    return new_signing_key(KID)


@pytest.fixture(scope="session")
def application_token(application_signing_key: SigningKey) -> Callable[..., dict[str, str]]:
    """``application_token(roles=[...], subject=..., agency_id=..., scope=..., ial=...)``."""

    def sign(
        *,
        roles: list[str],
        subject: str | None = None,
        agency_id: uuid.UUID | str | None = None,
        scope: str = "openid",
        ial: int = 1,
        client_id: str | None = None,
    ) -> dict[str, str]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": "mpp",
            "sub": subject or str(uuid.uuid4()),
            "iat": now,
            "exp": now + 600,
            "roles": roles,
            "scope": scope,
            "ial": ial,
        }
        if agency_id is not None:
            claims["agency_id"] = str(agency_id)
        if client_id is not None:
            claims["client_id"] = client_id
        return {"Authorization": f"Bearer {application_signing_key.sign(claims)}"}

    return sign


@dataclass
class Citizen:
    id: uuid.UUID
    headers: dict[str, str]


@pytest.fixture(scope="session")
def citizen(application_token: Callable[..., dict[str, str]]) -> Callable[..., Citizen]:
    def make(ial: int = 1) -> Citizen:
        account = uuid.uuid4()
        return Citizen(account, application_token(roles=["citizen"], subject=str(account), ial=ial))

    return make


@pytest.fixture(scope="session")
def application_app_client(
    infrastructure: TestInfrastructure,
    application_signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Any]:
    """``async with application_app_client(**settings) as client``: an app on a fresh DB."""
    jwks = application_signing_key.jwks

    @asynccontextmanager
    async def open_client(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        blobs = tmp_path_factory.mktemp("blobs")
        values: dict[str, Any] = {
            "database_url": infrastructure.create_database("application"),
            **infrastructure.nats_settings("application"),
            "environment": "test",
            "public_url": ISSUER,
            "jwks_url": JWKS_URL,
            "database_pool_size": 8,
            "blob_store_url": f"file://{blobs}",
            "identity_timeout_seconds": 1.0,
            "snapshot_timeout_seconds": 0.5,
            "overdue_sweep_seconds": 3600.0,
        }
        settings = ApplicationSettings(**{**values, **overrides})
        jwks_http = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
        )
        app = create_app(settings, jwks_http=jwks_http)
        try:
            async with app_client(app) as client:
                client.app = app  # type: ignore[attr-defined]
                client.blob_dir = blobs  # type: ignore[attr-defined]
                yield client
        finally:
            await jwks_http.aclose()

    return open_client


async def publish_service(client: httpx.AsyncClient, payload: dict[str, Any]) -> ServicePublished:
    """Put a published version into the app's read copy, as its consumer would."""
    published = ServicePublished.model_validate(payload)
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        await CatalogCopyRepository(session).remember_published(published, now=datetime.now(UTC))
    return published


async def retire_service(client: httpx.AsyncClient, service_id: str, version: int) -> None:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        await CatalogCopyRepository(session).remember_retired(
            uuid.UUID(service_id), version, now=datetime.now(UTC)
        )


@dataclass
class FakeIdentity:
    """identity-service's consent and prefill answers, from a profile per account."""

    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    consents: list[dict[str, Any]] = field(default_factory=list)
    prefills: list[dict[str, Any]] = field(default_factory=list)
    refuse: str | None = None
    silent: bool = False  # as if identity-service were down: no answer at all
    connection: Any = None
    consented_prefill: Any = None  # the subscription to CONSENTED_PREFILL_SUBJECT, if any

    async def answer_consented_prefill(self, answer: bool) -> None:
        """Whether the one-request subject is answered (an older identity-service is not)."""
        if answer and self.consented_prefill is None:
            self.consented_prefill = await self.connection.subscribe(
                identity.CONSENTED_PREFILL_SUBJECT, cb=self.on_consented_prefill
            )
        elif not answer and self.consented_prefill is not None:
            await self.consented_prefill.unsubscribe()
            self.consented_prefill = None
        await self.connection.flush()

    async def on_consent(self, msg: Msg) -> None:
        request = json.loads(msg.data)
        if self.silent:
            return
        self.consents.append(request)
        if self.refuse:
            await msg.respond(identity.RpcError(error=self.refuse).model_dump_json().encode())
            return
        answer = identity.ConsentGrantResponse(
            consent_id=uuid.uuid4(), granted_at=datetime.now(UTC), fields=request["fields"]
        )
        await msg.respond(answer.model_dump_json().encode())

    async def on_consented_prefill(self, msg: Msg) -> None:
        """Both questions in one: the consent recorded, then the prefill under it."""
        request = json.loads(msg.data)
        if self.silent:
            return
        self.consents.append(request)
        if self.refuse:
            await msg.respond(identity.RpcError(error=self.refuse).model_dump_json().encode())
            return
        await self.on_prefill(msg)

    async def on_prefill(self, msg: Msg) -> None:
        request = json.loads(msg.data)
        self.prefills.append(request)
        granted = any(
            c["account_id"] == request["account_id"] and c["service_id"] == request["service_id"]
            for c in self.consents
        )
        if not granted:
            await msg.respond(identity.RpcError(error="no_consent").model_dump_json().encode())
            return
        profile = self.profiles.get(request["account_id"], {})
        fields: dict[str, Any] = {}
        for name in request["fields"]:
            node: Any = profile
            for part in name.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            fields[name] = node
        await msg.respond(identity.PrefillResponse(fields=fields).model_dump_json().encode())


@pytest.fixture(scope="module")
async def fake_identity(infrastructure: TestInfrastructure) -> AsyncIterator[FakeIdentity]:
    """Answers ``rpc.identity.*`` as the identity user for the module's tests."""
    fake = FakeIdentity()
    nc = await nats.connect(
        infrastructure.nats_url, **infrastructure.nats_connect_options("identity")
    )
    subs = [
        await nc.subscribe(identity.CONSENT_GRANT_SUBJECT, cb=fake.on_consent),
        await nc.subscribe(identity.PREFILL_SUBJECT, cb=fake.on_prefill),
    ]
    fake.connection = nc
    await fake.answer_consented_prefill(True)
    try:
        yield fake
    finally:
        await fake.answer_consented_prefill(False)
        for sub in subs:
            await sub.unsubscribe()
        await nc.drain()


def blob_files(client: httpx.AsyncClient) -> list[Path]:
    root: Path = client.blob_dir  # type: ignore[attr-defined]
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]


# ---- helpers as fixtures: test modules cannot import this conftest under importlib mode ----


@pytest.fixture(scope="session")
def new_service() -> Callable[..., dict[str, Any]]:
    """``new_service(**overrides)`` → a fresh ``ServicePublished`` payload (JSON form)."""
    return service_payload


@pytest.fixture(scope="session")
def catalogue() -> Any:
    """``await catalogue.publish(client, payload)`` / ``await catalogue.retire(client, id, v)``."""

    class Catalogue:
        publish = staticmethod(publish_service)
        retire = staticmethod(retire_service)

    return Catalogue()


@pytest.fixture(scope="session")
def samples() -> Any:
    class Samples:
        pdf = PDF
        jpeg = JPEG
        valid_form = VALID_FORM
        blob_files = staticmethod(blob_files)

    return Samples()


@dataclass
class FakeCatalog:
    """catalog-service's location answers (``rpc.catalog.locations.get``), from ``locations``."""

    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    asked: int = 0

    async def on_location(self, msg: Msg) -> None:
        self.asked += 1
        request = json.loads(msg.data)
        found = self.locations.get(str(request.get("location_id")))
        if found is None:
            await msg.respond(catalog.RpcError(error="not_found").model_dump_json().encode())
            return
        await msg.respond(catalog.LocationReply.model_validate(found).model_dump_json().encode())

    def add_location(
        self,
        *,
        counters: list[dict[str, Any]],
        opening_hours: dict[str, list[list[str]]] | None = None,
        timezone: str = "Asia/Makassar",
        region_code: str = "64.72",
    ) -> str:
        """A location open every day 08:00-15:00 unless told; each counter a dict with
        ``agency_id`` and ``service_ids`` (``counter_id``/``label`` made up when absent)."""
        location_id = str(uuid.uuid4())
        every_day = {day: [["08:00", "15:00"]] for day in WEEKDAYS}
        self.locations[location_id] = {
            "location_id": location_id,
            "name": "Mal Pelayanan Publik Kota Samarinda",
            "region_code": region_code,
            "timezone": timezone,
            "opening_hours": every_day if opening_hours is None else opening_hours,
            "counters": [
                {
                    "counter_id": str(c.get("counter_id") or uuid.uuid4()),
                    "label": c.get("label") or f"Loket {index + 1}",
                    "agency_id": str(c["agency_id"]),
                    "agency_name": c.get("agency_name") or "Disdukcapil Kota Samarinda",
                    "service_ids": [str(s) for s in c["service_ids"]],
                }
                for index, c in enumerate(counters)
            ],
        }
        return location_id


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(scope="module")
async def fake_catalog(infrastructure: TestInfrastructure) -> AsyncIterator[FakeCatalog]:
    """Answers ``rpc.catalog.locations.get`` as the catalog user for the module's tests."""
    fake = FakeCatalog()
    nc = await nats.connect(
        infrastructure.nats_url, **infrastructure.nats_connect_options("catalog")
    )
    sub = await nc.subscribe(catalog.LOCATION_SUBJECT, cb=fake.on_location)
    await nc.flush()
    try:
        yield fake
    finally:
        await sub.unsubscribe()
        await nc.drain()
