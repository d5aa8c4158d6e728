"""Cursor pagination as API.md fixes it: ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from mpp_shared.problems import Problem
from mpp_shared.text import contains_invalid_text

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 512


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(Problem):
    status = 422
    code = "invalid_cursor"


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor: the sort key of the last item returned (keyset pagination)."""
    raw = json.dumps(position, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("The cursor is not one this API gave out.") from exc
    # A forged cursor's strings reach SQL parameters: NUL or a lone surrogate would be a 500.
    if not isinstance(value, dict) or contains_invalid_text(value):
        raise InvalidCursor("The cursor is not one this API gave out.")
    return value


class PageParams(BaseModel):
    limit: int
    cursor: dict[str, Any] | None

    @classmethod
    def of(cls, limit: int, cursor: str | None) -> PageParams:
        """From the query's values: the cursor decoded (422 ``invalid_cursor`` if foreign)."""
        return cls(limit=limit, cursor=decode_cursor(cursor) if cursor else None)


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> PageParams:
    """Dependency: ``?limit=`` (1 to 100, default 20) and ``?cursor=``.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker
    thread, a hop that costs more than the work on every list request.
    """
    return PageParams.of(limit, cursor)


class PageQuery(BaseModel):
    """``?limit=`` and ``?cursor=`` as fields of a query-parameter model.

    A list endpoint with filters subclasses it with its own fields and declares
    ``Annotated[Model, Query()]``: FastAPI then validates the whole query in one pass, not
    parameter by parameter (about half its per-request cost on a search with seven).
    """

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")
    cursor: str | None = Field(
        None, max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page."
    )

    def page(self) -> PageParams:
        return PageParams.of(self.limit, self.cursor)
