"""Contact addresses of accounts, asked of identity-service over NATS when a copy is sent."""

from __future__ import annotations

import logging
import uuid

from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.events import NatsConnection
from tracking.domain.notifications import Contact

log = logging.getLogger(__name__)


class ContactLookupFailed(Exception):
    """identity-service did not answer usefully; the send is tried again later."""


class IdentityContacts:
    """A :class:`~tracking.domain.notifications.ContactDirectory` over ``rpc.identity.contact``."""

    def __init__(self, connection: NatsConnection, *, timeout: float = 2.0) -> None:
        self._connection = connection
        self._timeout = timeout

    async def contact_of(self, account_id: uuid.UUID) -> Contact | None:
        request = identity.ContactRequest(account_id=account_id)
        try:
            reply = await self._connection.client.request(
                identity.CONTACT_SUBJECT,
                request.model_dump_json().encode(),
                timeout=self._timeout,
            )
            answer = identity.parse_contact_reply(reply.data)
        except Exception as exc:
            raise ContactLookupFailed(type(exc).__name__) from exc
        if isinstance(answer, identity.RpcError):
            if answer.error == "unknown_account":
                return None
            raise ContactLookupFailed(answer.error)
        return Contact(email=answer.email, phone=answer.phone)
