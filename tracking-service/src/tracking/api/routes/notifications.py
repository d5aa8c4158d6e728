"""The in-app inbox: ``GET /api/v1/notifications``, ``POST …/{id}/read``, ``POST …/read-all``,
and the operators' view of outgoing email/SMS (``GET …/outgoing``, platform admins)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from mpp_shared.auth import require_roles
from mpp_shared.auth.principal import Principal, Role
from mpp_shared.deps import SessionDep
from mpp_shared.pagination import InvalidCursor, PageQuery, decode_cursor, encode_cursor
from mpp_shared.problems import Problem
from tracking.api.reader import CurrentReader
from tracking.db.notifications import NotificationRepository

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationRead(BaseModel):
    id: uuid.UUID
    kind: str
    # "account": addressed to the caller; "agency": the agency inbox all its staff share.
    audience: Literal["account", "agency"]
    # What the notification is about: an application (``subject_number`` its registration
    # number), a counter booking (its queue number, None before check-in) or a complaint or
    # consultation case (its tracking number); all three None for a notification about none
    # of them (a webhook subscription disabled).
    subject_type: Literal["application", "booking", "complaint"] | None
    subject_id: uuid.UUID | None
    subject_number: str | None
    # An application's only: the one the notification is about, or the one a complaint case
    # is about (its registration number None while tracking does not know the application);
    # None for a booking and for a case about no application.
    application_id: uuid.UUID | None
    registration_number: str | None
    title: str
    body: str
    created_at: datetime
    read: bool


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None


class NotificationQuery(PageQuery):
    unread: bool = False


class ReadAllResult(BaseModel):
    marked_read: int


class OutgoingMessageRead(BaseModel):
    id: uuid.UUID
    notification_id: uuid.UUID
    channel: str
    account_id: uuid.UUID
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class OutgoingPage(BaseModel):
    items: list[OutgoingMessageRead]
    next_cursor: str | None


class OutgoingQuery(PageQuery):
    status: Literal["pending", "sent", "no_contact", "failed"] | None = None


class NotificationNotFound(Problem):
    status = 404
    code = "not_found"


def _position(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    value = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(value["t"]), uuid.UUID(value["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidCursor("The cursor is not one this list gave out.") from exc


def _cursor(created_at: datetime, item_id: uuid.UUID) -> str:
    return encode_cursor({"t": created_at.isoformat(), "id": str(item_id)})


@router.get("")
async def list_notifications(
    reader: CurrentReader, session: SessionDep, query: Annotated[NotificationQuery, Query()]
) -> NotificationPage:
    """Newest first; ``?unread=true`` for the unread ones only."""
    items = await NotificationRepository(session).inbox(
        reader, unread_only=query.unread, limit=query.limit + 1, after=_position(query.cursor)
    )
    page, more = items[: query.limit], len(items) > query.limit
    return NotificationPage(
        items=[NotificationRead.model_validate(item, from_attributes=True) for item in page],
        next_cursor=_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


@router.post("/read-all")
async def read_all(reader: CurrentReader, session: SessionDep) -> ReadAllResult:
    marked = await NotificationRepository(session).mark_all_read(reader, at=datetime.now(UTC))
    return ReadAllResult(marked_read=marked)


@router.get("/outgoing")
async def list_outgoing(
    _: Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN))],
    session: SessionDep,
    query: Annotated[OutgoingQuery, Query()],
) -> OutgoingPage:
    """Email and SMS copies and how their delivery went (no addresses: resolved at send time)."""
    items = await NotificationRepository(session).outgoing(
        status=query.status, limit=query.limit + 1, after=_position(query.cursor)
    )
    page, more = items[: query.limit], len(items) > query.limit
    return OutgoingPage(
        items=[OutgoingMessageRead.model_validate(item, from_attributes=True) for item in page],
        next_cursor=_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


@router.post("/{notification_id}/read", status_code=204)
async def read_one(notification_id: uuid.UUID, reader: CurrentReader, session: SessionDep) -> None:
    if not await NotificationRepository(session).mark_read(
        notification_id, reader, at=datetime.now(UTC)
    ):
        raise NotificationNotFound("No such notification.")
