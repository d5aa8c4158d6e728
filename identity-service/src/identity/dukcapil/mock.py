"""``MockDukcapil``: the population registry on the identity service's own database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.dukcapil import faces
from identity.dukcapil.nik import JAKARTA
from identity.dukcapil.registry import (
    RESIDENT_FIELDS,
    SESUAI,
    TIDAK_SESUAI,
    FaceComparison,
    FieldCheck,
    Gender,
    ImageTooLarge,
    RegistryQuotaExceeded,
    Resident,
    ResidentNotFound,
    UnknownRegistryField,
)
from identity.dukcapil.tables import PHOTO_RENDERED, PHOTO_STORED, ResidentPhotoRow, ResidentRow

DEFAULT_DAILY_QUOTA = 10_000
DEFAULT_MAX_SELFIE_BYTES = 5 * 1024 * 1024
MAX_CALLER_LENGTH = 100

# One statement, so that replicas counting at once never lose a call: the row lock of
# ON CONFLICT DO UPDATE serialises them. A caller at its limit gets no row back.
_SPEND = text(
    """
    INSERT INTO dukcapil_quota_usage (caller, day, calls) VALUES (:caller, :day, 1)
    ON CONFLICT (caller, day) DO UPDATE SET calls = dukcapil_quota_usage.calls + 1
    WHERE dukcapil_quota_usage.calls < :limit
    RETURNING calls
    """
)

_EXACT_FIELDS = frozenset({"nik", "kk_number", "region_code"})
_NUMBER_FIELDS = frozenset({"rt", "rw"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MockDukcapil:
    """The synthetic population registry (see ``registry.PopulationRegistry``).

    ``daily_quota`` is every caller's number of calls per day (Asia/Jakarta), unless
    ``quotas`` names the caller. ``match_threshold`` is the face score from which a selfie
    matches. ``clock`` serves tests that cross midnight.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        daily_quota: int = DEFAULT_DAILY_QUOTA,
        quotas: Mapping[str, int] | None = None,
        match_threshold: float = faces.DEFAULT_MATCH_THRESHOLD,
        max_selfie_bytes: int = DEFAULT_MAX_SELFIE_BYTES,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not 0.0 < match_threshold <= 1.0:
            raise ValueError("match_threshold is in (0, 1]")
        self._sessionmaker = sessionmaker
        self.daily_quota = daily_quota
        self.quotas = dict(quotas or {})
        self.match_threshold = match_threshold
        self.max_selfie_bytes = max_selfie_bytes
        self._clock = clock

    # --- the registry's questions ------------------------------------------------------------

    async def lookup(self, nik: str, *, caller: str) -> Resident | None:
        await self._spend(caller)
        async with self._sessionmaker() as session:
            row = await self._row(session, nik)
        return _resident(row) if row is not None else None

    async def verify(
        self, nik: str, fields: Mapping[str, str], *, caller: str
    ) -> dict[str, FieldCheck]:
        unknown = sorted(set(fields) - set(RESIDENT_FIELDS))
        if unknown:
            raise UnknownRegistryField(f"the registry has no field {', '.join(unknown)}")
        await self._spend(caller)
        async with self._sessionmaker() as session:
            row = await self._row(session, nik)
        if row is None:
            return dict.fromkeys(fields, TIDAK_SESUAI)
        resident = _resident(row)
        return {
            name: SESUAI if _same(name, getattr(resident, name), given) else TIDAK_SESUAI
            for name, given in fields.items()
        }

    async def compare_face(self, nik: str, selfie: bytes, *, caller: str) -> FaceComparison:
        await self._spend(caller)
        if len(selfie) > self.max_selfie_bytes:
            raise ImageTooLarge(size=len(selfie), limit=self.max_selfie_bytes)
        # Decoding is CPU work of tens of milliseconds: off the event loop.
        selfie_print = await asyncio.to_thread(faces.fingerprint, selfie)
        registered = await self._registered_fingerprint(nik)
        if registered is None:
            return FaceComparison(score=0.0, matched=False)
        score = round(selfie_print.similarity(registered), 4)
        return FaceComparison(score=score, matched=score >= self.match_threshold)

    # --- for operators, tests and demos (no quota: not part of the registry's interface) ------

    async def registered_photo(self, nik: str) -> bytes | None:
        """The registered photo as a JPEG/PNG; ``None`` for an unknown NIK or no photo."""
        async with self._sessionmaker() as session:
            row = await self._row(session, nik)
            if row is None:
                return None
            if row.photo == PHOTO_RENDERED:
                return await asyncio.to_thread(
                    faces.render_portrait_jpeg, row.nik, gender=row.gender
                )
            if row.photo == PHOTO_STORED:
                return await session.scalar(
                    select(ResidentPhotoRow.image).where(ResidentPhotoRow.nik == row.nik)
                )
        return None

    def quota_for(self, caller: str) -> int:
        return self.quotas.get(caller, self.daily_quota)

    async def calls_today(self, caller: str) -> int:
        """How many calls ``caller`` has made today (Asia/Jakarta)."""
        async with self._sessionmaker() as session:
            calls = await session.scalar(
                text("SELECT calls FROM dukcapil_quota_usage WHERE caller = :c AND day = :d"),
                {"c": caller, "d": self._today()},
            )
        return int(calls or 0)

    # --- inside -----------------------------------------------------------------------------

    def _today(self) -> date:
        return self._clock().astimezone(JAKARTA).date()

    async def _spend(self, caller: str) -> None:
        if not caller or len(caller) > MAX_CALLER_LENGTH:
            raise ValueError(f"caller is a name of 1-{MAX_CALLER_LENGTH} characters")
        now = self._clock().astimezone(JAKARTA)
        limit = self.quota_for(caller)
        calls = None
        if limit > 0:
            async with self._sessionmaker() as session, session.begin():
                result = await session.execute(
                    _SPEND, {"caller": caller, "day": now.date(), "limit": limit}
                )
                calls = result.scalar()
        if calls is None:
            midnight = datetime.combine(now.date() + timedelta(days=1), time(), JAKARTA)
            raise RegistryQuotaExceeded(
                caller=caller,
                limit=limit,
                retry_after_seconds=max(1, int((midnight - now).total_seconds())),
            )

    @staticmethod
    async def _row(session: AsyncSession, nik: str) -> ResidentRow | None:
        if not (isinstance(nik, str) and len(nik) == 16 and nik.isascii() and nik.isdigit()):
            return None
        return await session.get(ResidentRow, nik)

    async def _registered_fingerprint(self, nik: str) -> faces.Fingerprint | None:
        """The registered photo's fingerprint; ``None`` if the resident has no photo."""
        async with self._sessionmaker() as session:
            row = await self._row(session, nik)
            if row is None:
                raise ResidentNotFound("no resident has this NIK")
            kind, gender = row.photo, row.gender
            image = None
            if kind == PHOTO_STORED:
                image = await session.scalar(
                    select(ResidentPhotoRow.image).where(ResidentPhotoRow.nik == nik)
                )
        if kind == PHOTO_RENDERED:
            portrait = await asyncio.to_thread(faces.render_portrait, nik, gender=gender)
            return faces.fingerprint_image(portrait)
        if image is None:
            return None
        return await asyncio.to_thread(faces.fingerprint, image)


def _resident(row: ResidentRow) -> Resident:
    return Resident(
        nik=row.nik,
        kk_number=row.kk_number,
        full_name=row.full_name,
        birth_place=row.birth_place,
        birth_date=row.birth_date,
        gender=cast(Gender, row.gender),
        blood_type=row.blood_type,
        religion=row.religion,
        marital_status=row.marital_status,
        occupation=row.occupation,
        street=row.street,
        rt=row.rt,
        rw=row.rw,
        village=row.village,
        district=row.district,
        regency=row.regency,
        province=row.province,
        region_code=row.region_code,
    )


def _text(value: str) -> str:
    return " ".join(value.split()).casefold()


def _same(name: str, registered: object, given: object) -> bool:
    """Whether a caller's value matches the registry's, as Dukcapil compares them: text without
    regard to case and spacing, dates as YYYY-MM-DD, RT/RW as numbers, numbers exactly."""
    if isinstance(given, date):
        given = given.isoformat()
    if not isinstance(given, str):
        return False
    if isinstance(registered, date):
        return given.strip() == registered.isoformat()
    assert isinstance(registered, str)
    if name in _EXACT_FIELDS:
        return given.strip() == registered
    if name in _NUMBER_FIELDS:
        stripped = given.strip()
        return stripped.isascii() and stripped.isdigit() and int(stripped) == int(registered)
    return _text(given) == _text(registered)
