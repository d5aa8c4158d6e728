"""Dependencies of the application routes: repository, events, runtime parts, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from application.db.repositories import SqlApplicationRepository
from application.messaging.publishers import OutboxApplicationEvents
from application.runtime import ApplicationRuntime
from mpp_shared.deps import RuntimeDep, SessionDep
from mpp_shared.pagination import PageParams, page_params


async def get_application_runtime(runtime: RuntimeDep) -> ApplicationRuntime:
    return runtime.state_as(ApplicationRuntime)


AppRuntime = Annotated[ApplicationRuntime, Depends(get_application_runtime)]


async def get_repository(session: SessionDep, runtime: AppRuntime) -> SqlApplicationRepository:
    return SqlApplicationRepository(session, versions=runtime.versions, serials=runtime.serials)


async def get_events(session: SessionDep) -> OutboxApplicationEvents:
    return OutboxApplicationEvents(session)


Repository = Annotated[SqlApplicationRepository, Depends(get_repository)]
Events = Annotated[OutboxApplicationEvents, Depends(get_events)]

Pagination = Annotated[PageParams, Depends(page_params)]
