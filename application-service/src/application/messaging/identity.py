"""identity-service's request-reply answers over NATS (``rpc.identity.*``): consent and prefill."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from nats.errors import Error as NatsError
from pydantic import BaseModel, ValidationError

from application.domain.exceptions import IdentityUnavailable, PrefillFailed
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.events import NatsConnection

log = logging.getLogger(__name__)

REQUESTED_BY = "application-service"


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
            purpose="prefill of an application form",
        )
        body = await self._request(identity.PREFILL_SUBJECT, request)
        answer = _parse(identity.parse_prefill_reply, body)
        if isinstance(answer, identity.RpcError):
            raise PrefillFailed(answer.error)
        return dict(answer.fields)

    async def _request(self, subject: str, request: BaseModel) -> bytes:
        if not self._connection.connected:
            raise IdentityUnavailable()
        try:
            reply = await self._connection.client.request(
                subject, request.model_dump_json().encode(), timeout=self._timeout
            )
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
