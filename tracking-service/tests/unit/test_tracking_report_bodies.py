"""The reports' bodies, built as plain values and encoded without a validation pass, are
byte for byte what their response models would serialise."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from tracking.api.routes.reports import (
    SatisfactionReport,
    ServiceLevelReport,
    _levels,
    _satisfaction,
    satisfaction_body,
    service_level_body,
)
from tracking.domain.reports import ServiceLevels, total_of
from tracking.domain.surveys import ELEMENTS, ElementTotals, satisfaction

AS_OF = datetime(2026, 12, 3, 8, 0, 0, 123456, tzinfo=UTC)


def _line(name: str | None, histogram: dict[int, int], **counts: int) -> ServiceLevels:
    return ServiceLevels(
        service_id=uuid.uuid4(),
        service_name=name,
        counts=Counter(counts),
        histogram=Counter(histogram),
        finished=sum(histogram.values()),
        within_sla=min(2, sum(histogram.values())),
    )


def _overdue_row() -> SimpleNamespace:
    values = {
        "application_id": uuid.uuid4(),
        "registration_number": "64.09-2026-000042",
        "service_id": uuid.uuid4(),
        "service_name": None,
        "status": "in_review",
        "submitted_at": datetime(2026, 11, 2, 1, 0, tzinfo=UTC),
        "due_at": datetime(2026, 11, 9, 1, 0, 0, 5, tzinfo=UTC),
    }
    return SimpleNamespace(_mapping=values, **values)


def test_the_service_level_body_is_the_models() -> None:
    lines = [
        _line("Akta Kelahiran", {1: 1, 2: 1, 3: 1, 4: 1, 10: 1}, approved=5),
        _line("KTP", {}, submitted=3),
        _line(None, {2: 2}, rejected=1, approved=1),
    ]
    overdue = [_overdue_row(), _overdue_row()]
    agency = uuid.uuid4()
    fields = {"agency_id": agency, "as_of": AS_OF}
    body = service_level_body(
        lines=lines,
        overdue=overdue,
        first=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        **fields,
    )
    total = {k: v for k, v in _levels(total_of(lines)).items() if "service" not in k}
    model = ServiceLevelReport.model_validate(
        {
            **total,
            **fields,
            "period": {"from_": date(2026, 1, 1), "to": date(2026, 12, 31)},
            "overdue": overdue,
            "services": [_levels(line) for line in lines],
        },
        from_attributes=True,
    )
    assert body == model.model_dump_json(by_alias=True).encode()


def test_the_satisfaction_body_is_the_models() -> None:
    answered = ElementTotals(responses=3, sums={e: 9 for e in ELEMENTS})
    empty = ElementTotals(responses=0, sums=dict.fromkeys(ELEMENTS, 0))
    services = [
        _satisfaction(satisfaction(answered), service_id=uuid.uuid4(), name="Paspor"),
        _satisfaction(satisfaction(empty), service_id=uuid.uuid4(), name=None),
    ]
    total = _satisfaction(satisfaction(answered + empty))
    assert isinstance(satisfaction(answered).ikm, Decimal)
    body = satisfaction_body(
        total=total,
        services=services,
        agency_id=None,
        first=date(2026, 1, 1),
        period_end=date(2026, 1, 31),
        as_of=AS_OF,
    )
    model = SatisfactionReport.model_validate(
        {
            **{k: v for k, v in total.items() if "service" not in k},
            "agency_id": None,
            "period": {"from_": date(2026, 1, 1), "to": date(2026, 1, 31)},
            "as_of": AS_OF,
            "services": services,
        }
    )
    assert body == model.model_dump_json(by_alias=True).encode()
