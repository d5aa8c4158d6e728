"""The working-day calendar: due dates, local time zones, revision pauses, processing time.

Across weekends, national holidays and cuti bersama. Expected values are worked out by hand
from the 2026 calendar (SKB 3 Menteri: Lebaran 18-24 March, Ascension cuti bersama 15 May)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from mpp_shared.calendar import (
    WIB,
    WIT,
    WITA,
    WorkingCalendar,
    default_calendar,
    timezone_of_region,
)
from mpp_shared.reference.regions import iter_regions
from mpp_shared.testing.zones import zone_away_from_midnight


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def wib(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=WIB).astimezone(UTC)


# ---- working days -----------------------------------------------------------------------------


def test_weekend_is_not_a_working_day(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2026, 1, 9))  # Friday
    assert not cal.is_working_day(date(2026, 1, 10))  # Saturday
    assert not cal.is_working_day(date(2026, 1, 11))  # Sunday
    assert cal.is_working_day(date(2026, 1, 12))  # Monday


def test_national_holiday_is_not_a_working_day(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2026, 1, 1))  # Tahun Baru, a Thursday
    assert not cal.is_working_day(date(2026, 8, 17))  # Hari Kemerdekaan, a Monday
    assert cal.holiday_name(date(2026, 8, 17)) is not None
    assert cal.holiday_name(date(2026, 8, 18)) is None


def test_cuti_bersama_is_not_a_working_day(cal: WorkingCalendar) -> None:
    # Friday 15 May 2026: cuti bersama after Ascension Day (Thursday 14 May). It is in the
    # package's "government" category only, so leaving that category out would count it.
    assert not cal.is_working_day(date(2026, 5, 15))
    assert date(2026, 5, 15) not in holidays.country_holidays("ID", categories=("public",))
    assert "Joint" in (cal.holiday_name(date(2026, 5, 15)) or "")
    # Lebaran 2026: 18-24 March are all off (cuti bersama, Nyepi, Idul Fitri, weekend).
    assert [d for d in range(16, 27) if cal.is_working_day(date(2026, 3, d))] == [16, 17, 25, 26]


def test_extra_holiday_is_not_a_working_day() -> None:
    cal = WorkingCalendar(extra_holidays=[date(2026, 1, 9)])
    assert not cal.is_working_day(date(2026, 1, 9))
    assert cal.holiday_name(date(2026, 1, 9)) == "extra holiday"
    assert cal.add_working_days(date(2026, 1, 8), 1) == date(2026, 1, 12)


def test_add_working_days_skips_weekend_and_holiday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2026, 1, 8), 0) == date(2026, 1, 8)
    assert cal.add_working_days(date(2026, 1, 8), 1) == date(2026, 1, 9)  # Thu -> Fri
    assert cal.add_working_days(date(2026, 1, 8), 2) == date(2026, 1, 12)  # -> Mon
    assert cal.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 2)  # over 1 Jan
    # Wednesday 13 May: Thu 14 Ascension, Fri 15 cuti bersama, weekend, then Mon 18.
    assert cal.add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 18)


def test_add_working_days_refuses_negative(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_days(date(2026, 1, 8), -1)


def test_default_calendar_is_one_instance() -> None:
    assert default_calendar() is default_calendar()


# ---- due_at -----------------------------------------------------------------------------------


def test_due_at_across_a_weekend(cal: WorkingCalendar) -> None:
    # Thursday 8 Jan 10:00 WIB, 3 days: Fri 9 (1), Mon 12 (2), Tue 13 (3), due 23:59:59 WIB.
    due = cal.due_at(wib(2026, 1, 8, 10, 0), 3, WIB)
    assert due == utc(2026, 1, 13, 16, 59, 59)
    assert due.tzinfo is UTC


def test_due_at_across_a_national_holiday(cal: WorkingCalendar) -> None:
    # Wednesday 31 Dec 2025, 2 days: 1 Jan is off, Fri 2 Jan (1), Mon 5 Jan (2).
    assert cal.due_at(wib(2025, 12, 31, 10, 0), 2, WIB) == utc(2026, 1, 5, 16, 59, 59)


def test_due_at_across_cuti_bersama(cal: WorkingCalendar) -> None:
    # Wednesday 13 May, 2 days: Thu 14 holiday, Fri 15 cuti bersama, Mon 18 (1), Tue 19 (2).
    assert cal.due_at(wib(2026, 5, 13, 9, 0), 2, WIB) == utc(2026, 5, 19, 16, 59, 59)
    # Tuesday 17 March, 1 day: the Lebaran block 18-24 March, then Wed 25 (1).
    assert cal.due_at(wib(2026, 3, 17, 10, 0), 1, WIB) == utc(2026, 3, 25, 16, 59, 59)


def test_due_at_is_end_of_day_in_the_agency_local_time(cal: WorkingCalendar) -> None:
    submitted = utc(2026, 1, 8, 3, 0)  # 10:00 WIB, 11:00 WITA, 12:00 WIT: all Thursday 8 Jan
    assert cal.due_at(submitted, 3, WIB) == utc(2026, 1, 13, 16, 59, 59)
    assert cal.due_at(submitted, 3, WITA) == utc(2026, 1, 13, 15, 59, 59)
    assert cal.due_at(submitted, 3, WIT) == utc(2026, 1, 13, 14, 59, 59)
    # The zone's name (the catalogue's agency_timezone) works the same.
    assert cal.due_at(submitted, 3, "Asia/Makassar") == utc(2026, 1, 13, 15, 59, 59)


def test_submission_day_is_the_local_date(cal: WorkingCalendar) -> None:
    # 16:30 UTC on Thursday 8 Jan is 23:30 Thursday in WIB but 00:30 Friday in WITA.
    submitted = utc(2026, 1, 8, 16, 30)
    assert cal.due_at(submitted, 1, WIB) == utc(2026, 1, 9, 16, 59, 59)  # day 1: Friday
    assert cal.due_at(submitted, 1, WITA) == utc(2026, 1, 12, 15, 59, 59)  # day 1: Monday


def test_submission_on_a_weekend_counts_from_the_next_working_day(cal: WorkingCalendar) -> None:
    saturday = wib(2026, 1, 10, 10, 0)
    sunday = wib(2026, 1, 11, 22, 0)
    assert cal.due_at(saturday, 1, WIB) == utc(2026, 1, 12, 16, 59, 59)
    assert cal.due_at(sunday, 1, WIB) == cal.due_at(saturday, 1, WIB)


def test_submission_on_a_holiday_counts_from_the_next_working_day(cal: WorkingCalendar) -> None:
    assert cal.due_at(wib(2026, 1, 1, 9, 0), 1, WIB) == utc(2026, 1, 2, 16, 59, 59)
    # On cuti bersama Friday 15 May, day 1 is Monday 18 May.
    assert cal.due_at(wib(2026, 5, 15, 9, 0), 1, WIB) == utc(2026, 5, 18, 16, 59, 59)


def test_due_at_with_zero_days_is_end_of_the_submission_day(cal: WorkingCalendar) -> None:
    assert cal.due_at(wib(2026, 1, 8, 10, 0), 0, WIB) == utc(2026, 1, 8, 16, 59, 59)


def test_due_at_refuses_a_naive_datetime(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.due_at(datetime(2026, 1, 8, 10, 0), 3, WIB)


# ---- the revision pause -----------------------------------------------------------------------


def test_revision_pause_over_a_weekend_adds_one_working_day(cal: WorkingCalendar) -> None:
    # Submitted Mon 5 Jan, 5 days: Tue 6 .. Mon 12 (day 5). Revision requested Fri 9 14:00,
    # resubmitted Mon 12 09:00: the pause took Monday 12 (the weekend was not working
    # time), so the due date moves one working day, to Tuesday 13.
    due = cal.due_at(wib(2026, 1, 5, 10, 0), 5, WIB)
    assert due == utc(2026, 1, 12, 16, 59, 59)
    paused_from, paused_until = wib(2026, 1, 9, 14, 0), wib(2026, 1, 12, 9, 0)
    assert cal.pause_working_days(paused_from, paused_until, WIB) == 1
    extended = cal.extend_due_at(due, paused_from, paused_until, WIB)
    assert extended == utc(2026, 1, 13, 16, 59, 59)
    # The same as a fresh submission on Monday with the one day left on Friday.
    assert extended == cal.due_at(paused_until, 1, WIB)


def test_revision_pause_of_working_days_moves_due_by_those_days(cal: WorkingCalendar) -> None:
    # Requested Tue 6 Jan, resubmitted Thu 8 Jan: Wed 7 and Thu 8 were the citizen's.
    due = utc(2026, 1, 12, 16, 59, 59)  # Mon 12
    extended = cal.extend_due_at(due, wib(2026, 1, 6, 10, 0), wib(2026, 1, 8, 15, 0), WIB)
    assert extended == utc(2026, 1, 14, 16, 59, 59)  # Wed 14


def test_revision_pause_over_holiday_and_cuti_bersama(cal: WorkingCalendar) -> None:
    # Requested Wed 13 May, resubmitted Mon 18 May: 14 (holiday), 15 (cuti bersama) and the
    # weekend are no working days, so only Monday 18 is added.
    due = utc(2026, 5, 19, 16, 59, 59)  # Tue 19
    paused_from, paused_until = wib(2026, 5, 13, 11, 0), wib(2026, 5, 18, 8, 0)
    assert cal.pause_working_days(paused_from, paused_until, WIB) == 1
    assert cal.extend_due_at(due, paused_from, paused_until, WIB) == utc(2026, 5, 20, 16, 59, 59)


def test_revision_pause_within_one_day_changes_nothing(cal: WorkingCalendar) -> None:
    due = utc(2026, 1, 12, 16, 59, 59)
    assert cal.extend_due_at(due, wib(2026, 1, 6, 9, 0), wib(2026, 1, 6, 16, 0), WIB) == due


def test_revision_pause_counts_in_the_agency_local_time(cal: WorkingCalendar) -> None:
    # 16:30 UTC Thu 8 Jan to 16:30 UTC Fri 9 Jan: in WIB Thu 23:30 -> Fri 23:30 (one day,
    # Friday); in WIT Fri 01:30 -> Sat 01:30 (Saturday is no working day).
    paused_from, paused_until = utc(2026, 1, 8, 16, 30), utc(2026, 1, 9, 16, 30)
    assert cal.pause_working_days(paused_from, paused_until, WIB) == 1
    assert cal.pause_working_days(paused_from, paused_until, WIT) == 0
    due_wit = utc(2026, 1, 13, 14, 59, 59)  # Tue 13, 23:59:59 WIT
    assert cal.extend_due_at(due_wit, paused_from, paused_until, WIT) == due_wit


def test_revision_pause_that_ends_before_it_starts_is_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="before"):
        cal.extend_due_at(
            utc(2026, 1, 12, 16, 59, 59), wib(2026, 1, 9, 0, 0), wib(2026, 1, 8, 0, 0), WIB
        )


# ---- processing time --------------------------------------------------------------------------


def test_working_days_between_counts_only_working_days(cal: WorkingCalendar) -> None:
    # Friday 15:00 to Monday 09:00 WIB: 9 hours of Friday and 9 of Monday.
    assert cal.working_days_between(wib(2026, 1, 9, 15, 0), wib(2026, 1, 12, 9, 0), WIB) == 0.75
    # A whole week, Monday 00:00 to Monday 00:00: five working days.
    assert cal.working_days_between(wib(2026, 1, 5, 0, 0), wib(2026, 1, 12, 0, 0), WIB) == 5.0
    # The Ascension week: 11-15 May minus Thursday 14 and cuti bersama Friday 15.
    assert cal.working_days_between(wib(2026, 5, 11, 0, 0), wib(2026, 5, 18, 0, 0), WIB) == 3.0


def test_working_days_between_uses_the_local_day(cal: WorkingCalendar) -> None:
    # 12:00 UTC Fri 9 Jan to 00:00 UTC Sat 10 Jan: in WIB Fri 19:00 -> Sat 07:00 (5 hours
    # of Friday); in WIT Fri 21:00 -> Sat 09:00 (3 hours of Friday).
    start, end = utc(2026, 1, 9, 12, 0), utc(2026, 1, 10, 0, 0)
    assert cal.working_seconds_between(start, end, WIB) == 5 * 3600
    assert cal.working_seconds_between(start, end, WIT) == 3 * 3600


def test_working_days_between_is_negative_backwards(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(wib(2026, 1, 12, 9, 0), wib(2026, 1, 9, 15, 0), WIB) == -0.75
    assert cal.working_days_between(wib(2026, 1, 10, 9, 0), wib(2026, 1, 11, 9, 0), WIB) == 0.0


# ---- time zones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "zone"),
    [
        ("11", WIB),  # Aceh
        ("31", WIB),  # Jakarta
        ("36", WIB),  # Banten
        ("51", WITA),  # Bali
        ("52", WITA),  # NTB
        ("53", WITA),  # NTT
        ("61", WIB),  # Kalimantan Barat
        ("62", WIB),  # Kalimantan Tengah
        ("63", WITA),  # Kalimantan Selatan
        ("64", WITA),  # Kalimantan Timur
        ("65", WITA),  # Kalimantan Utara
        ("71", WITA),  # Sulawesi Utara
        ("76", WITA),  # Sulawesi Barat
        ("81", WIT),  # Maluku
        ("82", WIT),  # Maluku Utara
        ("91", WIT),  # Papua
        ("96", WIT),  # Papua Barat Daya
        ("64.09.01.2001", WITA),
        ("3273", WIB),
    ],
)
def test_timezone_of_region(code: str, zone: ZoneInfo) -> None:
    assert timezone_of_region(code) == zone


def test_every_province_of_the_reference_data_has_a_zone() -> None:
    zones = {r.code: timezone_of_region(r.code).key for r in iter_regions("province")}
    assert len(zones) >= 38
    assert {code for code, key in zones.items() if key == "Asia/Jayapura"} == {
        "81",
        "82",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
    }
    assert sum(key == "Asia/Makassar" for key in zones.values()) == 12


@pytest.mark.parametrize("code", ["", "6", "X1", "ab.01"])
def test_timezone_of_region_refuses_what_is_no_region_code(code: str) -> None:
    with pytest.raises(ValueError, match="not a Kemendagri region code"):
        timezone_of_region(code)


def test_a_zone_away_from_midnight_exists_at_every_minute_of_the_day() -> None:
    start = datetime(2026, 12, 7, tzinfo=UTC)
    for minute in range(24 * 60):
        now = start + timedelta(minutes=minute)
        zone = zone_away_from_midnight(now)
        assert 1 <= now.astimezone(ZoneInfo(zone)).hour < 23, (now, zone)
