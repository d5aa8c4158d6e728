"""``/api/v1/staff``: platform admins and agency admins create and list staff accounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse

from identity.api.deps import ComponentsDep, ReposDep, actor_of
from identity.api.idempotency import idempotent
from identity.api.paging import PageDep, next_cursor, page_request
from identity.api.schemas import StaffCreate, StaffRead
from identity.domain.accounts import NewStaff, create_staff
from identity.domain.exceptions import NotAllowed
from mpp_shared.auth import Principal, Role, require_roles
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import IdempotencyKey
from mpp_shared.pagination import Page

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])

StaffAdmin = Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN, Role.AGENCY_ADMIN))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StaffRead)
async def add_staff(
    body: StaffCreate,
    principal: StaffAdmin,
    session: SessionDep,
    repos: ReposDep,
    components: ComponentsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """An officer or agency admin; agency admins only for their own agency. The new account
    must enrol TOTP at its first login. 422 ``unknown_agency`` for an agency the catalogue
    has not announced. Honours ``Idempotency-Key``."""

    async def create() -> StaffRead:
        account = await create_staff(
            actor=actor_of(principal),
            staff=NewStaff(
                email=body.email,
                full_name=body.full_name,
                password=body.password,
                role=body.role,
                agency_id=body.agency_id,
            ),
            password_min_length=components.settings.password_min_length,
            accounts=repos.accounts,
            agencies=repos.agencies,
            hasher=components.hasher,
            events=repos.events,
            now=datetime.now(UTC),
        )
        return StaffRead.of(account)

    return await idempotent(
        session=session,
        components=components,
        key=idempotency_key,
        scope=f"POST /api/v1/staff {principal.subject}",
        payload=body,
        status_code=status.HTTP_201_CREATED,
        create=create,
    )


@router.get("", response_model=Page[StaffRead])
async def list_staff(
    principal: StaffAdmin,
    repos: ReposDep,
    page: PageDep,
    agency_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[StaffRead]:
    """Staff of an agency (agency admins: their own), oldest first."""
    if not principal.has_role(Role.PLATFORM_ADMIN):
        if agency_id is not None and agency_id != principal.agency_id:
            raise NotAllowed("Agency admins see their own agency's staff only.")
        agency_id = principal.agency_id
    accounts = await repos.accounts.list_staff(agency_id=agency_id, page=page_request(page))
    return Page(
        items=[StaffRead.of(a) for a in accounts],
        next_cursor=next_cursor(
            accounts, limit=page.limit, key=lambda a: (a.created_at, str(a.id))
        ),
    )
