"""Service-level reports: processing time in working days, percentiles from histograms, SLA."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from mpp_shared.calendar import WorkingCalendar

# Statuses whose applications still wait for the agency (an overdue one is late).
OPEN_STATUSES: frozenset[str] = frozenset({"submitted", "in_review", "revision_requested"})
DECISIONS: frozenset[str] = frozenset({"approved", "rejected"})
MAX_REPORT_YEARS = 10


class ReportError(Exception):
    """Base of the reports' domain errors."""


class InvalidPeriod(ReportError):
    pass


class ReportNotPermitted(ReportError):
    """An agency admin asking about another agency, or a caller who is no admin (403)."""


class WorkingDays(Protocol):
    """Counts working days the way the SLA clock does."""

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after ``start``'s local day up to and including ``end``'s: a decision
        on the day of submission took 0 days, one on the next working day took 1."""
        ...


@dataclass(frozen=True)
class LocalWorkingDays:
    """The shared working-day calendar (weekends, national holidays, cuti bersama), with the
    days of ``start`` and ``end`` read in one time zone."""

    calendar: WorkingCalendar
    zone: ZoneInfo

    def working_days_between(self, start: datetime, end: datetime) -> int:
        first, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        return self.calendar.working_dates_in(first, last)


def processing_days(
    calendar: WorkingDays,
    *,
    submitted_at: datetime,
    finished_at: datetime,
    paused_days: int,
) -> int:
    """Working days from submission to the decision, without the days the application waited
    for the citizen's revision (never below 0)."""
    return max(0, calendar.working_days_between(submitted_at, finished_at) - paused_days)


# The events that move the processing clock, by the kind kept in an application's steps.
SUBMITTED, REVISION_REQUESTED, DECIDED, COMPLETED = (
    "submitted",
    "revision_requested",
    "decided",
    "completed",
)


@dataclass(frozen=True, slots=True)
class ClockStep:
    """One event that starts, pauses, resumes or stops an application's processing clock."""

    sequence: int
    kind: str  # SUBMITTED, REVISION_REQUESTED, DECIDED or COMPLETED
    at: datetime
    due_at: datetime | None  # the due time the event carried (a resubmission moves it)


@dataclass(frozen=True, slots=True)
class Finish:
    """When the clock stopped, the working days it ran, and whether by the due time."""

    at: datetime
    working_days: int
    within_sla: bool


@dataclass(frozen=True, slots=True)
class ClockReading:
    paused_days: int
    revision_since: datetime | None
    finish: Finish | None


def clock_kind(event_suffix: str, status: str) -> str | None:
    """The step an ``mpp.application.application.<suffix>`` event is for the clock, if any:
    a decision is a ``status_changed`` into approved or rejected."""
    if event_suffix == "submitted":
        return SUBMITTED
    if event_suffix == "revision_requested":
        return REVISION_REQUESTED
    if event_suffix == "status_changed" and status in DECISIONS:
        return DECIDED
    if event_suffix == "completed":
        return COMPLETED
    return None


def run_clock(
    steps: Iterable[ClockStep], calendar: WorkingDays, submitted_at: datetime
) -> ClockReading:
    """The clock read from the steps in sequence order, whatever order they arrived in.

    A revision request pauses it until the next submission (those working days do not count);
    the first decision stops it (or, without one seen, the completion: a decision that arrives
    later takes its place). Within the SLA: stopped by the due time its own event carried.
    """
    paused, since = 0, None
    for step in sorted(steps, key=lambda s: s.sequence):
        if step.kind == REVISION_REQUESTED:
            since = since or step.at
        elif step.kind == SUBMITTED:
            if since is not None:
                paused += calendar.working_days_between(since, step.at)
                since = None
        elif step.kind in (DECIDED, COMPLETED):
            days = processing_days(
                calendar, submitted_at=submitted_at, finished_at=step.at, paused_days=paused
            )
            within = step.due_at is None or step.at <= step.due_at
            return ClockReading(paused, since, Finish(step.at, days, within))
    return ClockReading(paused, since, None)


def month_of(moment: datetime, zone: ZoneInfo) -> date:
    """The first day of ``moment``'s month in ``zone``: the aggregates' bucket."""
    local = moment.astimezone(zone).date()
    return local.replace(day=1)


def month_range(start: date, end: date) -> tuple[date, date]:
    """The months covering [start, end]: the first day of each end's month."""
    if end < start:
        raise InvalidPeriod("'to' is before 'from'.")
    if end.year - start.year > MAX_REPORT_YEARS:
        raise InvalidPeriod(f"A report covers at most {MAX_REPORT_YEARS} years.")
    return start.replace(day=1), end.replace(day=1)


def last_day_of_month(month: date) -> date:
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0-1) of the values a histogram counts, interpolating between the
    closest ranks (as ``statistics.quantiles(method="inclusive")`` and numpy do)."""
    total = sum(n for n in histogram.values() if n > 0)
    if total == 0:
        return None
    position = q * (total - 1)
    below, above = math.floor(position), math.ceil(position)
    low = high = None
    seen = 0
    for value in sorted(v for v, n in histogram.items() if n > 0):
        seen += histogram[value]
        if low is None and seen > below:
            low = value
        if seen > above:
            high = value
            break
    assert low is not None
    assert high is not None
    return float(low + (high - low) * (position - below))


@dataclass
class ServiceLevels:
    """One report line: an agency's service, or a sum of several."""

    service_id: uuid.UUID | None = None
    service_name: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    histogram: Counter[int] = field(default_factory=Counter)
    finished: int = 0
    within_sla: int = 0

    def add(self, other: ServiceLevels) -> None:
        self.counts.update(other.counts)
        self.histogram.update(other.histogram)
        self.finished += other.finished
        self.within_sla += other.within_sla

    @property
    def applications(self) -> int:
        return sum(self.counts.values())

    @property
    def median_working_days(self) -> float | None:
        return _two_decimals(percentile(self.histogram, 0.5))

    @property
    def p90_working_days(self) -> float | None:
        # Interpolated: 4 + 0.6 x 6 is 7.6000000000000005 in floating point; the report says 7.6.
        return _two_decimals(percentile(self.histogram, 0.9))

    @property
    def within_sla_ratio(self) -> float | None:
        if self.finished == 0:
            return None
        return round(self.within_sla / self.finished, 4)


def _two_decimals(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def total_of(lines: Iterable[ServiceLevels]) -> ServiceLevels:
    total = ServiceLevels()
    for line in lines:
        total.add(line)
    return total


# The yearly report to the ministry: one row per service, Indonesian headers.
CSV_HEADERS: tuple[str, ...] = (
    "ID Layanan",
    "Nama Layanan",
    "Jumlah Permohonan",
    "Diajukan",
    "Diproses",
    "Perlu Perbaikan",
    "Disetujui",
    "Ditolak",
    "Selesai",
    "Dicabut",
    "Jumlah Diputus",
    "Median Hari Kerja",
    "Persentil 90 Hari Kerja",
    "Persentase Tepat Waktu",
)
_CSV_STATUSES = (
    "submitted",
    "in_review",
    "revision_requested",
    "approved",
    "rejected",
    "completed",
    "withdrawn",
)


def csv_row(line: ServiceLevels) -> list[str]:
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    ratio = line.within_sla_ratio
    return [
        str(line.service_id or ""),
        line.service_name or "",
        str(line.applications),
        *(str(line.counts.get(status, 0)) for status in _CSV_STATUSES),
        str(line.finished),
        number(line.median_working_days),
        number(line.p90_working_days),
        "" if ratio is None else f"{ratio * 100:.2f}",
    ]
