"""NATS request-reply: the catalogue snapshot for services that start after the events expired,
one MPP location's hours and counters, and the snapshot of every location (for the read copy
of counter bookings).

``rpc.catalog.services.snapshot``, ``rpc.catalog.locations.get`` and
``rpc.catalog.locations.snapshot`` (contracts in
``mpp_shared.contracts.catalog.v1``); only application-service may ask
(``mpp_shared.events.permissions``). Replicas share the requests through one queue group; each
request is read in a transaction of its own.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.repositories import SqlLocationReader, SqlSnapshotReader
from catalog.domain.snapshot import InvalidCursor, services_snapshot
from mpp_shared.contracts.catalog import v1 as contract
from mpp_shared.events import NatsConnection
from mpp_shared.events.rpc import RpcResponder

log = logging.getLogger(__name__)

QUEUE = "catalog"


async def answer_snapshot(body: bytes, sessionmaker: async_sessionmaker[AsyncSession]) -> BaseModel:
    """One page of the snapshot, or an ``RpcError`` reply (never an exception)."""
    try:
        request = contract.ServicesSnapshotRequest.model_validate_json(body or b"{}")
        async with sessionmaker() as session, session.begin():
            return await services_snapshot(reader=SqlSnapshotReader(session), request=request)
    except ValidationError as exc:
        return contract.RpcError(
            error="invalid_request",
            detail="; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3]
            ),
        )
    except InvalidCursor as exc:
        return contract.RpcError(error="invalid_request", detail=f"after: {exc}")
    except Exception:
        log.exception("catalogue snapshot request failed")
        return contract.RpcError(error="internal_error")


def snapshot_responder(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    subject: str = contract.SNAPSHOT_SUBJECT,
    queue: str = QUEUE,
) -> RpcResponder:
    """The worker answering ``SNAPSHOT_SUBJECT`` in the queue group."""

    async def reply(body: bytes) -> BaseModel:
        return await answer_snapshot(body, sessionmaker)

    return RpcResponder(subject=subject, queue=queue, reply=reply, connection=connection)


async def answer_location(body: bytes, sessionmaker: async_sessionmaker[AsyncSession]) -> BaseModel:
    """The location's hours and counters, or an ``RpcError`` reply (never an exception)."""
    try:
        request = contract.LocationRequest.model_validate_json(body or b"{}")
        async with sessionmaker() as session, session.begin():
            found = await SqlLocationReader(session).location(request.location_id)
    except ValidationError:
        return contract.RpcError(error="invalid_request", detail="location_id: a UUID")
    except Exception:
        log.exception("location request failed")
        return contract.RpcError(error="internal_error")
    if found is None:
        return contract.RpcError(error="not_found")
    return found


def location_responder(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    subject: str = contract.LOCATION_SUBJECT,
    queue: str = QUEUE,
) -> RpcResponder:
    """The worker answering ``LOCATION_SUBJECT`` in the queue group."""

    async def reply(body: bytes) -> BaseModel:
        return await answer_location(body, sessionmaker)

    return RpcResponder(subject=subject, queue=queue, reply=reply, connection=connection)


async def answer_locations_snapshot(
    body: bytes, sessionmaker: async_sessionmaker[AsyncSession]
) -> BaseModel:
    """One page of every location by id, or an ``RpcError`` reply (never an exception)."""
    try:
        request = contract.LocationsSnapshotRequest.model_validate_json(body or b"{}")
        async with sessionmaker() as session, session.begin():
            items = await SqlLocationReader(session).locations(
                after=request.after, limit=request.limit
            )
    except ValidationError:
        return contract.RpcError(error="invalid_request", detail="after: a UUID; limit: 1-100")
    except Exception:
        log.exception("locations snapshot request failed")
        return contract.RpcError(error="internal_error")
    full = len(items) == request.limit
    return contract.LocationsSnapshotPage(items=items, next=items[-1].location_id if full else None)


def locations_snapshot_responder(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    subject: str = contract.LOCATIONS_SNAPSHOT_SUBJECT,
    queue: str = QUEUE,
) -> RpcResponder:
    """The worker answering ``LOCATIONS_SNAPSHOT_SUBJECT`` in the queue group."""

    async def reply(body: bytes) -> BaseModel:
        return await answer_locations_snapshot(body, sessionmaker)

    return RpcResponder(subject=subject, queue=queue, reply=reply, connection=connection)
