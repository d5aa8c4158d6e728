"""``/api/v1/regions``: the Kemendagri hierarchy."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from catalog.api.deps import Pagination, ReadPool
from catalog.api.http_cache import cacheable_json, page_body
from catalog.api.schemas import RegionRead
from catalog.db import queries
from catalog.domain.exceptions import RegionNotFound
from mpp_shared.pagination import Page, encode_cursor

router = APIRouter(prefix="/api/v1/regions", tags=["regions"])

REGION_CODE = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
# Reference data changes only with a new release of the data package.
REGION_MAX_AGE = 3600


@router.get("", response_model=Page[RegionRead])
async def list_regions(
    request: Request,
    pool: ReadPool,
    page: Pagination,
    parent: Annotated[str | None, Query(pattern=REGION_CODE)] = None,
    level: Literal["province", "regency", "district", "village"] | None = None,
    q: Annotated[
        str | None, Query(min_length=2, max_length=100, description="part of the name")
    ] = None,
) -> Response:
    """Regions by code; ``parent`` gives the children of one region, ``level`` one level."""
    rows = await queries.list_regions(
        pool,
        parent=parent,
        level=level,
        name=q,
        limit=page.limit,
        after_code=queries.after_code(page.cursor),
    )
    cursor = encode_cursor(rows.next_position) if rows.next_position else None
    return cacheable_json(request, page_body(rows.items, cursor), max_age=REGION_MAX_AGE)


@router.get("/{code}", response_model=RegionRead)
async def get_region(
    request: Request, pool: ReadPool, code: Annotated[str, Path(pattern=REGION_CODE)]
) -> Response:
    item = await queries.get_region(pool, code)
    if item is None:
        raise RegionNotFound()
    return cacheable_json(request, item.encode(), max_age=REGION_MAX_AGE)
