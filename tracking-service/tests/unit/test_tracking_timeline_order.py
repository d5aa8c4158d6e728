"""The order of a timeline: the application's steps by sequence, the case steps apart from
them by when they happened, case number and sequence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tracking.domain.timeline import split_timeline

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    kind: str
    sequence: int | None
    at: datetime | None
    case_number: str | None = None


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_own_steps_keep_their_sequence_even_when_their_clocks_disagree() -> None:
    rows = [Row("application", 2, _at(1)), Row("application", 1, _at(3))]
    own, cases = split_timeline(rows)
    assert [r.sequence for r in own] == [1, 2]
    assert cases == []


def test_case_steps_stay_out_of_the_applications_own_steps() -> None:
    case = Row("complaint", 1, _at(2), "ADU-1")
    rows = [case, Row("application", 2, _at(3)), Row("application", 1, _at(1))]
    assert split_timeline(rows) == ([rows[2], rows[1]], [case])


def test_case_steps_of_two_cases_at_one_moment_go_by_case_number_then_sequence() -> None:
    b1, a2, a1, later = (
        Row("complaint", 1, _at(1), "ADU-2"),
        Row("complaint", 2, _at(1), "ADU-1"),
        Row("complaint", 1, _at(1), "ADU-1"),
        Row("complaint", 3, _at(2), "ADU-1"),
    )
    own = Row("application", 1, _at(0))
    assert split_timeline([later, b1, a2, own, a1]) == ([own], [a1, a2, b1, later])


def test_without_steps_of_its_own_the_cases_still_show() -> None:
    empty = Row("application", None, None)
    case = Row("complaint", 1, _at(1), "ADU-1")
    assert split_timeline([case, empty]) == ([empty], [case])
