"""The catalogue snapshot: every published version as its ``ServicePublished`` payload, by pages.

A consumer that starts after the events stream dropped old events (retention) learns the
catalogue from here (``rpc.catalog.services.snapshot``, contract in
``mpp_shared.contracts.catalog.v1``). Pages are keyed by ``(service_id, version)``: a cursor
names the last version a page gave, so a page is the same whatever was published before it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from catalog.domain.models import Agency
from catalog.domain.services import published_event
from mpp_shared.contracts.catalog import v1 as contract

CURSOR_PREFIX = "v1:"


class InvalidCursor(ValueError):
    """A cursor this catalogue did not make."""


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    """A published version as stored: its public document, its agency as it is now, and the
    service's state (latest published version, when it was retired if it is)."""

    document: dict[str, Any]
    agency: Agency
    latest_version: int
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class Position:
    service_id: uuid.UUID
    version: int


class SnapshotReader(Protocol):
    async def published_versions(
        self, *, after: Position | None, limit: int, all_versions: bool
    ) -> list[PublishedVersion]:
        """At most ``limit`` published versions after ``after`` in (service_id, version) order;
        only each service's latest unless ``all_versions``."""
        ...


def encode_cursor(position: Position) -> str:
    return f"{CURSOR_PREFIX}{position.service_id}:{position.version}"


def decode_cursor(cursor: str) -> Position:
    if not cursor.startswith(CURSOR_PREFIX):
        raise InvalidCursor("unknown cursor")
    service_id, _, version = cursor[len(CURSOR_PREFIX) :].partition(":")
    try:
        return Position(uuid.UUID(service_id), int(version))
    except ValueError as exc:
        raise InvalidCursor("malformed cursor") from exc


async def services_snapshot(
    *,
    reader: SnapshotReader,
    request: contract.ServicesSnapshotRequest,
    max_bytes: int = contract.SNAPSHOT_MAX_PAGE_BYTES,
) -> contract.ServicesSnapshotPage:
    """One page: up to ``request.limit`` versions, fewer when their JSON would pass
    ``max_bytes`` (a page always has at least one version if any is left)."""
    after = decode_cursor(request.after) if request.after is not None else None
    rows = await reader.published_versions(
        after=after, limit=request.limit + 1, all_versions=request.all_versions
    )
    items: list[contract.ServicePublished] = []
    retired: list[contract.ServiceRetired] = []
    size = 0
    for row in rows[: request.limit]:
        item = published_event(row.document, row.agency)
        item_size = len(item.model_dump_json())
        if items and size + item_size > max_bytes:
            break
        items.append(item)
        size += item_size
        if row.retired_at is not None and item.version == row.latest_version:
            retired.append(
                contract.ServiceRetired(
                    service_id=item.service_id,
                    agency_id=item.agency_id,
                    version=item.version,
                    retired_at=row.retired_at,
                )
            )
    more = len(items) < len(rows)
    last = items[-1] if items else None
    return contract.ServicesSnapshotPage(
        items=items,
        retired=retired,
        next=encode_cursor(Position(last.service_id, last.version)) if more and last else None,
    )
