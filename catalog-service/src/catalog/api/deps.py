"""Dependencies of the catalogue's routes: the read pool, repositories, events, the caller.

All are ``async def`` although most await nothing: FastAPI runs a plain ``def`` dependency in
a worker thread, and those hops (two per list request) cost more CPU than the search itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from catalog.db.read_pool import QueuedPool
from catalog.db.repositories import SqlCatalogRepository
from catalog.messaging.publishers import OutboxCatalogEvents
from catalog.runtime import CatalogRuntime
from mpp_shared.deps import RuntimeDep, SessionDep
from mpp_shared.pagination import PageParams, page_params


async def get_read_pool(runtime: RuntimeDep) -> QueuedPool:
    """The connections for reads (see ``catalog.db.queries``)."""
    return runtime.state_as(CatalogRuntime).open_read_pool()


async def get_repository(session: SessionDep) -> SqlCatalogRepository:
    return SqlCatalogRepository(session)


async def get_events(session: SessionDep) -> OutboxCatalogEvents:
    return OutboxCatalogEvents(session)


ReadPool = Annotated[QueuedPool, Depends(get_read_pool)]
Pagination = Annotated[PageParams, Depends(page_params)]
Repository = Annotated[SqlCatalogRepository, Depends(get_repository)]
Events = Annotated[OutboxCatalogEvents, Depends(get_events)]
