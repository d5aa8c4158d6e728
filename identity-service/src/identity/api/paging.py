"""Keyset pagination for the identity lists: the cursor holds the last item's time and id."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends

from identity.domain.models import PageRequest
from mpp_shared.pagination import InvalidCursor, PageParams, encode_cursor, page_params

T = TypeVar("T")

PageDep = Annotated[PageParams, Depends(page_params)]


def page_request(params: PageParams, *, uuid_ids: bool = True) -> PageRequest:
    cursor = params.cursor
    if cursor is None:
        return PageRequest(limit=params.limit)
    try:
        at = datetime.fromisoformat(cursor["at"])
        last_id = str(cursor["id"])
        if uuid_ids:
            uuid.UUID(last_id)
    except (KeyError, TypeError, ValueError):
        raise InvalidCursor("The cursor is not one this API gave out.") from None
    return PageRequest(limit=params.limit, after=(at, last_id))


def next_cursor(
    items: Sequence[T], *, limit: int, key: Callable[[T], tuple[datetime | None, str]]
) -> str | None:
    """A cursor after the last item when the page is full (there may be more)."""
    if len(items) < limit:
        return None
    at, last_id = key(items[-1])
    if at is None:
        return None
    return encode_cursor({"at": at.isoformat(), "id": last_id})
