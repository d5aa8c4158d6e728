"""``/api/v1/services``: search, read a version, and a service's draft → publish → retire life."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from catalog.api.deps import Events, ReadPool, Repository
from catalog.api.http_cache import (
    LATEST_MAX_AGE,
    LIST_MAX_AGE,
    VERSION_MAX_AGE,
    cacheable_json,
    page_body,
    private_json,
)
from catalog.api.routes.regions import REGION_CODE
from catalog.api.schemas import ServiceCreate, ServiceDraftUpdate, ServiceRead, ServiceSummary
from catalog.db import queries
from catalog.domain import services
from catalog.domain.exceptions import ServiceNotFound
from catalog.domain.models import Category, Channel, ServiceFields, ServiceHeader, ServiceVersion
from mpp_shared.auth import CurrentPrincipal
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import IdempotencyKey, idempotent, request_fingerprint
from mpp_shared.openapi import problems
from mpp_shared.pagination import Page, PageQuery, encode_cursor

router = APIRouter(prefix="/api/v1/services", tags=["services"])


class ServiceSearch(PageQuery):
    """The query of ``GET /api/v1/services``: one model, validated in one pass."""

    q: str | None = Field(
        None,
        max_length=200,
        description="Words to find in name, keywords and description (Indonesian stemming; "
        'prefixes and small typos match too; "quotes" and -minus as in web search).',
    )
    agency_id: uuid.UUID | None = None
    region_code: str | None = Field(
        None,
        pattern=REGION_CODE,
        description="Services a resident of this region can use: offered there, below it, "
        "in a region above it, or nationwide.",
    )
    category: Category | None = None
    channel: Channel | None = None


@router.get("", response_model=Page[ServiceSummary])
async def search_services(
    request: Request, pool: ReadPool, search: Annotated[ServiceSearch, Query()]
) -> Response:
    """Published services: ranked by relevance with ``q``, by name without."""
    page = search.page()
    rows = await queries.search_services(
        pool,
        where=queries.ServiceFilter(
            q=search.q.strip() or None if search.q else None,
            agency_id=search.agency_id,
            region_code=search.region_code,
            category=search.category.value if search.category else None,
            channel=search.channel.value if search.channel else None,
        ),
        limit=page.limit,
        cursor=page.cursor,
    )
    cursor = encode_cursor(rows.next_position) if rows.next_position else None
    return cacheable_json(request, page_body(rows.items, cursor), max_age=LIST_MAX_AGE)


@router.get("/{service_id}", response_model=ServiceRead)
async def get_service(
    request: Request,
    pool: ReadPool,
    service_id: uuid.UUID,
    version: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """The latest published version, or ``?version=N``. Drafts are read at ``.../draft``."""
    found = await queries.get_service(pool, service_id, version)
    if found is None:
        raise ServiceNotFound()
    max_age = LATEST_MAX_AGE if version is None else VERSION_MAX_AGE
    return cacheable_json(request, found[1].encode(), max_age=max_age)


@router.post("", status_code=201, response_model=ServiceRead)
async def create_service(
    request: Request,
    body: ServiceCreate,
    principal: CurrentPrincipal,
    repo: Repository,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A new service as a draft (version 1), for an agency admin of ``agency_id``."""

    async def create() -> tuple[int, Any]:
        fields = ServiceFields.model_validate(body.model_dump(exclude={"agency_id", "code"}))
        header, draft = await services.create_service(
            repo=repo, principal=principal, agency_id=body.agency_id, code=body.code, fields=fields
        )
        return 201, _draft_document(header, draft)

    return await idempotent(
        session=session,
        scope=f"POST {request.url.path} {principal.subject}",
        key=idempotency_key,
        fingerprint=request_fingerprint(body.model_dump(mode="json")),
        create=create,
    )


@router.get("/{service_id}/draft", response_model=ServiceRead)
async def get_draft(
    service_id: uuid.UUID, principal: CurrentPrincipal, repo: Repository
) -> Response:
    header, draft = await services.get_draft(repo=repo, principal=principal, service_id=service_id)
    return private_json(json.dumps(_draft_document(header, draft)).encode())


@router.patch("/{service_id}/draft", response_model=ServiceRead)
async def edit_draft(
    service_id: uuid.UUID, body: ServiceDraftUpdate, principal: CurrentPrincipal, repo: Repository
) -> JSONResponse:
    """Change the draft; without one, a draft of the next version starts from the latest."""
    header, draft = await services.edit_draft(
        repo=repo, principal=principal, service_id=service_id, patch=body
    )
    return JSONResponse(_draft_document(header, draft), headers={"Cache-Control": "no-store"})


@router.post("/{service_id}/publish", response_model=ServiceRead, responses=problems(409))
async def publish_service(
    service_id: uuid.UUID, principal: CurrentPrincipal, repo: Repository, events: Events
) -> JSONResponse:
    """The draft becomes the next immutable published version (409 ``no_draft`` without one)."""
    document = await services.publish_service(
        repo=repo, events=events, principal=principal, service_id=service_id
    )
    return JSONResponse({**document, "latest_version": document["version"]})


@router.post("/{service_id}/retire", response_model=ServiceRead, responses=problems(409))
async def retire_service(
    service_id: uuid.UUID, principal: CurrentPrincipal, repo: Repository, events: Events
) -> JSONResponse:
    """No new applications from now on; the published versions stay readable."""
    document = await services.retire_service(
        repo=repo, events=events, principal=principal, service_id=service_id
    )
    return JSONResponse({**document, "latest_version": document["version"]})


def _draft_document(header: ServiceHeader, draft: ServiceVersion) -> dict[str, Any]:
    document = services.service_document(
        header=header,
        version=draft.version,
        fields=draft.fields,
        status="draft",
        published_at=None,
    )
    document["latest_version"] = header.published_version
    return document
