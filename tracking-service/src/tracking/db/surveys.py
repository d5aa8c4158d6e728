"""SKM answers, one per application, and their sums per agency, service and month."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tracking.db.tables import Base
from tracking.domain.surveys import ELEMENTS

metadata = Base.metadata

survey_responses = Table(
    "survey_responses",
    metadata,
    Column("application_id", UUID(as_uuid=True), primary_key=True),
    Column("agency_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("month", Date, nullable=False),
    *(Column(element, SmallInteger, nullable=False) for element in ELEMENTS),
    # Free text of the citizen: shown to nobody by the reports.
    Column("comment", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

survey_totals = Table(
    "survey_totals",
    metadata,
    Column("agency_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("month", Date, nullable=False),
    Column("responses", Integer, nullable=False),
    *(Column(element, Integer, nullable=False) for element in ELEMENTS),
    PrimaryKeyConstraint("agency_id", "month", "service_id"),
)


class SurveyRepository:
    """In the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        application_id: uuid.UUID,
        agency_id: uuid.UUID,
        service_id: uuid.UUID,
        month: date,
        answers: Mapping[str, int],
        comment: str | None,
        now: datetime,
    ) -> bool:
        """Store the answer and add it to its month's sums; False if one was given already."""
        added = (
            await self.session.execute(
                pg_insert(survey_responses)
                .values(
                    application_id=application_id,
                    agency_id=agency_id,
                    service_id=service_id,
                    month=month,
                    comment=comment,
                    created_at=now,
                    **{e: answers[e] for e in ELEMENTS},
                )
                .on_conflict_do_nothing(index_elements=[survey_responses.c.application_id])
                .returning(survey_responses.c.application_id)
            )
        ).first()
        if added is None:
            return False
        totals = pg_insert(survey_totals).values(
            agency_id=agency_id,
            service_id=service_id,
            month=month,
            responses=1,
            **{e: answers[e] for e in ELEMENTS},
        )
        await self.session.execute(
            totals.on_conflict_do_update(
                index_elements=list(survey_totals.primary_key.columns),
                set_={
                    "responses": survey_totals.c.responses + 1,
                    **{e: survey_totals.c[e] + totals.excluded[e] for e in ELEMENTS},
                },
            )
        )
        return True
