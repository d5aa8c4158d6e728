"""Where counter bookings learn a location's hours and counters: the read copy fed by
``mpp.catalog.location.updated`` and the locations snapshot, else catalog-service's answer
over NATS (``rpc.catalog.locations.get``), which is then kept in the copy."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from nats.errors import Error as NatsError
from pydantic import ValidationError

from application.db.locations import SqlLocationCopies
from application.domain.bookings import LocationDirectory
from application.domain.exceptions import CatalogUnavailable, LocationNotFound
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import NatsConnection

log = logging.getLogger(__name__)

# The state of an answer that does not say when it was read: any event replaces it.
UNDATED = datetime(1970, 1, 1, tzinfo=UTC)


class NatsLocationDirectory:
    """Implements ``application.domain.bookings.LocationDirectory`` by asking the catalogue."""

    def __init__(self, connection: NatsConnection, *, timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout

    async def location(self, location_id: uuid.UUID) -> catalog.LocationReply:
        if not self._connection.connected:
            raise CatalogUnavailable()
        request = catalog.LocationRequest(location_id=location_id)
        try:
            reply = await self._connection.client.request(
                catalog.LOCATION_SUBJECT, request.model_dump_json().encode(), timeout=self._timeout
            )
            answer = catalog.parse_location_reply(reply.data)
        except (TimeoutError, NatsError, ConnectionError) as exc:
            log.warning("location request failed", extra={"error": type(exc).__name__})
            raise CatalogUnavailable() from exc
        except (ValidationError, ValueError) as exc:
            log.error("catalog answered something unreadable", extra={"error": type(exc).__name__})
            raise CatalogUnavailable() from exc
        if isinstance(answer, catalog.RpcError):
            if answer.error in ("not_found", "invalid_request"):
                raise LocationNotFound()
            raise CatalogUnavailable()
        return answer


class CopiedLocationDirectory:
    """Implements ``LocationDirectory`` from the read copy, on the request's session.

    The copy answers whenever it holds the location, so bookings, calls and the board go on
    while the catalogue is down. Only a location the copy does not hold yet (its event still
    on the way) is asked of the catalogue; the answer is kept in the same transaction."""

    def __init__(self, copies: SqlLocationCopies, fallback: LocationDirectory | None) -> None:
        self._copies = copies
        self._fallback = fallback

    async def location(self, location_id: uuid.UUID) -> catalog.LocationReply:
        found = await self._copies.get(location_id)
        if found is not None:
            return found
        if self._fallback is None:
            raise CatalogUnavailable()
        answer = await self._fallback.location(location_id)
        now = datetime.now(UTC)
        await self._copies.remember(answer, as_of=answer.as_of or UNDATED, now=now)
        return answer
