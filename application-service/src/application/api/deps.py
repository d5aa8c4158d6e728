"""Dependencies of the application routes: repository, events, runtime parts, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from application.db.repositories import SqlApplicationRepository
from application.messaging.publishers import OutboxApplicationEvents
from application.runtime import ApplicationRuntime
from mpp_shared.deps import SessionDep, runtime_of
from mpp_shared.pagination import PageParams, page_params


async def get_application_runtime(request: Request) -> ApplicationRuntime:
    return runtime_of(request).state_as(ApplicationRuntime)


AppRuntime = Annotated[ApplicationRuntime, Depends(get_application_runtime)]


async def get_repository(session: SessionDep, request: Request) -> SqlApplicationRepository:
    return repository_on(session, runtime_of(request).state_as(ApplicationRuntime))


def repository_on(
    session: AsyncSession | AsyncConnection, runtime: ApplicationRuntime
) -> SqlApplicationRepository:
    """The repository on a session, or on a connection in autocommit, with the runtime's
    caches."""
    return SqlApplicationRepository(session, versions=runtime.versions, serials=runtime.serials)


async def get_events(session: SessionDep) -> OutboxApplicationEvents:
    return OutboxApplicationEvents(session)


Repository = Annotated[SqlApplicationRepository, Depends(get_repository)]
Events = Annotated[OutboxApplicationEvents, Depends(get_events)]

Pagination = Annotated[PageParams, Depends(page_params)]
