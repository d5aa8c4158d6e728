"""Links applications filed at a counter to the resident's new account
(``mpp.identity.citizen.registered`` with the NIK's keyed hash)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.db.counter_filing import SqlCounterFilings
from application.db.repositories import SqlApplicationRepository
from application.domain.counter_filing import link_resident
from application.messaging.publishers import OutboxApplicationEvents
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.events import CloudEvent, EventConsumer, Handler, NatsConnection, PermanentError
from mpp_shared.events.permissions import event_subjects

CONSUMER_NAME = "application-identity"

log = logging.getLogger(__name__)


def link_handler() -> Handler:
    async def link_registered_resident(session: AsyncSession, event: CloudEvent) -> None:
        if event.type != identity.CITIZEN_REGISTERED:
            return  # other identity events change nothing here
        try:
            registered = event.data_as(identity.CitizenRegistered)
        except ValueError as exc:
            raise PermanentError(f"malformed {event.type}: {exc}") from exc
        if registered.resident_key is None:
            return
        linked = await link_resident(
            repo=SqlApplicationRepository(session),
            filings=SqlCounterFilings(session),
            events=OutboxApplicationEvents(session),
            key=registered.resident_key,
            account_id=registered.account_id,
            now=datetime.now(UTC),
        )
        if linked:
            log.info(
                "counter applications linked to a new account",
                extra={"account_id": str(registered.account_id), "applications": len(linked)},
            )

    return link_registered_resident


def identity_consumer(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[event_subjects("identity")],
        handler=link_handler(),
        sessionmaker=sessionmaker,
        connection=connection,
    )
