"""The synthetic population: deterministic, valid NIKs, real villages, plausible households."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from identity.dukcapil.cultures import CULTURES, DEMO_REGENCIES
from identity.dukcapil.dataset import read_dataset
from identity.dukcapil.nik import parse_nik
from identity.dukcapil.population import GENERATION_DATE, generate_population
from identity.dukcapil.registry import Resident
from mpp_shared.reference.regions import get_region

TODAY = date(2026, 11, 23)
DEMO_DATASET = Path(__file__).resolve().parents[2] / "demo" / "residents.csv"
DEMO_REGENCY_CODES = {"64.09", "11.74", "64.72", "35.74", "12.09"}
KTP_OCCUPATIONS = {
    "BELUM/TIDAK BEKERJA", "MENGURUS RUMAH TANGGA", "PELAJAR/MAHASISWA", "PENSIUNAN",
    "PEGAWAI NEGERI SIPIL (PNS)", "TENTARA NASIONAL INDONESIA (TNI)", "KEPOLISIAN RI (POLRI)",
    "PETANI/PEKEBUN", "NELAYAN/PERIKANAN", "KARYAWAN SWASTA", "KARYAWAN BUMN",
    "KARYAWAN HONORER", "BURUH HARIAN LEPAS", "BURUH TANI/PERKEBUNAN", "GURU", "BIDAN",
    "PERAWAT", "SOPIR", "PEDAGANG", "PERANGKAT DESA", "WIRASWASTA", "TUKANG BATU",
    "TUKANG KAYU", "MEKANIK", "PENATA RAMBUT",
}  # fmt: skip
MARITAL = {"BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"}


def _age(resident: Resident) -> int:
    born = resident.birth_date
    on = GENERATION_DATE
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _households(residents: list[Resident]) -> dict[str, list[Resident]]:
    households: dict[str, list[Resident]] = defaultdict(list)
    for resident in residents:
        households[resident.kk_number].append(resident)
    return households


@pytest.fixture(scope="module")
def population() -> list[Resident]:
    return generate_population(size=1500, seed=7)


def test_the_same_seed_gives_the_same_people_and_another_seed_others() -> None:
    first = generate_population(size=200, seed=11)

    assert generate_population(size=200, seed=11) == first
    assert generate_population(size=200, seed=12) != first


def test_exactly_the_asked_number_of_residents_with_unique_niks(
    population: list[Resident],
) -> None:
    assert len(population) == 1500
    assert len({r.nik for r in population}) == 1500


def test_every_nik_is_valid_and_agrees_with_birth_date_and_gender(
    population: list[Resident],
) -> None:
    for resident in population:
        parsed = parse_nik(resident.nik, today=TODAY)
        assert parsed.birth_date == resident.birth_date, resident
        assert parsed.gender == resident.gender, resident


def test_everyone_lives_in_a_real_village_of_a_demo_regency(population: list[Resident]) -> None:
    for resident in population:
        village = get_region(resident.region_code)
        assert village is not None
        assert village.level == "village"
        assert resident.region_code[:5] in DEMO_REGENCY_CODES
        district = get_region(resident.region_code[:8])
        regency = get_region(resident.region_code[:5])
        province = get_region(resident.region_code[:2])
        assert district is not None
        assert regency is not None
        assert province is not None
        assert resident.village == village.name.upper()
        assert resident.district == district.name.upper()
        assert resident.regency == regency.name.upper()
        assert resident.province == province.name.upper()


def test_registry_fields_use_the_ktp_vocabulary(population: list[Resident]) -> None:
    for resident in population:
        assert resident.occupation in KTP_OCCUPATIONS
        assert resident.marital_status in MARITAL
        assert resident.blood_type in {"A", "B", "AB", "O", "-"}
        assert re.fullmatch(r"0\d[1-9]|0[1-9]\d|[1-9]\d\d", resident.rt)
        assert re.fullmatch(r"0\d[1-9]|0[1-9]\d|[1-9]\d\d", resident.rw)
        assert resident.full_name == resident.full_name.upper().strip()
        assert resident.birth_place
        assert resident.street


def test_a_household_shares_one_kk_and_one_address(population: list[Resident]) -> None:
    households = _households(population)

    for kk, members in households.items():
        assert 1 <= len(members) <= 7
        addresses = {(m.street, m.rt, m.rw, m.region_code) for m in members}
        assert len(addresses) == 1
        # A KK number names the household's district and the day it was issued.
        assert kk[:6] == members[0].region_code[:8].replace(".", "")
        issued = date(2000 + int(kk[10:12]), int(kk[8:10]), int(kk[6:8]))
        assert max(m.birth_date for m in members) < issued < GENERATION_DATE


def test_households_come_in_many_sizes(population: list[Resident]) -> None:
    sizes = Counter(len(m) for m in _households(population).values())

    assert set(sizes) == {1, 2, 3, 4, 5, 6, 7}
    assert sizes[3] + sizes[4] > sizes[1] + sizes[7]


def test_married_couples_are_a_man_and_a_woman_and_children_are_much_younger(
    population: list[Resident],
) -> None:
    for members in _households(population).values():
        married = [m for m in members if m.marital_status == "KAWIN"]
        assert len(married) in (0, 2)
        if married:
            assert {m.gender for m in married} == {"L", "P"}
        others = [m for m in members if m.marital_status != "BELUM KAWIN"]
        # The parents: the couple, or else the youngest widowed or divorced adult.
        parents = married or sorted(others, key=_age)[:1]
        for child in (m for m in members if m.marital_status == "BELUM KAWIN"):
            if parents:
                assert min(_age(p) for p in parents) - _age(child) >= 15, members


def test_young_children_do_not_work_and_school_children_study(population: list[Resident]) -> None:
    under_five = [r for r in population if _age(r) < 5]
    at_school = [r for r in population if 7 <= _age(r) <= 15]

    assert under_five
    assert at_school
    assert all(r.occupation == "BELUM/TIDAK BEKERJA" for r in under_five)
    assert all(r.marital_status == "BELUM KAWIN" for r in under_five + at_school)
    students = sum(r.occupation == "PELAJAR/MAHASISWA" for r in at_school)
    assert students / len(at_school) > 0.85


def test_batak_children_carry_their_fathers_marga_and_daughters_write_br(
    population: list[Resident],
) -> None:
    margas = set(CULTURES["batak_toba"].lineages) | set(CULTURES["mandailing"].lineages)
    checked = 0
    for members in _households(population).values():
        fathers = [m for m in members if m.marital_status == "KAWIN" and m.gender == "L"]
        if not fathers or fathers[0].full_name.split()[-1] not in margas:
            continue
        marga = fathers[0].full_name.split()[-1]
        for child in (m for m in members if m.marital_status == "BELUM KAWIN"):
            checked += 1
            assert child.full_name.endswith(f" {marga}"), child.full_name
            if child.gender == "P":
                assert child.full_name.endswith(f" BR {marga}"), child.full_name
    assert checked > 0


def test_taken_niks_and_kk_numbers_are_never_handed_out() -> None:
    first = generate_population(size=300, seed=5)
    taken_niks = {r.nik for r in first[::3]}
    taken_kks = {r.kk_number for r in first[::5]}

    again = generate_population(size=300, seed=5, taken_niks=taken_niks, taken_kks=taken_kks)

    assert not taken_niks & {r.nik for r in again}
    assert not taken_kks & {r.kk_number for r in again}
    assert len({r.nik for r in again}) == 300


def test_the_demo_regencies_resolve_in_the_reference_data() -> None:
    assert {profile.code for profile in DEMO_REGENCIES} == DEMO_REGENCY_CODES
    for profile in DEMO_REGENCIES:
        assert get_region(profile.code) is not None


def test_ten_thousand_residents_in_seconds_spread_over_every_demo_regency() -> None:
    started = time.perf_counter()
    residents = generate_population(size=10_000, seed=2026)
    elapsed = time.perf_counter() - started

    assert len({r.nik for r in residents}) == 10_000
    assert elapsed < 10, f"took {elapsed:.1f} s"
    by_regency = Counter(r.region_code[:5] for r in residents)
    assert set(by_regency) == DEMO_REGENCY_CODES
    assert min(by_regency.values()) >= 500  # every regency has a real share
    assert by_regency["64.72"] > by_regency["64.09"]  # Samarinda is the big city
    genders = Counter(r.gender for r in residents)
    assert 0.45 < genders["P"] / 10_000 < 0.56
    religions = Counter(r.religion for r in residents)
    assert religions["ISLAM"] / 10_000 > 0.7
    assert {"KRISTEN", "KATHOLIK", "HINDU", "BUDHA"} <= set(religions)
    assert set(Counter(r.marital_status for r in residents)) == MARITAL
    assert Counter(r.blood_type for r in residents)["-"] > 1000
    households = _households(residents)
    assert 2000 < len(households) < 4000
    ages = [_age(r) for r in residents]
    assert min(ages) == 0
    assert 85 <= max(ages) < 99  # the century rule of NIKs holds for everyone
    # Nearly every village of the demo regencies has residents.
    villages = {r.region_code for r in residents}
    assert len(villages) > 350
    # The demo residents' numbers are free, whichever of the two is loaded first.
    demo = [e.resident for e in read_dataset(DEMO_DATASET)]
    assert not {r.nik for r in demo} & {r.nik for r in residents}
    assert not {r.kk_number for r in demo} & {r.kk_number for r in residents}
