"""``/api/v1/locations``: the physical MPP buildings, their counters and what each serves."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from catalog.api.deps import Pagination, ReadPool
from catalog.api.http_cache import LIST_MAX_AGE, cacheable_json, page_body
from catalog.api.routes.regions import REGION_CODE
from catalog.api.schemas import LocationRead
from catalog.db import queries
from catalog.domain.exceptions import LocationNotFound
from mpp_shared.pagination import Page, encode_cursor

router = APIRouter(prefix="/api/v1/locations", tags=["locations"])


@router.get("", response_model=Page[LocationRead])
async def list_locations(
    request: Request,
    pool: ReadPool,
    page: Pagination,
    region_code: Annotated[
        str | None, Query(pattern=REGION_CODE, description="locations in this region or below")
    ] = None,
    agency_id: Annotated[
        uuid.UUID | None, Query(description="locations with a counter of this agency")
    ] = None,
    service_id: Annotated[
        uuid.UUID | None, Query(description="locations with a counter serving this service")
    ] = None,
) -> Response:
    rows = await queries.list_locations(
        pool,
        region_code=region_code,
        agency_id=agency_id,
        service_id=service_id,
        limit=page.limit,
        after=queries.after_name_id(page.cursor),
    )
    cursor = encode_cursor(rows.next_position) if rows.next_position else None
    return cacheable_json(request, page_body(rows.items, cursor), max_age=LIST_MAX_AGE)


@router.get("/{location_id}", response_model=LocationRead)
async def get_location(request: Request, pool: ReadPool, location_id: uuid.UUID) -> Response:
    item = await queries.get_location(pool, location_id)
    if item is None:
        raise LocationNotFound()
    return cacheable_json(request, item.encode(), max_age=LIST_MAX_AGE)
