"""An identity service per test module, on its own database, with residents the tests know."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from identity.config import IdentitySettings
from identity.db.repositories import AgencyRepository
from identity.dukcapil import faces
from identity.dukcapil.nik import make_nik
from identity.main import create_app
from mpp_shared.testing.client import app_client
from mpp_shared.testing.infrastructure import TestInfrastructure

ISSUER = "http://mpp.test"
ADMIN_EMAIL = "admin@mpp.test"
ADMIN_PASSWORD = "Admin#Test2026"
PASSWORD = "Rahasia#Warga2026"
VILLAGE = "35.73.01.1001"  # Balearjosari, Blimbing, Kota Malang


@dataclass(frozen=True)
class Resident:
    nik: str
    full_name: str
    birth_date: date
    gender: str
    photo: bytes | None  # the registered photo (PNG)


def _resident(number: int, name: str, born: date, gender: str) -> Resident:
    nik = make_nik("35.73.01", born, gender, number)  # type: ignore[arg-type]
    portrait = faces.render_portrait(nik, gender=gender)
    return Resident(nik, name, born, gender, _png(portrait))


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


NAMES = [
    "Siti Rahayu",
    "Budi Santoso",
    "Dewi Lestari",
    "Agus Wijaya",
    "Rina Kurniawati",
    "Joko Susilo",
    "Ani Yulianti",
    "Hendra Gunawan",
    "Sri Wahyuni",
    "Bambang Prasetyo",
    "Wulan Sari",
    "Eko Saputra",
    "Fitri Handayani",
    "Rudi Hartono",
    "Nur Aini",
    "Dedi Kurniawan",
]


@pytest.fixture(scope="session")
def residents(tmp_path_factory: pytest.TempPathFactory) -> list[Resident]:
    people = []
    for index, name in enumerate(NAMES):
        gender = "P" if index % 2 == 0 else "L"
        born = date(1970 + index, 1 + index % 12, 1 + (index * 3) % 28)
        people.append(_resident(100 + index, name, born, gender))
    return people


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory, residents: list[Resident]) -> Path:
    folder = tmp_path_factory.mktemp("dukcapil")
    path = folder / "residents.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "nik", "kk_number", "full_name", "birth_place", "birth_date", "gender",
                "blood_type", "religion", "marital_status", "occupation", "street", "rt", "rw",
                "village", "district", "regency", "province", "region_code", "photo",
            ]
        )  # fmt: skip
        for index, person in enumerate(residents):
            photo = ""
            if person.photo is not None:
                photo = f"photo-{index}.png"
                (folder / photo).write_bytes(person.photo)
            writer.writerow(
                [
                    person.nik, f"3573010101{index:06d}", person.full_name.upper(), "MALANG",
                    person.birth_date.isoformat(), person.gender, "O", "ISLAM", "KAWIN",
                    "KARYAWAN SWASTA", f"JL. MAWAR NO. {index + 1}", "001", "002", "", "", "",
                    "", VILLAGE, photo,
                ]
            )  # fmt: skip
    return path


def make_settings(
    infrastructure: TestInfrastructure, dataset: Path, **overrides: Any
) -> IdentitySettings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": infrastructure.create_database("identity"),
        **infrastructure.nats_settings("identity"),
        "public_url": ISSUER,
        "dukcapil_mock_dataset": dataset,
        "dukcapil_population_size": 30,
        "bootstrap_admin_email": ADMIN_EMAIL,
        "bootstrap_admin_password": ADMIN_PASSWORD,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 8,
        "argon2_parallelism": 1,
        "login_pair_slow_after": 3,
        "login_pair_lock_after": 5,
        "login_account_slow_after": 6,
        "login_account_max_delay_seconds": 1.0,
        "login_ip_slow_after": 8,
        "login_ip_lock_after": 12,
        "login_slowdown_base_seconds": 0.2,
        "registration_per_nik": 3,
        "registration_per_ip": 6,
        "selfie_max_bytes": 512 * 1024,
    }
    values.update(overrides)
    return IdentitySettings(**values)


@dataclass
class Service:
    """The running service and what the tests keep coming back to."""

    app: FastAPI
    client: httpx.AsyncClient
    residents: list[Resident]
    _ips: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))
    _admin_token: str | None = None
    admin_totp: pyotp.TOTP | None = None

    def new_ip(self) -> str:
        """A caller address of its own, so throttling of one test leaves others alone."""
        n = next(self._ips)
        return f"203.0.{n // 250}.{n % 250 + 1}"

    def sessionmaker(self) -> Any:
        return self.app.state.runtime.session_factory()

    async def register(
        self, person: Resident, *, email: str | None = None, ip: str | None = None, **changes: Any
    ) -> httpx.Response:
        body = {
            "nik": person.nik,
            "full_name": person.full_name,
            "birth_date": person.birth_date.isoformat(),
            "email": email or f"{uuid.uuid4().hex[:10]}@warga.test",
            "phone": "081234567890",
            "password": PASSWORD,
        }
        body.update(changes)
        return await self.client.post(
            "/api/v1/citizens", json=body, headers={"X-Forwarded-For": ip or self.new_ip()}
        )

    async def login(
        self,
        username: str,
        password: str = PASSWORD,
        *,
        otp: str | None = None,
        ip: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"username": username, "password": password}
        if otp is not None:
            body["otp"] = otp
        return await self.client.post(
            "/api/v1/auth/login", json=body, headers={"X-Forwarded-For": ip or self.new_ip()}
        )

    async def citizen(self, person: Resident) -> tuple[str, dict[str, Any]]:
        """Register ``person`` (once) and log in: the access token and the token response."""
        email = f"{person.nik}@warga.test"
        registered = await self.register(person, email=email)
        assert registered.status_code in (201, 409), registered.text
        response = await self.login(email)
        assert response.status_code == 200, response.text
        tokens = response.json()
        return tokens["access_token"], tokens

    async def enrol_totp(self, enrolment_token: str) -> pyotp.TOTP:
        started = await self.client.post("/api/v1/me/mfa/totp", headers=bearer(enrolment_token))
        assert started.status_code == 200, started.text
        totp = pyotp.TOTP(started.json()["secret"])
        # The previous step's code (also accepted) leaves the current one for the next login.
        confirmed = await self.client.post(
            "/api/v1/me/mfa/totp/confirm",
            json={"otp": totp.at(time.time() - 30)},
            headers=bearer(enrolment_token),
        )
        assert confirmed.status_code == 204, confirmed.text
        return totp

    async def staff_token(self, email: str, password: str) -> str:
        """Log in a member of staff, enrolling TOTP first when needed; one login per account
        (a TOTP code is accepted once)."""
        first = await self.login(email, password)
        assert first.status_code == 200, first.text
        totp = await self.enrol_totp(first.json()["access_token"])
        second = await self.login(email, password, otp=totp.now())
        assert second.status_code == 200, second.text
        return str(second.json()["access_token"])

    async def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = await self.staff_token(ADMIN_EMAIL, ADMIN_PASSWORD)
        return self._admin_token

    async def known_agency(self, agency_id: uuid.UUID | None = None) -> uuid.UUID:
        agency_id = agency_id or uuid.uuid4()
        async with self.sessionmaker()() as session, session.begin():
            await AgencyRepository(session).remember(
                agency_id=agency_id,
                name="Dinas Kependudukan dan Pencatatan Sipil",
                kind="opd",
                region_code="35.73",
                revision=1,
            )
        return agency_id

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        async with self.sessionmaker()() as session:
            rows = await session.execute(
                text("SELECT envelope FROM event_outbox WHERE subject = :s ORDER BY created_at"),
                {"s": event_type},
            )
            return [row[0] for row in rows]

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.sessionmaker()() as session:
            return await session.scalar(text(sql), params)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def service(
    infrastructure: TestInfrastructure, dataset: Path, residents: list[Resident]
) -> AsyncIterator[Service]:
    app = create_app(make_settings(infrastructure, dataset))
    async with app_client(app, base_url=ISSUER) as client:
        yield Service(app=app, client=client, residents=residents)
