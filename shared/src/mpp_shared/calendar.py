"""The Indonesian working-day calendar: due dates, revision pauses, processing time in working days.

A working day is a Monday to Friday that is neither a national holiday (*hari libur nasional*)
nor a *cuti bersama* day, as the ``holidays`` package gives them for Indonesia (categories
``public`` and ``government``). Days are civil days in the agency's local time: WIB
(Asia/Jakarta, UTC+7), WITA (Asia/Makassar, UTC+8) or WIT (Asia/Jayapura, UTC+9).

The rules, from API.md (``due_at``):

- the first working day after the (local) day of submission is day 1, and the application is
  due at the end of day N in the agency's local time. "End of day" is 23:59:59 local:
  ``due_at`` is that instant in UTC, and an application is overdue when *now* is after it.
  A submission on a weekend or holiday counts the same way: day 1 is the next working day.
- a revision pause (status ``revision_requested``) does not count: see :meth:`extend_due_at`.

The holiday data of a year is what the package knew when it was released: the government
decrees cuti bersama for the coming year in the autumn, and Islamic holidays of later years are
estimates. Keep the package up to date; ``extra_holidays`` adds a day the package lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")

# Province codes (the first two digits of a Kemendagri code) outside WIB.
_WITA_PROVINCES = frozenset(
    {
        "51",  # Bali
        "52",  # Nusa Tenggara Barat
        "53",  # Nusa Tenggara Timur
        "63",  # Kalimantan Selatan
        "64",  # Kalimantan Timur
        "65",  # Kalimantan Utara
        "71",  # Sulawesi Utara
        "72",  # Sulawesi Tengah
        "73",  # Sulawesi Selatan
        "74",  # Sulawesi Tenggara
        "75",  # Gorontalo
        "76",  # Sulawesi Barat
    }
)
_WIT_PROVINCES = frozenset(
    {
        "81",  # Maluku
        "82",  # Maluku Utara
        "91",  # Papua
        "92",  # Papua Barat
        "93",  # Papua Selatan
        "94",  # Papua Tengah
        "95",  # Papua Pegunungan
        "96",  # Papua Barat Daya
        "97",  # reserved for a further Papuan province
    }
)
HOLIDAY_CATEGORIES = ("public", "government")
SATURDAY, SUNDAY = 5, 6
DAY_SECONDS = 86_400.0
# The last second of a day: due_at is "the end of day N".
END_OF_DAY = time(23, 59, 59)

TimeZoneLike = ZoneInfo | str


def timezone_of_region(region_code: str) -> ZoneInfo:
    """The local time of a Kemendagri region (``64``, ``64.09``, ``64.09.01.2001``, or the
    undotted ``6409``): WITA or WIT by province, WIB for every other province.

    Raises ``ValueError`` for a code that does not start with a two-digit province code.
    """
    province = region_code[:2]
    if len(province) != 2 or not province.isdigit():
        raise ValueError(f"not a Kemendagri region code: {region_code!r}")
    if province in _WIT_PROVINCES:
        return WIT
    if province in _WITA_PROVINCES:
        return WITA
    return WIB


def as_zone(tz: TimeZoneLike) -> ZoneInfo:
    """``tz`` as a ``ZoneInfo``; a name such as ``"Asia/Makassar"`` (``agency_timezone`` of
    the catalogue's events) is looked up."""
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")
    return moment


class WorkingCalendar:
    """Working days in Indonesia; one instance serves every time zone (it knows dates only).

    ``extra_holidays`` are days off the package does not know (a newly decreed cuti bersama,
    a test's own). The package's holiday years are computed on first use and kept.
    """

    def __init__(self, *, extra_holidays: Iterable[date] = ()) -> None:
        self._holidays = holidays.country_holidays("ID", categories=HOLIDAY_CATEGORIES)
        self._extra = frozenset(extra_holidays)

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday or cuti bersama on ``day``, if it is one."""
        if day in self._extra:
            return "extra holiday"
        return self._holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, and neither a national holiday nor cuti bersama."""
        if day.weekday() in (SATURDAY, SUNDAY):
            return False
        return day not in self._extra and day not in self._holidays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        current = day + timedelta(days=1)
        while not self.is_working_day(current):
            current += timedelta(days=1)
        return current

    def add_working_days(self, start_date: date, n: int) -> date:
        """The ``n``-th working day after ``start_date`` (``start_date`` itself is not counted,
        whether or not it is a working day); ``n == 0`` is ``start_date``.

        Raises ``ValueError`` for a negative ``n``.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        current = start_date
        for _ in range(n):
            current = self.next_working_day(current)
        return current

    def working_dates_in(self, after: date, until: date) -> int:
        """How many working days ``d`` there are with ``after < d <= until`` (0 if none)."""
        count = 0
        current = after + timedelta(days=1)
        while current <= until:
            if self.is_working_day(current):
                count += 1
            current += timedelta(days=1)
        return count

    def end_of_day(self, day: date, tz: TimeZoneLike) -> datetime:
        """23:59:59 of ``day`` in local time ``tz``, as a UTC instant."""
        return datetime.combine(day, END_OF_DAY, tzinfo=as_zone(tz)).astimezone(UTC)

    def due_at(self, submitted_at: datetime, working_days: int, tz: TimeZoneLike) -> datetime:
        """When an application submitted at ``submitted_at`` (aware, UTC) is due, in UTC.

        Day 1 is the first working day after the local date of submission; the application is
        due at the end (23:59:59 local) of day ``working_days``. ``working_days == 0`` is the
        end of the day of submission.
        """
        local_day = _aware(submitted_at, "submitted_at").astimezone(as_zone(tz)).date()
        return self.end_of_day(self.add_working_days(local_day, working_days), tz)

    def pause_working_days(
        self, paused_from: datetime, paused_until: datetime, tz: TimeZoneLike
    ) -> int:
        """The working days a revision pause took from the agency: the working days after the
        local date of ``paused_from`` (revision requested) up to and including the local date
        of ``paused_until`` (resubmitted).

        The day the revision is requested stays the agency's (it worked that day), and the
        day of resubmission is given back like a day of submission, whose next working day is
        the next day 1. A pause within one day is 0; one from Friday to Monday is 1.
        """
        zone = as_zone(tz)
        start = _aware(paused_from, "paused_from").astimezone(zone).date()
        end = _aware(paused_until, "paused_until").astimezone(zone).date()
        return self.working_dates_in(start, end)

    def extend_due_at(
        self, due_at: datetime, paused_from: datetime, paused_until: datetime, tz: TimeZoneLike
    ) -> datetime:
        """``due_at`` moved later by the pause's working days (:meth:`pause_working_days`):
        the end of the working day that many working days after ``due_at``'s local date.

        The result is what :meth:`due_at` gives for a submission at ``paused_until`` with the
        working days left at ``paused_from`` (those after the local date of ``paused_from``
        up to ``due_at``'s date). A pause that ends before it starts is refused (ValueError).
        """
        if paused_until < paused_from:
            raise ValueError("paused_until is before paused_from")
        extra = self.pause_working_days(paused_from, paused_until, tz)
        if extra == 0:
            return due_at
        due_day = _aware(due_at, "due_at").astimezone(as_zone(tz)).date()
        return self.end_of_day(self.add_working_days(due_day, extra), tz)

    def working_seconds_between(self, start: datetime, end: datetime, tz: TimeZoneLike) -> float:
        """Seconds of ``[start, end)`` that fall on working days of local time ``tz`` (each
        working day counts all of its 24 local hours; other days count nothing). Negative
        when ``end`` is before ``start``."""
        _aware(start, "start")
        _aware(end, "end")
        if end < start:
            return -self.working_seconds_between(end, start, tz)
        zone = as_zone(tz)
        total = 0.0
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            if self.is_working_day(day):
                day_start = datetime.combine(day, time(), tzinfo=zone)
                day_end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
                overlap = min(end, day_end) - max(start, day_start)
                total += max(overlap.total_seconds(), 0.0)
            day += timedelta(days=1)
        return total

    def working_days_between(self, start: datetime, end: datetime, tz: TimeZoneLike) -> float:
        """Processing time in working days, for reports: :meth:`working_seconds_between` / 86400.

        Submitted Friday 15:00 and decided Monday 09:00 local is 9/24 + 9/24 = 0.75; a whole
        working day is 1.0; time on weekends and holidays is not counted.
        """
        return self.working_seconds_between(start, end, tz) / DAY_SECONDS


@cache
def default_calendar() -> WorkingCalendar:
    """The process's calendar (holiday data only, the same in every replica)."""
    return WorkingCalendar()


__all__ = [
    "HOLIDAY_CATEGORIES",
    "WIB",
    "WIT",
    "WITA",
    "WorkingCalendar",
    "as_zone",
    "default_calendar",
    "timezone_of_region",
]
