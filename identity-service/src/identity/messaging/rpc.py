"""NATS request-reply responders: prefill, consent grants and counter lookups of residents for
application-service, and the contact addresses tracking-service sends notification copies to.

Each subject is answered by a ``mpp_shared.events.rpc.RpcResponder`` in one queue group, each
request in a transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.db.repositories import AccessLogRepository, AccountRepository, ConsentRepository
from identity.domain.consents import (
    NoConsent,
    PrefillQuery,
    grant_consent,
    grant_consent_and_prefill,
    notification_contact,
    prefill,
)
from identity.domain.counter import lookup_resident
from identity.domain.exceptions import InvalidInput, NotAllowed, NotFound, UnknownResident
from identity.dukcapil.registry import PopulationRegistry
from mpp_shared.contracts.identity import v1 as contracts
from mpp_shared.events import NatsConnection
from mpp_shared.events.rpc import Reply, RpcResponder
from mpp_shared.observability.masking import mask_nik

log = logging.getLogger(__name__)

Answer = Callable[[AsyncSession, bytes], Awaitable[BaseModel]]


def _prefill_query(
    request: contracts.PrefillRequest | contracts.ConsentedPrefillRequest, *, purpose: str | None
) -> PrefillQuery:
    return PrefillQuery(
        account_id=request.account_id,
        service_id=request.service_id,
        fields=request.fields,
        requested_by=request.requested_by,
        purpose=purpose,
    )


async def answer_prefill(session: AsyncSession, body: bytes) -> BaseModel:
    request = contracts.PrefillRequest.model_validate_json(body)
    fields = await prefill(
        query=_prefill_query(request, purpose=request.purpose),
        accounts=AccountRepository(session),
        consents=ConsentRepository(session),
        access_log=AccessLogRepository(session),
        now=datetime.now(UTC),
    )
    return contracts.PrefillResponse(fields=fields)


async def answer_consent_grant(session: AsyncSession, body: bytes) -> BaseModel:
    request = contracts.ConsentGrantRequest.model_validate_json(body)
    consent = await grant_consent(
        account_id=request.account_id,
        service_id=request.service_id,
        fields=request.fields,
        purpose=request.purpose,
        granted_via=request.requested_by,
        accounts=AccountRepository(session),
        consents=ConsentRepository(session),
        now=datetime.now(UTC),
    )
    return contracts.ConsentGrantResponse(
        consent_id=consent.id, granted_at=consent.granted_at, fields=list(consent.fields)
    )


async def answer_consented_prefill(session: AsyncSession, body: bytes) -> BaseModel:
    request = contracts.ConsentedPrefillRequest.model_validate_json(body)
    fields = await grant_consent_and_prefill(
        query=_prefill_query(request, purpose=request.read_purpose),
        purpose=request.purpose,
        accounts=AccountRepository(session),
        consents=ConsentRepository(session),
        access_log=AccessLogRepository(session),
        now=datetime.now(UTC),
    )
    return contracts.PrefillResponse(fields=fields)


async def answer_contact(session: AsyncSession, body: bytes) -> BaseModel:
    request = contracts.ContactRequest.model_validate_json(body)
    email, phone = await notification_contact(
        account_id=request.account_id,
        requested_by=request.requested_by,
        purpose=request.purpose,
        accounts=AccountRepository(session),
        access_log=AccessLogRepository(session),
        now=datetime.now(UTC),
    )
    return contracts.ContactResponse(email=email, phone=phone)


def resident_lookup_answer(registry: Callable[[], PopulationRegistry]) -> Answer:
    async def answer_resident_lookup(session: AsyncSession, body: bytes) -> BaseModel:
        request = contracts.ResidentLookupRequest.model_validate_json(body)
        found = await lookup_resident(
            nik=request.nik,
            officer_id=request.officer_account_id,
            agency_id=request.agency_id,
            service_id=request.service_id,
            fields=request.fields,
            purpose=request.purpose,
            accounts=AccountRepository(session),
            access_log=AccessLogRepository(session),
            registry=registry(),
            now=datetime.now(UTC),
        )
        return contracts.ResidentLookupResponse(
            nik_masked=mask_nik(found.resident.nik),
            fields=found.fields,
            account_id=found.account.id if found.account else None,
            assurance_level=found.account.assurance_level if found.account else None,
            officer_name=found.officer.full_name,
        )

    return answer_resident_lookup


async def handle(
    answer: Answer, body: bytes, sessionmaker: async_sessionmaker[AsyncSession]
) -> BaseModel:
    """One request in one transaction; domain refusals become ``RpcError`` replies."""
    try:
        async with sessionmaker() as session, session.begin():
            return await answer(session, body)
    except ValidationError as exc:
        return contracts.RpcError(error="invalid_request", detail=str(exc.errors()[:3]))
    except UnknownResident:
        return contracts.RpcError(error="unknown_resident", detail="no resident with this NIK")
    except NotAllowed:
        return contracts.RpcError(error="not_staff", detail="not staff of this agency")
    except NoConsent:
        return contracts.RpcError(error="no_consent", detail="no consent covers these fields")
    except NotFound:
        return contracts.RpcError(error="unknown_account", detail="no such citizen account")
    except InvalidInput as exc:
        return contracts.RpcError(error="unknown_field", detail=exc.detail)
    except Exception:
        log.exception("request-reply handler failed")
        return contracts.RpcError(error="internal_error")


def rpc_responders(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    *,
    queue: str,
    registry: Callable[[], PopulationRegistry],
) -> list[RpcResponder]:
    def reply_with(answer: Answer) -> Reply:
        async def reply(body: bytes) -> BaseModel:
            return await handle(answer, body, sessionmaker)

        return reply

    return [
        RpcResponder(
            subject=contracts.PREFILL_SUBJECT,
            queue=queue,
            reply=reply_with(answer_prefill),
            connection=connection,
        ),
        RpcResponder(
            subject=contracts.CONSENT_GRANT_SUBJECT,
            queue=queue,
            reply=reply_with(answer_consent_grant),
            connection=connection,
        ),
        RpcResponder(
            subject=contracts.CONSENTED_PREFILL_SUBJECT,
            queue=queue,
            reply=reply_with(answer_consented_prefill),
            connection=connection,
        ),
        RpcResponder(
            subject=contracts.RESIDENT_LOOKUP_SUBJECT,
            queue=queue,
            reply=reply_with(resident_lookup_answer(registry)),
            connection=connection,
        ),
        RpcResponder(
            subject=contracts.CONTACT_SUBJECT,
            queue=queue,
            reply=reply_with(answer_contact),
            connection=connection,
        ),
    ]
