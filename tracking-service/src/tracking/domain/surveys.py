"""SKM, the citizen satisfaction survey (PermenPANRB 14/2017): answers, IKM and its grade."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

# The nine elements (unsur) of the regulation, u1..u9, each scored 1 (tidak baik) to 4
# (sangat baik): persyaratan, prosedur, waktu, biaya, produk, kompetensi, perilaku,
# sarana/pengaduan, penanganan pengaduan.
ELEMENTS: tuple[str, ...] = tuple(f"u{n}" for n in range(1, 10))
MIN_SCORE, MAX_SCORE = 1, 4
MAX_COMMENT_LENGTH = 2000
IKM_FACTOR = Decimal(25)

# Grade boundaries on the index (converted scale 25-100): A ≥ 88.31, B ≥ 76.61, C ≥ 65.00.
GRADES: tuple[tuple[Decimal, str], ...] = (
    (Decimal("88.31"), "A"),
    (Decimal("76.61"), "B"),
    (Decimal("65.00"), "C"),
)
_CENT = Decimal("0.01")


class SurveyError(Exception):
    """Base of the survey's domain errors."""


class SurveyApplicationNotFound(SurveyError):
    """No such application, or not the caller's (404)."""


class ApplicationNotCompleted(SurveyError):
    """The survey opens once the application is ``completed`` (409)."""


class SurveyAlreadyAnswered(SurveyError):
    """One survey per application (409)."""


@dataclass(frozen=True, slots=True)
class SurveyTarget:
    """What the survey needs to know of an application (tracking's own projection)."""

    application_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    agency_id: uuid.UUID
    service_id: uuid.UUID
    status: str


def check_may_answer(target: SurveyTarget | None, *, account_id: str) -> SurveyTarget:
    if (
        target is None
        or target.owner_account_id is None
        or str(target.owner_account_id) != (account_id)
    ):
        raise SurveyApplicationNotFound()
    if target.status != "completed":
        raise ApplicationNotCompleted()
    return target


@dataclass(frozen=True, slots=True)
class ElementTotals:
    """Sums of the scores of each element over ``responses`` answers (one aggregate row)."""

    responses: int = 0
    sums: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(ELEMENTS, 0))

    def __add__(self, other: ElementTotals) -> ElementTotals:
        return ElementTotals(
            responses=self.responses + other.responses,
            sums={e: self.sums[e] + other.sums[e] for e in ELEMENTS},
        )


@dataclass(frozen=True, slots=True)
class Satisfaction:
    responses: int
    elements: Mapping[str, Decimal | None]  # the element averages (NRR per unsur)
    ikm: Decimal | None  # 25-100, two decimals
    grade: str | None


def grade_of(ikm: Decimal) -> str:
    for bound, grade in GRADES:
        if ikm >= bound:
            return grade
    return "D"


def satisfaction(totals: ElementTotals) -> Satisfaction:
    """IKM = the mean of the nine element averages x 25, graded on its two-decimal value
    (as the regulation's tables print it); averages are given to four decimals."""
    if totals.responses == 0:
        return Satisfaction(0, dict.fromkeys(ELEMENTS), None, None)
    count = Decimal(totals.responses)
    averages = {e: Decimal(totals.sums[e]) / count for e in ELEMENTS}
    index = (sum(averages.values(), Decimal(0)) / len(ELEMENTS) * IKM_FACTOR).quantize(
        _CENT, rounding=ROUND_HALF_UP
    )
    return Satisfaction(
        responses=totals.responses,
        elements={
            e: a.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) for e, a in averages.items()
        },
        ikm=index,
        grade=grade_of(index),
    )
