"""NIK (Nomor Induk Kependudukan) parsing, validation and construction.

A NIK is 16 digits ``PP KK CC DDMMYY SSSS``: the district (kecamatan) of first registration as
province, regency and district codes, the birth date with 40 added to the day for women, and a
serial number among the people of that district and birth date.

The year has two digits. The century rule: a NIK's year is the **latest** year ending in those
two digits that does not put the birth date after ``today`` (Asia/Jakarta by default). On
2026-11-23, ``…010126…`` is 1 January 2026 but ``…241226…`` is 24 December 1926, and
``…010130…`` is 1 January 1930. A NIK cannot tell a 101-year-old from a newborn: the
registry's birth date is the truth and this rule only serves the parse. 29 February is
checked in the chosen year (``290200`` is 2000-02-29, valid; ``290225`` never is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from mpp_shared.reference.regions import Region, district_for_nik_prefix, get_region, level_of

Gender = Literal["L", "P"]

NIK_LENGTH = 16
FEMALE_DAY_OFFSET = 40
MAX_SERIAL = 9999

# Western Indonesia Time has been UTC+7 without daylight saving since 1964; a fixed offset needs
# no tz database in slim container images.
JAKARTA = timezone(timedelta(hours=7), "WIB")


class InvalidNik(ValueError):
    """A string that is not a valid NIK. ``reason`` says why, without repeating the NIK."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class ParsedNik:
    nik: str
    province_code: str  # "64"
    regency_code: str  # "64.09"
    district_code: str  # "64.09.01"
    district: Region
    birth_date: date
    gender: Gender
    serial: str  # "0001"


def today_in_jakarta() -> date:
    return datetime.now(JAKARTA).date()


def parse_nik(nik: str, *, today: date | None = None) -> ParsedNik:
    """Parse and validate a NIK; raise ``InvalidNik`` with the first problem found."""
    if not isinstance(nik, str):
        raise InvalidNik("a NIK is a string of 16 digits")
    if len(nik) != NIK_LENGTH:
        raise InvalidNik(f"a NIK has 16 digits, not {len(nik)}")
    # str.isdigit() accepts other scripts' digits ("٣", "³"); a NIK is ASCII.
    if not (nik.isascii() and nik.isdigit()):
        raise InvalidNik("a NIK has only the digits 0-9")
    district = district_for_nik_prefix(nik[:6])
    if district is None:
        raise InvalidNik("the first six digits are not a district (kecamatan) code")
    encoded_day, month, year_2 = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if 1 <= encoded_day <= 31:
        gender: Gender = "L"
        day = encoded_day
    elif 1 + FEMALE_DAY_OFFSET <= encoded_day <= 31 + FEMALE_DAY_OFFSET:
        gender = "P"
        day = encoded_day - FEMALE_DAY_OFFSET
    else:
        raise InvalidNik("the birth day must be 01-31 (men) or 41-71 (women, day + 40)")
    if not 1 <= month <= 12:
        raise InvalidNik("the birth month must be 01-12")
    year = birth_year(year_2, month, day, today=today or today_in_jakarta())
    try:
        birth_date = date(year, month, day)
    except ValueError:
        raise InvalidNik("the birth date does not exist") from None
    serial = nik[12:]
    if serial == "0000":
        raise InvalidNik("the serial number 0000 is never issued")
    return ParsedNik(
        nik=nik,
        province_code=district.code[:2],
        regency_code=district.code[:5],
        district_code=district.code,
        district=district,
        birth_date=birth_date,
        gender=gender,
        serial=serial,
    )


def birth_year(year_2: int, month: int, day: int, *, today: date) -> int:
    """The latest year ending in ``year_2`` whose ``month``/``day`` is not after ``today``."""
    year = today.year - (today.year - year_2) % 100
    if year == today.year and (month, day) > (today.month, today.day):
        year -= 100
    return year


def is_valid_nik(nik: str, *, today: date | None = None) -> bool:
    try:
        parse_nik(nik, today=today)
    except InvalidNik:
        return False
    return True


def make_nik(district_code: str, birth_date: date, gender: Gender, serial: int) -> str:
    """Build the NIK of a person first registered in ``district_code`` (``64.09.01``).

    Raises ``ValueError`` for a district that does not exist, a gender other than L/P or a
    serial outside 1-9999.
    """
    if level_of(district_code) != "district" or get_region(district_code) is None:
        raise ValueError(f"not a district code: {district_code!r}")
    if gender not in ("L", "P"):
        raise ValueError(f"gender is 'L' or 'P', not {gender!r}")
    if not 1 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial must be 1-{MAX_SERIAL}, not {serial}")
    day = birth_date.day + (FEMALE_DAY_OFFSET if gender == "P" else 0)
    return (
        district_code.replace(".", "")
        + f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"
        + f"{serial:04d}"
    )
