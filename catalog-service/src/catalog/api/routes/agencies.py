"""``/api/v1/agencies``: the agencies that offer services, and who may add or change them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from catalog.api.deps import Events, Pagination, ReadPool, Repository
from catalog.api.http_cache import LIST_MAX_AGE, cacheable_json, page_body
from catalog.api.routes.regions import REGION_CODE
from catalog.api.schemas import AgencyCreate, AgencyRead, AgencyUpdate
from catalog.db import queries
from catalog.domain import services
from catalog.domain.exceptions import AgencyNotFound
from catalog.domain.models import Agency, AgencyKind
from mpp_shared.auth import CurrentPrincipal
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import IdempotencyKey, idempotent, request_fingerprint
from mpp_shared.pagination import Page, encode_cursor

router = APIRouter(prefix="/api/v1/agencies", tags=["agencies"])


@router.get("", response_model=Page[AgencyRead])
async def list_agencies(
    request: Request,
    pool: ReadPool,
    page: Pagination,
    region_code: Annotated[
        str | None, Query(pattern=REGION_CODE, description="agencies in this region or below")
    ] = None,
    kind: AgencyKind | None = None,
) -> Response:
    rows = await queries.list_agencies(
        pool,
        region_code=region_code,
        kind=kind.value if kind else None,
        limit=page.limit,
        after=queries.after_name_id(page.cursor),
    )
    cursor = encode_cursor(rows.next_position) if rows.next_position else None
    return cacheable_json(request, page_body(rows.items, cursor), max_age=LIST_MAX_AGE)


@router.get("/{agency_id}", response_model=AgencyRead)
async def get_agency(request: Request, pool: ReadPool, agency_id: uuid.UUID) -> Response:
    item = await queries.get_agency(pool, agency_id)
    if item is None:
        raise AgencyNotFound()
    return cacheable_json(request, item.encode(), max_age=LIST_MAX_AGE)


@router.post("", status_code=201, response_model=AgencyRead)
async def create_agency(
    request: Request,
    body: AgencyCreate,
    principal: CurrentPrincipal,
    repo: Repository,
    events: Events,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Platform admins only. ``region_code`` must be an existing Kemendagri region."""

    async def create() -> tuple[int, object]:
        agency = await services.create_agency(
            repo=repo, events=events, principal=principal, fields=body
        )
        return 201, _agency_json(agency, region_name=await _region_name(repo, agency))

    return await idempotent(
        session=session,
        scope=f"POST {request.url.path} {principal.subject}",
        key=idempotency_key,
        fingerprint=request_fingerprint(body.model_dump(mode="json")),
        create=create,
    )


@router.patch("/{agency_id}", response_model=AgencyRead)
async def update_agency(
    agency_id: uuid.UUID,
    body: AgencyUpdate,
    principal: CurrentPrincipal,
    repo: Repository,
    events: Events,
) -> JSONResponse:
    """Platform admins, or an agency admin of this agency (contact details, service pledge)."""
    agency = await services.update_agency(
        repo=repo, events=events, principal=principal, agency_id=agency_id, patch=body
    )
    return JSONResponse(_agency_json(agency, region_name=await _region_name(repo, agency)))


async def _region_name(repo: Repository, agency: Agency) -> str:
    return await repo.region_name(agency.region_code) or ""


def _agency_json(agency: Agency, *, region_name: str) -> dict[str, object]:
    data = agency.model_dump(mode="json")
    data["region_name"] = region_name
    return data
