"""identity-service's request-reply answers over NATS (``rpc.identity.*``): consent, prefill and
the registry lookup of a resident an officer files for at a counter."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from pydantic import BaseModel, ValidationError

from application.domain.counter_filing import ResidentFound
from application.domain.exceptions import (
    IdentityUnavailable,
    NotPermitted,
    PrefillFailed,
    UnknownResident,
)
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.events import NatsConnection

log = logging.getLogger(__name__)

REQUESTED_BY = "application-service"
# Why the profile is read, for identity's access log.
PREFILL_READ_PURPOSE = "prefill of an application form"


class NoResponders(Exception):
    """Nobody answers the subject (an identity-service older than the subject)."""


class NatsIdentityDirectory:
    """Implements ``application.domain.ports.IdentityDirectory``."""

    def __init__(self, connection: NatsConnection, *, timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout

    async def grant_consent(
        self, *, account_id: uuid.UUID, service_id: uuid.UUID, fields: Sequence[str], purpose: str
    ) -> None:
        request = identity.ConsentGrantRequest(
            account_id=account_id,
            service_id=service_id,
            fields=list(fields),
            purpose=purpose,
            requested_by=REQUESTED_BY,
        )
        body = await self._request(identity.CONSENT_GRANT_SUBJECT, request)
        answer = _parse(identity.parse_consent_grant_reply, body)
        if isinstance(answer, identity.RpcError):
            raise PrefillFailed(answer.error)

    async def prefill(
        self, *, account_id: uuid.UUID, service_id: uuid.UUID, fields: Sequence[str]
    ) -> dict[str, Any]:
        request = identity.PrefillRequest(
            account_id=account_id,
            service_id=service_id,
            fields=list(fields),
            requested_by=REQUESTED_BY,
            purpose=PREFILL_READ_PURPOSE,
        )
        body = await self._request(identity.PREFILL_SUBJECT, request)
        answer = _parse(identity.parse_prefill_reply, body)
        if isinstance(answer, identity.RpcError):
            raise PrefillFailed(answer.error)
        return dict(answer.fields)

    async def grant_consent_and_prefill(
        self, *, account_id: uuid.UUID, service_id: uuid.UUID, fields: Sequence[str], purpose: str
    ) -> dict[str, Any]:
        """One request where there were two (identity answers both in one transaction); an
        identity-service that does not answer that subject yet (NATS: no responders, at once)
        is asked the two questions one after the other, as before."""
        request = identity.ConsentedPrefillRequest(
            account_id=account_id,
            service_id=service_id,
            fields=list(fields),
            purpose=purpose,
            read_purpose=PREFILL_READ_PURPOSE,
            requested_by=REQUESTED_BY,
        )
        try:
            body = await self._request(identity.CONSENTED_PREFILL_SUBJECT, request)
        except NoResponders:
            await self.grant_consent(
                account_id=account_id, service_id=service_id, fields=fields, purpose=purpose
            )
            return await self.prefill(account_id=account_id, service_id=service_id, fields=fields)
        answer = _parse(identity.parse_prefill_reply, body)
        if isinstance(answer, identity.RpcError):
            raise PrefillFailed(answer.error)
        return dict(answer.fields)

    async def lookup_resident(
        self,
        *,
        nik: str,
        officer_id: uuid.UUID,
        agency_id: uuid.UUID,
        service_id: uuid.UUID,
        fields: Sequence[str],
        purpose: str,
    ) -> ResidentFound:
        request = identity.ResidentLookupRequest(
            nik=nik,
            officer_account_id=officer_id,
            agency_id=agency_id,
            service_id=service_id,
            fields=list(fields),
            purpose=purpose,
            requested_by=REQUESTED_BY,
        )
        body = await self._request(identity.RESIDENT_LOOKUP_SUBJECT, request)
        answer = _parse(identity.parse_resident_lookup_reply, body)
        if isinstance(answer, identity.RpcError):
            if answer.error == "unknown_resident":
                raise UnknownResident()
            if answer.error == "not_staff":
                raise NotPermitted("Akun petugas ini tidak terdaftar pada instansi layanan.")
            raise PrefillFailed(answer.error)
        return ResidentFound(
            nik_masked=answer.nik_masked,
            fields=dict(answer.fields),
            account_id=answer.account_id,
            assurance_level=answer.assurance_level,
            officer_name=answer.officer_name,
        )

    async def _request(self, subject: str, request: BaseModel) -> bytes:
        if not self._connection.connected:
            raise IdentityUnavailable()
        try:
            reply = await self._connection.client.request(
                subject, request.model_dump_json().encode(), timeout=self._timeout
            )
        except NoRespondersError as exc:
            raise NoResponders(subject) from exc
        except (TimeoutError, NatsError, ConnectionError) as exc:
            log.warning(
                "identity request failed", extra={"subject": subject, "error": type(exc).__name__}
            )
            raise IdentityUnavailable() from exc
        return bytes(reply.data)


def _parse(parse: Any, body: bytes) -> Any:
    try:
        return parse(body)
    except (ValidationError, ValueError) as exc:
        log.error("identity answered something unreadable", extra={"error": type(exc).__name__})
        raise IdentityUnavailable() from exc
