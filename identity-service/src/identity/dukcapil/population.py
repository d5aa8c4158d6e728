"""The mock registry's synthetic population: generated deterministically, seeded once.

``generate_population`` builds households (one KK each, 1-7 people: couples, their children,
sometimes a widowed grandparent; single parents; people living alone) in the villages of the
demo regencies (``cultures.DEMO_REGENCIES``), with names after the local peoples' customs,
religions, occupations as written on the KTP, and NIKs whose district, birth date, gender and
serial are right. It depends only on ``seed``, ``size``, the NIKs/KK numbers already taken and
``as_of``, never on the day it runs.

``seed_population`` writes it (and a dataset's residents) to the database once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import TypeVar, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.dukcapil.cultures import (
    COMMON_STREETS,
    DEMO_REGENCIES,
    HAMLETS,
    ROMAN,
    Culture,
    RegencyProfile,
)
from identity.dukcapil.dataset import DatasetResident, read_dataset
from identity.dukcapil.nik import make_nik
from identity.dukcapil.registry import RESIDENT_FIELDS, Gender, Resident
from identity.dukcapil.tables import (
    PHOTO_NONE,
    PHOTO_RENDERED,
    PHOTO_STORED,
    SOURCE_DATASET,
    SOURCE_GENERATED,
    ResidentPhotoRow,
    ResidentRow,
    SeedRow,
)
from mpp_shared.reference.regions import Region, get_region, iter_regions

log = logging.getLogger(__name__)
T = TypeVar("T")

# The day the synthetic population is as old as. Fixed, so that a first start next year
# generates the same people (with the same NIKs) as one today.
GENERATION_DATE = date(2026, 1, 1)
GENERATED_SEED_NAME = "generated"
_SEED_LOCK_KEY = zlib.crc32(b"mpp-identity:dukcapil-seed")
_INSERT_BATCH = 1000
_RESIDENTS = cast(Table, ResidentRow.__table__)
_PHOTOS = cast(Table, ResidentPhotoRow.__table__)

BELUM_KAWIN = "BELUM KAWIN"
KAWIN = "KAWIN"
CERAI_HIDUP = "CERAI HIDUP"
CERAI_MATI = "CERAI MATI"

NOT_WORKING = "BELUM/TIDAK BEKERJA"
STUDENT = "PELAJAR/MAHASISWA"
HOMEMAKER = "MENGURUS RUMAH TANGGA"

_HOUSEHOLD_SIZES: tuple[tuple[int, float], ...] = (
    (1, 9.0),
    (2, 17.0),
    (3, 24.0),
    (4, 24.0),
    (5, 14.0),
    (6, 8.0),
    (7, 4.0),
)
_BLOOD_TYPES = (("-", 35.0), ("O", 24.0), ("B", 19.0), ("A", 17.0), ("AB", 5.0))
_MEN_AT_WORK = (
    ("KARYAWAN SWASTA", 22.0), ("WIRASWASTA", 20.0), ("BURUH HARIAN LEPAS", 9.0),
    ("PEDAGANG", 6.0), ("PEGAWAI NEGERI SIPIL (PNS)", 5.0), ("SOPIR", 3.0), ("GURU", 2.0),
    ("TUKANG BATU", 2.0), ("KARYAWAN HONORER", 2.0), ("KARYAWAN BUMN", 1.5),
    ("TENTARA NASIONAL INDONESIA (TNI)", 1.0), ("KEPOLISIAN RI (POLRI)", 1.0),
    ("MEKANIK", 1.0), ("TUKANG KAYU", 1.0), ("BELUM/TIDAK BEKERJA", 3.0),
)  # fmt: skip
_WOMEN_AT_WORK = (
    (HOMEMAKER, 48.0), ("KARYAWAN SWASTA", 12.0), ("WIRASWASTA", 11.0), ("PEDAGANG", 7.0),
    ("GURU", 4.0), ("PEGAWAI NEGERI SIPIL (PNS)", 4.0), ("KARYAWAN HONORER", 3.0),
    ("BURUH HARIAN LEPAS", 3.0), ("PERAWAT", 1.5), ("BIDAN", 1.0), ("PENATA RAMBUT", 0.5),
)  # fmt: skip
_RURAL_WORK = (("PETANI/PEKEBUN", 18.0), ("PERANGKAT DESA", 0.5))
_YOUNG_ADULTS = (
    (STUDENT, 45.0), (NOT_WORKING, 20.0), ("KARYAWAN SWASTA", 20.0), ("WIRASWASTA", 8.0),
    ("BURUH HARIAN LEPAS", 7.0),
)  # fmt: skip
_OLD_MEN = (
    (NOT_WORKING, 40.0), ("PENSIUNAN", 15.0), ("WIRASWASTA", 15.0), ("PEDAGANG", 5.0),
)  # fmt: skip
_OLD_WOMEN = ((HOMEMAKER, 60.0), (NOT_WORKING, 25.0), ("PENSIUNAN", 6.0), ("PEDAGANG", 5.0))
# Peoples long settled in each regency: their adults were mostly born there.
_NATIVE = {
    "64.09": ("paser", "banjar", "bugis", "kutai"),
    "11.74": ("aceh", "chinese"),
    "64.72": ("banjar", "kutai", "bugis"),
    "35.74": ("javanese", "madurese"),
    "12.09": ("malay", "javanese", "batak_toba", "mandailing", "chinese"),
}


def _weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in options], [w for _, w in options])[0]


@dataclass(frozen=True, slots=True)
class _Regency:
    profile: RegencyProfile
    region: Region
    province: Region
    districts: tuple[Region, ...]
    villages: tuple[Region, ...]

    @property
    def short_name(self) -> str:
        return _short_name(self.region)


def _short_name(regency: Region) -> str:
    name = regency.name.removeprefix("Kabupaten ").removeprefix("Kota ")
    return name.upper()


@dataclass(frozen=True, slots=True)
class _World:
    regencies: tuple[_Regency, ...]
    districts_of: dict[str, tuple[Region, ...]]  # every regency's districts
    regency_by_name: dict[str, Region]

    def origin(self, name: str) -> Region:
        try:
            return self.regency_by_name[name]
        except KeyError:
            raise LookupError(f"no regency named {name!r} in the region data") from None


@cache
def _world() -> _World:
    """The demo regencies with their districts and villages, from the reference data."""
    demo_codes = {profile.code for profile in DEMO_REGENCIES}
    districts_of: dict[str, list[Region]] = {}
    for district in iter_regions("district"):
        assert district.parent_code is not None
        districts_of.setdefault(district.parent_code, []).append(district)
    villages_of: dict[str, list[Region]] = {code: [] for code in demo_codes}
    for village in iter_regions("village"):
        if village.code[:5] in villages_of:
            villages_of[village.code[:5]].append(village)
    regencies = []
    for profile in DEMO_REGENCIES:
        region, province = get_region(profile.code), get_region(profile.code[:2])
        if region is None or province is None or not villages_of[profile.code]:
            raise LookupError(f"demo regency {profile.code} is not in the region data")
        regencies.append(
            _Regency(
                profile=profile,
                region=region,
                province=province,
                districts=tuple(sorted(districts_of[profile.code], key=lambda r: r.code)),
                villages=tuple(sorted(villages_of[profile.code], key=lambda r: r.code)),
            )
        )
    return _World(
        regencies=tuple(regencies),
        districts_of={
            code: tuple(sorted(ds, key=lambda r: r.code)) for code, ds in districts_of.items()
        },
        regency_by_name={r.name: r for r in iter_regions("regency")},
    )


class _Numbers:
    """Hands out unique NIK serials (per district and birth date) and KK numbers."""

    def __init__(self, taken_niks: Iterable[str], taken_kks: Iterable[str]) -> None:
        self._niks = set(taken_niks)
        self._kks = set(taken_kks)
        self._next: dict[str, int] = {}

    def nik(self, district: Region, birth_date: date, gender: Gender) -> str:
        key = f"{district.code}|{birth_date.isoformat()}|{gender}"
        serial = self._next.get(key, 1)
        while True:
            nik = make_nik(district.code, birth_date, gender, serial)
            serial += 1
            if nik not in self._niks:
                break
        self._next[key] = serial
        self._niks.add(nik)
        return nik

    def kk(self, district: Region, issued: date) -> str:
        prefix = district.code.replace(".", "") + issued.strftime("%d%m%y")
        serial = self._next.get(prefix, 1)
        while f"{prefix}{serial:04d}" in self._kks:
            serial += 1
        if serial > 9999:
            raise ValueError(f"no KK serial left for {prefix}")
        self._next[prefix] = serial + 1
        kk = f"{prefix}{serial:04d}"
        self._kks.add(kk)
        return kk


@dataclass(slots=True)
class _Member:
    role: str  # head, spouse, child, grandparent
    gender: Gender
    age: int
    marital_status: str
    line: str | None = None
    birth_order: int = 1


def generate_population(
    *,
    size: int = 10_000,
    seed: int = 2026,
    taken_niks: Iterable[str] = (),
    taken_kks: Iterable[str] = (),
    as_of: date = GENERATION_DATE,
) -> list[Resident]:
    """``size`` residents in whole households (the last one cut short), the same every time
    for the same arguments. NIKs and KK numbers in ``taken_*`` are never handed out."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    world = _world()
    numbers = _Numbers(taken_niks, taken_kks)
    weights = [regency.profile.weight for regency in world.regencies]
    residents: list[Resident] = []
    while len(residents) < size:
        regency = rng.choices(world.regencies, weights)[0]
        residents.extend(
            _household(rng, world, regency, numbers, as_of=as_of, room=size - len(residents))
        )
    return residents


def _household(
    rng: random.Random,
    world: _World,
    regency: _Regency,
    numbers: _Numbers,
    *,
    as_of: date,
    room: int,
) -> list[Resident]:
    village = rng.choice(regency.villages)
    district = get_region(village.code[:8])
    assert district is not None
    rural = village.code[-4] == "2"  # desa; 1xxx are kelurahan
    culture = regency.profile.culture(rng)
    religion = culture.religion(rng)
    size = min(_weighted(rng, _HOUSEHOLD_SIZES), room)
    members = _members(rng, culture, size)

    street = _street(rng, regency, rural=rural)
    rt = f"{rng.randint(1, 15 if rural else 25):03d}"
    rw = f"{rng.randint(1, 6 if rural else 12):03d}"
    native = culture.key in _NATIVE[regency.profile.code]

    births = [_birth_date(rng, member.age, as_of) for member in members]
    youngest = max(births)
    earliest_issue = max(youngest + timedelta(days=30), as_of - timedelta(days=15 * 365))
    issued = earliest_issue + timedelta(
        days=rng.randint(0, max(0, (as_of - earliest_issue).days - 1))
    )
    kk_number = numbers.kk(district, min(issued, as_of - timedelta(days=1)))

    residents = []
    for member, birth_date in zip(members, births, strict=True):
        adult_arrival = member.role != "child" and member.age >= 17
        birth_place, nik_district = _origin(
            rng, world, regency, district, culture, native=native, migrant_possible=adult_arrival
        )
        residents.append(
            Resident(
                nik=numbers.nik(nik_district, birth_date, member.gender),
                kk_number=kk_number,
                full_name=culture.full_name(
                    rng,
                    gender=member.gender,
                    birth_year=birth_date.year,
                    religion=religion,
                    line=member.line,
                    # Balinese names tell the birth order; an adult's is unknown here.
                    birth_order=member.birth_order if member.role == "child" else rng.randint(1, 4),
                ),
                birth_place=birth_place,
                birth_date=birth_date,
                gender=member.gender,
                blood_type=_weighted(rng, _BLOOD_TYPES),
                religion=religion,
                marital_status=member.marital_status,
                occupation=_occupation(rng, member, regency, rural=rural),
                street=street,
                rt=rt,
                rw=rw,
                village=village.name.upper(),
                district=district.name.upper(),
                regency=regency.region.name.upper(),
                province=regency.province.name.upper(),
                region_code=village.code,
            )
        )
    return residents


def _members(rng: random.Random, culture: Culture, size: int) -> list[_Member]:
    """Who lives together: roles, genders, ages and marital status."""
    if size == 1:
        kind = _weighted(rng, (("young", 55.0), ("widowed", 35.0), ("divorced", 10.0)))
        gender: Gender = rng.choice(("L", "P"))
        if kind == "young":
            return [
                _Member("head", gender, rng.randint(19, 34), BELUM_KAWIN, culture.family_line(rng))
            ]
        if kind == "widowed":
            gender = "P" if rng.random() < 0.75 else "L"
            return [
                _Member("head", gender, rng.randint(58, 90), CERAI_MATI, culture.family_line(rng))
            ]
        return [_Member("head", gender, rng.randint(28, 60), CERAI_HIDUP, culture.family_line(rng))]

    couple = rng.random() < (0.7 if size == 2 else 0.86)
    grandparent = size >= 4 and rng.random() < 0.25
    children = size - (2 if couple else 1) - (1 if grandparent else 0)
    father_line = culture.family_line(rng)
    if children == 0:
        mother_age = rng.randint(20, 75)
    else:
        youngest_mother = 20 + 2 * (children - 1)
        mother_age = round(rng.triangular(youngest_mother, max(youngest_mother, 58), 36))
    members: list[_Member] = []
    if couple:
        father_age = max(20, mother_age + rng.randint(-2, 8))
        members.append(_Member("head", "L", father_age, KAWIN, father_line))
        members.append(_Member("spouse", "P", mother_age, KAWIN, culture.family_line(rng)))
        oldest_parent = max(father_age, mother_age)
    else:
        gender = "P" if rng.random() < 0.75 else "L"
        widowed = mother_age > 50 or rng.random() < 0.5
        status = CERAI_MATI if widowed else CERAI_HIDUP
        line = father_line if gender == "L" else culture.family_line(rng)
        members.append(_Member("head", gender, mother_age, status, line))
        oldest_parent = mother_age
    # Children: the first when the mother was 19-30, then one every 1-5 years.
    mother_at_birth = rng.randint(19, min(30, max(19, mother_age - 2 * (children - 1))))
    for order in range(1, children + 1):
        age = max(0, mother_age - mother_at_birth)
        members.append(
            _Member("child", rng.choice(("L", "P")), age, BELUM_KAWIN, father_line, order)
        )
        mother_at_birth += rng.randint(1, 5)
    if grandparent:
        age = min(92, oldest_parent + rng.randint(20, 32))
        gender = "P" if rng.random() < 0.7 else "L"
        line = father_line if gender == "L" else culture.family_line(rng)
        members.append(_Member("grandparent", gender, age, CERAI_MATI, line))
    return members


def _birth_date(rng: random.Random, age: int, as_of: date) -> date:
    """A birthday ``age`` full years before ``as_of``."""
    return as_of - timedelta(days=int(age * 365.25) + rng.randint(1, 364))


def _origin(
    rng: random.Random,
    world: _World,
    regency: _Regency,
    district: Region,
    culture: Culture,
    *,
    native: bool,
    migrant_possible: bool,
) -> tuple[str, Region]:
    """Birth place, and the district of first registration that the NIK names."""
    migrant = migrant_possible and rng.random() < (0.12 if native else 0.5)
    if migrant:
        homeland = culture.homeland if culture.homeland and rng.random() < 0.7 else ()
        origin = world.origin(rng.choice(homeland or regency.profile.nearby))
        # Adults who moved after the NIK came (2006-2011) kept it; earlier ones got one here.
        if rng.random() < 0.5:
            return _short_name(origin), rng.choice(world.districts_of[origin.code])
        return _short_name(origin), district
    if regency.region.name.startswith("Kota "):
        place = regency.short_name
    else:
        place = rng.choice((regency.short_name, district.name.upper()))
    nik_district = district if rng.random() < 0.75 else rng.choice(regency.districts)
    return place, nik_district


def _street(rng: random.Random, regency: _Regency, *, rural: bool) -> str:
    names = COMMON_STREETS + regency.profile.streets * 3  # local names are the common ones
    if rural and rng.random() < 0.5:
        hamlet = rng.choice(HAMLETS) if rng.random() < 0.6 else rng.choice(ROMAN)
        return f"DUSUN {hamlet}"
    street = f"JL. {rng.choice(names)}"
    if rng.random() < 0.3:
        street += f" GG. {rng.choice(COMMON_STREETS)}"
    return f"{street} NO. {rng.randint(1, 150)}"


def _occupation(rng: random.Random, member: _Member, regency: _Regency, *, rural: bool) -> str:
    age = member.age
    if age < 5:
        return NOT_WORKING
    if age <= 17:
        return STUDENT if rng.random() < 0.94 else NOT_WORKING
    if member.role == "child" and age <= 23:
        return _weighted(rng, _YOUNG_ADULTS)
    if age >= 60:
        options = list(_OLD_MEN if member.gender == "L" else _OLD_WOMEN)
        if rural:
            options.append(("PETANI/PEKEBUN", 20.0))
        return _weighted(rng, options)
    options = list(_MEN_AT_WORK if member.gender == "L" else _WOMEN_AT_WORK)
    options.extend(_RURAL_WORK if rural else (("PETANI/PEKEBUN", 2.0),))
    if member.gender == "L":
        options.extend(regency.profile.occupations)
    return _weighted(rng, options)


# --- seeding --------------------------------------------------------------------------------


async def seed_population(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    size: int = 10_000,
    seed: int = 2026,
    dataset: Path | None = None,
) -> int:
    """Put the synthetic population (once) and the dataset's residents in the registry.

    Returns the number of residents added. Idempotent, and safe when replicas start together:
    the work happens in one transaction under an advisory lock. The population is generated
    only if it never was (a later start with another ``size``/``seed`` changes nothing;
    ``size=0`` only loads the dataset), after the dataset, so that it avoids the dataset's NIKs
    and KK numbers. A dataset row whose NIK
    already exists replaces a generated resident and leaves an earlier dataset resident as it
    is. Raises ``DatasetError`` for a bad dataset before touching the database.
    """
    entries = await asyncio.to_thread(read_dataset, dataset) if dataset is not None else []
    async with sessionmaker() as session, session.begin():
        await session.execute(select(func.pg_advisory_xact_lock(_SEED_LOCK_KEY)))
        added = await _write_dataset(session, entries)
        if size > 0 and await session.get(SeedRow, GENERATED_SEED_NAME) is None:
            taken_niks = set((await session.scalars(select(ResidentRow.nik))).all())
            taken_kks = set((await session.scalars(select(ResidentRow.kk_number))).all())
            residents = await asyncio.to_thread(
                generate_population,
                size=size,
                seed=seed,
                taken_niks=taken_niks,
                taken_kks=taken_kks,
            )
            # Generated once in the registry's life: its districts and villages need not stay
            # in memory after.
            _world.cache_clear()
            generated = await _write_generated(session, residents)
            session.add(SeedRow(name=GENERATED_SEED_NAME, residents=generated))
            added += generated
    if added:
        log.info("mock Dukcapil seeded", extra={"residents_added": added})
    return added


def _row(resident: Resident, *, source: str, photo: str) -> dict[str, object]:
    row: dict[str, object] = {name: getattr(resident, name) for name in RESIDENT_FIELDS}
    row["source"] = source
    row["photo"] = photo
    return row


async def _count(session: AsyncSession) -> int:
    return (await session.scalar(select(func.count()).select_from(ResidentRow))) or 0


async def _write_generated(session: AsyncSession, residents: Sequence[Resident]) -> int:
    before = await _count(session)
    rows = [_row(r, source=SOURCE_GENERATED, photo=PHOTO_RENDERED) for r in residents]
    # Core (not ORM) executemany: the driver pipelines the batch; twice as fast for 10,000.
    statement = insert(_RESIDENTS).on_conflict_do_nothing(index_elements=[_RESIDENTS.c.nik])
    for start in range(0, len(rows), _INSERT_BATCH):
        await session.execute(statement, rows[start : start + _INSERT_BATCH])
    return await _count(session) - before


async def _write_dataset(session: AsyncSession, entries: Sequence[DatasetResident]) -> int:
    if not entries:
        return 0
    rows = [
        _row(e.resident, source=SOURCE_DATASET, photo=PHOTO_STORED if e.photo else PHOTO_NONE)
        for e in entries
    ]
    upsert = insert(_RESIDENTS)
    replaceable = {name: upsert.excluded[name] for name in rows[0] if name != "nik"}
    statement = upsert.on_conflict_do_update(
        index_elements=[_RESIDENTS.c.nik],
        set_=replaceable,
        where=_RESIDENTS.c.source == SOURCE_GENERATED,
    ).returning(_RESIDENTS.c.nik)
    written: set[str] = set()
    for start in range(0, len(rows), _INSERT_BATCH):
        result = await session.execute(statement, rows[start : start + _INSERT_BATCH])
        written.update(result.scalars().all())
    photos = [
        {"nik": e.resident.nik, "image": e.photo}
        for e in entries
        if e.photo is not None and e.resident.nik in written
    ]
    if photos:
        await session.execute(
            insert(_PHOTOS).on_conflict_do_nothing(index_elements=[_PHOTOS.c.nik]),
            photos,
        )
    return len(written)
