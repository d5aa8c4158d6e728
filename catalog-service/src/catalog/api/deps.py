"""Dependencies of the catalogue's routes: the read pool, repositories, events, the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from catalog.db.idempotency import IdempotencyStore
from catalog.db.repositories import SqlCatalogRepository
from catalog.messaging.publishers import OutboxCatalogEvents
from mpp_shared.deps import SessionDep

READ_POOL_EXTRAS_KEY = "catalog_read_pool"


def get_read_pool(request: Request) -> Any:
    """The asyncpg pool for reads (see ``catalog.db.queries``)."""
    pool = request.app.state.runtime.extras.get(READ_POOL_EXTRAS_KEY)
    if pool is None:
        raise RuntimeError("the read pool is not open: the app's lifespan has not started")
    return pool


def get_repository(session: SessionDep) -> SqlCatalogRepository:
    return SqlCatalogRepository(session)


def get_events(session: SessionDep) -> OutboxCatalogEvents:
    return OutboxCatalogEvents(session)


def get_idempotency_store(session: SessionDep) -> IdempotencyStore:
    return IdempotencyStore(session)


ReadPool = Annotated[Any, Depends(get_read_pool)]
Repository = Annotated[SqlCatalogRepository, Depends(get_repository)]
Events = Annotated[OutboxCatalogEvents, Depends(get_events)]
Idempotency = Annotated[IdempotencyStore, Depends(get_idempotency_store)]
