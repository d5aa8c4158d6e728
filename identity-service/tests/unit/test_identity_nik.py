"""NIK parsing and construction: length, digits, a real district, a real date, gender, century."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.dukcapil.nik import InvalidNik, is_valid_nik, make_nik, parse_nik

TODAY = date(2026, 11, 23)
# Districts of the demo regencies, from the reference data.
DISTRICTS = ["64.09.01", "11.74.02", "64.72.03", "35.74.03", "12.09.20"]


def test_a_mans_nik_names_his_district_birth_date_and_serial() -> None:
    parsed = parse_nik("6409011203850001", today=TODAY)

    assert parsed.province_code == "64"
    assert parsed.regency_code == "64.09"
    assert parsed.district_code == "64.09.01"
    assert parsed.district.name == "Penajam"
    assert parsed.birth_date == date(1985, 3, 12)
    assert parsed.gender == "L"
    assert parsed.serial == "0001"


def test_a_womans_nik_has_forty_added_to_the_day() -> None:
    parsed = parse_nik("6409016407880001", today=TODAY)

    assert parsed.gender == "P"
    assert parsed.birth_date == date(1988, 7, 24)


@pytest.mark.parametrize(
    ("nik", "reason"),
    [
        ("640901120385001", "16 digits, not 15"),
        ("64090112038500011", "16 digits, not 17"),
        ("", "16 digits, not 0"),
        ("64090112038500a1", "only the digits"),
        ("6409011203 50001", "only the digits"),
        ("640901120385000\u0661", "only the digits"),  # an Arabic-Indic one
        ("9909011203850001", "district"),
        ("6409991203850001", "district"),
        ("6409010003850001", "day"),
        ("6409013203850001", "day"),  # day 32
        ("6409014003850001", "day"),  # day 40: neither a man's nor a woman's
        ("6409017203850001", "day"),  # day 72 = 32 for a woman
        ("6409011213850001", "month"),  # month 13
        ("6409011200850001", "month"),
        ("6409013102850001", "does not exist"),  # 31 February
        ("6409016902850001", "does not exist"),  # 29 February 1985, a woman's
        ("6409012902250001", "does not exist"),  # 2025 is not a leap year
        ("6409013104850001", "does not exist"),  # 31 April
        ("6409011203850000", "0000"),
    ],
)
def test_malformed_niks_are_refused_with_a_reason(nik: str, reason: str) -> None:
    with pytest.raises(InvalidNik) as raised:
        parse_nik(nik, today=TODAY)

    assert reason in raised.value.reason
    assert not is_valid_nik(nik, today=TODAY)


def test_the_reason_never_repeats_the_nik() -> None:
    with pytest.raises(InvalidNik) as raised:
        parse_nik("6409013203850001", today=TODAY)

    assert "6409013203850001" not in str(raised.value)


def test_29_february_2000_is_a_birthday() -> None:
    assert parse_nik("6409012902000001", today=TODAY).birth_date == date(2000, 2, 29)


@pytest.mark.parametrize(
    ("ddmmyy", "born"),
    [
        ("010126", date(2026, 1, 1)),  # this year, already past
        ("231126", date(2026, 11, 23)),  # today
        ("241126", date(1926, 11, 24)),  # tomorrow: a century ago
        ("010130", date(1930, 1, 1)),  # 2030 is in the future
        ("150799", date(1999, 7, 15)),
        ("010100", date(2000, 1, 1)),
    ],
)
def test_the_century_is_the_latest_that_is_not_in_the_future(ddmmyy: str, born: date) -> None:
    assert parse_nik(f"640901{ddmmyy}0001", today=TODAY).birth_date == born


def test_make_nik_encodes_district_date_gender_and_serial() -> None:
    assert make_nik("64.09.01", date(1985, 3, 12), "L", 1) == "6409011203850001"
    assert make_nik("64.09.01", date(1988, 7, 24), "P", 12) == "6409016407880012"


@pytest.mark.parametrize(
    ("district", "gender", "serial"),
    [
        ("64.09.99", "L", 1),  # no such district
        ("64.09", "L", 1),  # a regency
        ("640901", "L", 1),  # not dotted
        ("64.09.01", "X", 1),
        ("64.09.01", "L", 0),
        ("64.09.01", "L", 10_000),
    ],
)
def test_make_nik_refuses_what_no_nik_can_say(district: str, gender: str, serial: int) -> None:
    with pytest.raises(ValueError, match=r"."):
        make_nik(district, date(1985, 3, 12), gender, serial)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    district=st.sampled_from(DISTRICTS),
    born=st.dates(min_value=TODAY - timedelta(days=99 * 365), max_value=TODAY),
    gender=st.sampled_from(["L", "P"]),
    serial=st.integers(min_value=1, max_value=9999),
)
def test_every_made_nik_parses_back_to_what_made_it(
    district: str, born: date, gender: str, serial: int
) -> None:
    nik = make_nik(district, born, gender, serial)  # type: ignore[arg-type]

    parsed = parse_nik(nik, today=TODAY)

    assert len(nik) == 16
    assert (parsed.district_code, parsed.birth_date, parsed.gender, int(parsed.serial)) == (
        district,
        born,
        gender,
        serial,
    )


@settings(max_examples=500, deadline=None)
@given(
    prefix=st.sampled_from([d.replace(".", "") for d in DISTRICTS] + ["999999", "640999"]),
    rest=st.text(alphabet="0123456789", min_size=10, max_size=10),
)
def test_any_sixteen_digits_parse_or_are_refused_and_never_crash(prefix: str, rest: str) -> None:
    nik = prefix + rest
    if not is_valid_nik(nik, today=TODAY):
        with pytest.raises(InvalidNik, match=r"."):
            parse_nik(nik, today=TODAY)
        return
    parsed = parse_nik(nik, today=TODAY)
    assert parsed.birth_date <= TODAY
    assert parsed.birth_date > TODAY.replace(year=TODAY.year - 100)
    assert (int(nik[6:8]) > 40) == (parsed.gender == "P")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20).filter(lambda s: not (len(s) == 16 and s.isascii() and s.isdigit())))
def test_anything_but_sixteen_ascii_digits_is_refused(text: str) -> None:
    with pytest.raises(InvalidNik):
        parse_nik(text, today=TODAY)
