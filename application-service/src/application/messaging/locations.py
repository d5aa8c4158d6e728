"""catalog-service's answer about one MPP location over NATS (``rpc.catalog.locations.get``)."""

from __future__ import annotations

import logging
import uuid

from nats.errors import Error as NatsError
from pydantic import ValidationError

from application.domain.exceptions import CatalogUnavailable, LocationNotFound
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import NatsConnection

log = logging.getLogger(__name__)


class NatsLocationDirectory:
    """Implements ``application.domain.bookings.LocationDirectory``.

    Asked on each use, never cached: a replica would not hear of a changed opening time (the
    catalogue publishes no location events), and the answer is one indexed read."""

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
