"""``MockDukcapil`` on a real database: lookup, per-field verification as Dukcapil answers it,
face comparison with the registered photo, and a daily quota per caller that replicas share."""

from __future__ import annotations

import asyncio
import inspect
import io
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from identity.db.tables import Base
from identity.dukcapil import faces
from identity.dukcapil.mock import MockDukcapil
from identity.dukcapil.population import generate_population, seed_population
from identity.dukcapil.registry import (
    ImageTooLarge,
    InvalidImage,
    PopulationRegistry,
    RegistryQuotaExceeded,
    Resident,
    ResidentNotFound,
    UnknownRegistryField,
)

if TYPE_CHECKING:
    from mpp_shared.testing.infrastructure import TestInfrastructure

DEMO = Path(__file__).resolve().parents[2] / "demo"
SIZE, SEED = 40, 77
BUDI = "6409011203850001"  # demo resident with a photo
SITI = "6409016407880001"
UNKNOWN = "6409011203850999"
CALLER = "identity:test"


@pytest.fixture(scope="module")
async def engine(infrastructure: TestInfrastructure) -> AsyncIterator[AsyncEngine]:
    """One registry for the module: the tables, a small population and the demo residents."""
    engine = create_async_engine(infrastructure.create_database("t_dukcapil_registry"))
    tables = [t for name, t in Base.metadata.tables.items() if name.startswith("dukcapil_")]
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(sync, tables=tables))
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    await seed_population(sessionmaker, size=SIZE, seed=SEED, dataset=DEMO / "residents.csv")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def registry(sessionmaker: async_sessionmaker[AsyncSession]) -> MockDukcapil:
    return MockDukcapil(sessionmaker)


@pytest.fixture(scope="module")
def generated() -> list[Resident]:
    return generate_population(size=SIZE, seed=SEED)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@pytest.mark.parametrize("method", ["lookup", "verify", "compare_face"])
def test_the_mock_has_the_population_registry_signatures(method: str) -> None:
    expected = inspect.signature(getattr(PopulationRegistry, method))
    actual = inspect.signature(getattr(MockDukcapil, method))

    assert list(actual.parameters.items()) == list(expected.parameters.items())


# --- lookup -------------------------------------------------------------------------------


async def test_lookup_returns_the_registered_record(
    registry: MockDukcapil, generated: list[Resident]
) -> None:
    expected = generated[5]

    assert await registry.lookup(expected.nik, caller=CALLER) == expected


async def test_lookup_finds_a_dataset_resident(registry: MockDukcapil) -> None:
    budi = await registry.lookup(BUDI, caller=CALLER)

    assert budi is not None
    assert (budi.full_name, budi.kk_number, budi.region_code) == (
        "BUDI SANTOSO",
        "6409011405150002",
        "64.09.01.1011",
    )


@pytest.mark.parametrize("nik", [UNKNOWN, "123", "64090112038500011", "640901120385000x", ""])
async def test_lookup_of_an_unknown_or_malformed_nik_is_none(
    registry: MockDukcapil, nik: str
) -> None:
    assert await registry.lookup(nik, caller=CALLER) is None


# --- verify -------------------------------------------------------------------------------


async def test_every_field_as_registered_is_sesuai(
    registry: MockDukcapil, generated: list[Resident]
) -> None:
    resident = generated[7]
    fields = {k: (v.isoformat() if k == "birth_date" else v) for k, v in asdict(resident).items()}

    answer = await registry.verify(resident.nik, fields, caller=CALLER)

    assert answer == dict.fromkeys(fields, "Sesuai")


async def test_names_match_whatever_their_case_and_spacing(registry: MockDukcapil) -> None:
    answer = await registry.verify(
        SITI,
        {
            "full_name": "  siti   Rahmawati ",
            "birth_date": "1988-07-24",
            "birth_place": "balikpapan",
        },
        caller=CALLER,
    )

    assert answer == {"full_name": "Sesuai", "birth_date": "Sesuai", "birth_place": "Sesuai"}


async def test_each_field_is_answered_on_its_own(registry: MockDukcapil) -> None:
    answer = await registry.verify(
        BUDI,
        {
            "full_name": "BUDI SANTOSA",
            "birth_date": "1985-03-12",
            "gender": "P",
            "kk_number": "6409011405150002",
            "rt": "7",
            "rw": "003",
        },
        caller=CALLER,
    )

    assert answer == {
        "full_name": "Tidak Sesuai",
        "birth_date": "Sesuai",
        "gender": "Tidak Sesuai",
        "kk_number": "Sesuai",
        "rt": "Sesuai",  # 7 is RT 007
        "rw": "Tidak Sesuai",
    }


@pytest.mark.parametrize("birth_date", ["1985-3-12", "12-03-1985", "1985-03-12T00:00", ""])
async def test_a_birth_date_not_written_yyyy_mm_dd_does_not_match(
    registry: MockDukcapil, birth_date: str
) -> None:
    answer = await registry.verify(BUDI, {"birth_date": birth_date}, caller=CALLER)

    assert answer == {"birth_date": "Tidak Sesuai"}


@pytest.mark.parametrize("nik", [UNKNOWN, "not-a-nik"])
async def test_an_unknown_nik_answers_tidak_sesuai_everywhere_and_no_error(
    registry: MockDukcapil, nik: str
) -> None:
    fields = {"full_name": "BUDI SANTOSO", "birth_date": "1985-03-12"}

    assert await registry.verify(nik, fields, caller=CALLER) == dict.fromkeys(
        fields, "Tidak Sesuai"
    )


async def test_asking_about_a_field_the_registry_lacks_is_a_programming_error(
    registry: MockDukcapil,
) -> None:
    with pytest.raises(UnknownRegistryField, match="mother_name"):
        await registry.verify(BUDI, {"mother_name": "SITI"}, caller=CALLER)


# --- faces --------------------------------------------------------------------------------


async def test_the_registered_photo_re_encoded_matches(
    registry: MockDukcapil, generated: list[Resident]
) -> None:
    nik = generated[3].nik
    registered = await registry.registered_photo(nik)
    assert registered is not None
    selfie = faces.encode_jpeg(Image.open(io.BytesIO(registered)), quality=60)

    comparison = await registry.compare_face(nik, selfie, caller=CALLER)

    assert comparison.matched
    assert 0.6 < comparison.score <= 1.0


async def test_the_registered_photo_as_a_resized_png_matches(
    registry: MockDukcapil, generated: list[Resident]
) -> None:
    nik = generated[4].nik
    selfie = _png(faces.render_portrait(nik).resize((180, 240)))

    assert (await registry.compare_face(nik, selfie, caller=CALLER)).matched


async def test_someone_elses_photo_does_not_match(
    registry: MockDukcapil, generated: list[Resident]
) -> None:
    other = await registry.registered_photo(generated[9].nik)
    assert other is not None

    comparison = await registry.compare_face(generated[3].nik, other, caller=CALLER)

    assert not comparison.matched
    assert 0.0 <= comparison.score < 0.6


async def test_a_dataset_residents_photo_file_re_encoded_matches(registry: MockDukcapil) -> None:
    photo = Image.open(DEMO / "photos" / "budi-santoso.jpg")

    assert (await registry.compare_face(BUDI, _png(photo), caller=CALLER)).matched
    assert not (await registry.compare_face(SITI, _png(photo), caller=CALLER)).matched


async def test_a_resident_without_a_photo_never_matches(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    header, *rows = (DEMO / "residents.csv").read_text(encoding="utf-8").splitlines()
    jonni = next(row for row in rows if row.startswith("1209203001900001"))
    # Jonni's row once more, under the next serial and with the photo column empty.
    no_photo = jonni.replace("1209203001900001", "1209203001900002", 1).rsplit(",", 1)[0] + ","
    path = tmp_path / "residents.csv"
    path.write_text(f"{header}\n{no_photo}\n", encoding="utf-8")
    await seed_population(sessionmaker, size=0, dataset=path)
    registry = MockDukcapil(sessionmaker)

    comparison = await registry.compare_face(
        "1209203001900002",
        (DEMO / "photos" / "jonni-parlindungan-simanjuntak.jpg").read_bytes(),
        caller=CALLER,
    )

    assert (comparison.score, comparison.matched) == (0.0, False)
    assert await registry.registered_photo("1209203001900002") is None


async def test_comparing_with_an_unknown_resident_is_resident_not_found(
    registry: MockDukcapil,
) -> None:
    with pytest.raises(ResidentNotFound):
        await registry.compare_face(UNKNOWN, faces.render_portrait_jpeg(UNKNOWN), caller=CALLER)


@pytest.mark.parametrize("selfie", [b"", b"%PDF-1.4 not a picture", b"\xff\xd8\xff\xe0garbage"])
async def test_a_selfie_that_is_not_a_jpeg_or_png_is_invalid(
    registry: MockDukcapil, selfie: bytes
) -> None:
    with pytest.raises(InvalidImage):
        await registry.compare_face(BUDI, selfie, caller=CALLER)


async def test_a_selfie_over_the_size_limit_is_refused_unread(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    registry = MockDukcapil(sessionmaker, max_selfie_bytes=1000)
    selfie = (DEMO / "photos" / "budi-santoso.jpg").read_bytes()

    with pytest.raises(ImageTooLarge) as refused:
        await registry.compare_face(BUDI, selfie, caller=CALLER)
    assert refused.value.limit == 1000


async def test_the_default_size_limit_is_five_mebibytes(registry: MockDukcapil) -> None:
    assert registry.max_selfie_bytes == 5 * 1024 * 1024
    with pytest.raises(ImageTooLarge):
        await registry.compare_face(BUDI, b"\xff" * (5 * 1024 * 1024 + 1), caller=CALLER)


# --- quota --------------------------------------------------------------------------------


async def test_a_caller_gets_its_daily_quota_and_then_quota_exceeded(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    registry = MockDukcapil(sessionmaker, daily_quota=100, quotas={"small-caller": 3})

    for _ in range(3):
        await registry.lookup(BUDI, caller="small-caller")
    with pytest.raises(RegistryQuotaExceeded) as spent:
        await registry.verify(BUDI, {"full_name": "X"}, caller="small-caller")

    assert spent.value.limit == 3
    assert spent.value.retry_after_seconds is not None
    assert 0 < spent.value.retry_after_seconds <= 24 * 3600
    # Another caller has its own count, at the default quota.
    assert await registry.lookup(BUDI, caller="other-caller") is not None
    assert registry.quota_for("other-caller") == 100


async def test_every_kind_of_call_counts_even_the_failed_ones(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    registry = MockDukcapil(sessionmaker, quotas={"counted": 10})

    await registry.lookup(UNKNOWN, caller="counted")
    await registry.verify(UNKNOWN, {"full_name": "X"}, caller="counted")
    with pytest.raises(InvalidImage):
        await registry.compare_face(BUDI, b"nope", caller="counted")

    assert await registry.calls_today("counted") == 3


async def test_replicas_share_one_counter_and_never_overspend(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replicas = [MockDukcapil(sessionmaker, quotas={"shared": 10}) for _ in range(3)]

    outcomes = await asyncio.gather(
        *(replicas[i % 3].lookup(BUDI, caller="shared") for i in range(25)),
        return_exceptions=True,
    )

    served = [o for o in outcomes if isinstance(o, Resident)]
    refused = [o for o in outcomes if isinstance(o, RegistryQuotaExceeded)]
    assert (len(served), len(refused)) == (10, 15)
    assert await replicas[0].calls_today("shared") == 10


async def test_the_quota_renews_at_midnight_in_jakarta_not_in_utc(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = [datetime(2026, 11, 23, 16, 59, tzinfo=UTC)]  # 23:59 WIB
    registry = MockDukcapil(sessionmaker, quotas={"nightly": 1}, clock=lambda: now[0])

    await registry.lookup(BUDI, caller="nightly")
    with pytest.raises(RegistryQuotaExceeded) as spent:
        await registry.lookup(BUDI, caller="nightly")
    assert spent.value.retry_after_seconds == 60

    now[0] = datetime(2026, 11, 23, 17, 0, 30, tzinfo=UTC)  # 00:00:30 WIB, still the 23rd in UTC
    assert await registry.lookup(BUDI, caller="nightly") is not None


async def test_a_quota_of_zero_refuses_every_call(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    registry = MockDukcapil(sessionmaker, quotas={"blocked": 0})

    with pytest.raises(RegistryQuotaExceeded):
        await registry.lookup(BUDI, caller="blocked")
