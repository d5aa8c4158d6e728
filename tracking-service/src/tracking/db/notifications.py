"""Tables and queries of the notification inboxes, their read marks and outgoing messages."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from mpp_shared.db.bulk import insert_select, row_arrays
from mpp_shared.scheduler import claim_due
from tracking.db.tables import Base
from tracking.domain.notifications import ChannelName, NotificationDraft, Subject
from tracking.domain.timeline import Reader


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_id", "kind"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID)
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    agency_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    # What the notification is about (None: no application, booking or case; a webhook).
    subject_type: Mapped[str | None] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    subject_number: Mapped[str | None] = mapped_column(String(64))
    # An application's only: the one the notification is about, or the one a case is about.
    application_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    registration_number: Mapped[str | None] = mapped_column(String(64))
    # An agency notification for one role of its staff only (None: all of them).
    staff_role: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotificationRead(Base):
    __tablename__ = "notification_reads"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutgoingMessageRow(Base):
    __tablename__ = "outgoing_messages"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[uuid.UUID] = mapped_column(UUID)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


_NOTE = cast(Table, Notification.__table__)
_READ = cast(Table, NotificationRead.__table__)
_OUT = cast(Table, OutgoingMessageRow.__table__)
# add_all's statements, built once (the rows are parameters; these are their keys).
_ADD_NOTIFICATIONS = (
    insert_select(
        _NOTE,
        (
            "id",
            "event_id",
            "kind",
            "account_id",
            "agency_id",
            "subject_type",
            "subject_id",
            "subject_number",
            "application_id",
            "registration_number",
            "staff_role",
            "title",
            "body",
            "created_at",
        ),
    )
    .on_conflict_do_nothing()
    .returning(_NOTE.c.id)
)
_ADD_OUTGOING = insert_select(
    _OUT,
    (
        "id",
        "notification_id",
        "channel",
        "account_id",
        "subject",
        "body",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
    ),
)


@dataclass(frozen=True, slots=True)
class NewNotification:
    """A notification to store: what it says, the event it comes from, what it is about, and
    the application concerned (the subject itself, or the application a case is about)."""

    draft: NotificationDraft
    event_id: uuid.UUID
    subject: Subject | None
    application_id: uuid.UUID | None = None
    registration_number: str | None = None
    staff_role: str | None = None

    @classmethod
    def about_application(
        cls,
        draft: NotificationDraft,
        *,
        event_id: uuid.UUID,
        application_id: uuid.UUID,
        registration_number: str,
    ) -> NewNotification:
        return cls(
            draft,
            event_id,
            Subject("application", application_id, registration_number),
            application_id,
            registration_number,
        )


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: uuid.UUID
    kind: str
    subject_type: str | None
    subject_id: uuid.UUID | None
    subject_number: str | None
    application_id: uuid.UUID | None
    registration_number: str | None
    title: str
    body: str
    created_at: datetime
    read: bool
    audience: str


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message leased for one attempt, the ``attempt``-th (its lease: only this attempt may
    record the outcome)."""

    id: uuid.UUID
    channel: ChannelName
    account_id: uuid.UUID
    subject: str
    body: str
    attempt: int


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
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


def _visible(reader: Reader) -> ColumnElement[bool]:
    """A reader's inbox: their own notifications, and a staff member's agency inbox."""
    audience: list[ColumnElement[bool]] = []
    if reader.account_id is not None:
        audience.append(_NOTE.c.account_id == reader.account_id)
    if reader.is_staff and reader.agency_id is not None:
        audience.append(
            and_(
                _NOTE.c.agency_id == reader.agency_id,
                or_(_NOTE.c.staff_role.is_(None), _NOTE.c.staff_role.in_(sorted(reader.roles))),
            )
        )
    return or_(*audience) if audience else false()


def _read_by(account_id: uuid.UUID | None) -> ColumnElement[bool]:
    if account_id is None:
        return false()
    return exists().where(_READ.c.notification_id == _NOTE.c.id, _READ.c.account_id == account_id)


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        draft: NotificationDraft,
        *,
        event_id: uuid.UUID,
        at: datetime,
        subject: Subject | None = None,
        application_id: uuid.UUID | None = None,
        registration_number: str | None = None,
        staff_role: str | None = None,
    ) -> uuid.UUID | None:
        """Store the notification and its outgoing copies; None if this event gave it already."""
        [stored] = await self.add_all(
            [
                NewNotification(
                    draft, event_id, subject, application_id, registration_number, staff_role
                )
            ],
            at=at,
        )
        return stored

    async def add_all(
        self, notifications: Sequence[NewNotification], *, at: datetime
    ) -> list[uuid.UUID | None]:
        """Store the notifications in one statement and their outgoing copies in another;
        for each its id, or None if its event gave it already.

        They are created at ``at`` a microsecond apart in the order given (the events'
        arrival order), so an inbox, newest first, shows a batch's notifications in the order
        one at a time would have."""
        if not notifications:
            return []
        ids = [uuid.uuid4() for _ in notifications]
        times = [at + timedelta(microseconds=n) for n in range(len(notifications))]
        rows = [
            {
                "id": notification_id,
                "event_id": n.event_id,
                "kind": n.draft.kind,
                "account_id": n.draft.account_id,
                "agency_id": n.draft.agency_id,
                "subject_type": n.subject.type if n.subject else None,
                "subject_id": n.subject.id if n.subject else None,
                "subject_number": n.subject.number if n.subject else None,
                "application_id": n.application_id,
                "registration_number": n.registration_number,
                "staff_role": n.staff_role,
                "title": n.draft.title,
                "body": n.draft.body,
                "created_at": created_at,
            }
            for notification_id, n, created_at in zip(ids, notifications, times, strict=True)
        ]
        result = await self._session.execute(_ADD_NOTIFICATIONS, row_arrays(_NOTE, rows))
        stored = set(result.scalars())
        outgoing = [
            {
                "id": uuid.uuid4(),
                "notification_id": notification_id,
                "channel": channel,
                "account_id": n.draft.account_id,
                "subject": n.draft.title,
                "body": n.draft.body,
                "status": "pending",
                "attempts": 0,
                "created_at": created_at,
                "next_attempt_at": created_at,
            }
            for notification_id, n, created_at in zip(ids, notifications, times, strict=True)
            if notification_id in stored and n.draft.account_id is not None
            for channel in n.draft.channels
        ]
        if outgoing:
            await self._session.execute(_ADD_OUTGOING, row_arrays(_OUT, outgoing))
        return [i if i in stored else None for i in ids]

    async def inbox(
        self,
        reader: Reader,
        *,
        unread_only: bool,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[InboxItem]:
        """Newest first; ``after`` is the (created_at, id) of the last item of the last page."""
        read = _read_by(reader.account_id)
        query = select(_NOTE, read.label("read")).where(_visible(reader))
        if unread_only:
            query = query.where(~read)
        if after is not None:
            query = query.where(tuple_(_NOTE.c.created_at, _NOTE.c.id) < tuple_(*after))
        rows = await self._session.execute(
            query.order_by(_NOTE.c.created_at.desc(), _NOTE.c.id.desc()).limit(limit)
        )
        return [
            InboxItem(
                id=row.id,
                kind=row.kind,
                subject_type=row.subject_type,
                subject_id=row.subject_id,
                subject_number=row.subject_number,
                application_id=row.application_id,
                registration_number=row.registration_number,
                title=row.title,
                body=row.body,
                created_at=row.created_at,
                read=bool(row.read),
                audience="account" if row.account_id is not None else "agency",
            )
            for row in rows
        ]

    async def mark_read(self, notification_id: uuid.UUID, reader: Reader, *, at: datetime) -> bool:
        """False when the reader has no such notification."""
        if reader.account_id is None:
            return False
        found = await self._session.execute(
            select(_NOTE.c.id).where(_NOTE.c.id == notification_id, _visible(reader))
        )
        if found.scalar_one_or_none() is None:
            return False
        await self._session.execute(
            insert(_READ)
            .values(notification_id=notification_id, account_id=reader.account_id, read_at=at)
            .on_conflict_do_nothing()
        )
        return True

    async def mark_all_read(self, reader: Reader, *, at: datetime) -> int:
        if reader.account_id is None:
            return 0
        unread = select(
            _NOTE.c.id,
            literal(reader.account_id, UUID),
            literal(at, DateTime(timezone=True)),
        ).where(_visible(reader), ~_read_by(reader.account_id))
        result = await self._session.execute(
            insert(_READ)
            .from_select(["notification_id", "account_id", "read_at"], unread)
            .on_conflict_do_nothing()
            .returning(_READ.c.notification_id)
        )
        return len(result.all())

    # ---- outgoing messages -------------------------------------------------------------------

    async def lease_due(
        self, *, channels: Collection[str], limit: int, lease: timedelta
    ) -> list[PendingMessage]:
        """Pending messages of ``channels`` due now, leased: their attempt counted and not due
        again until ``lease`` has passed (the database's time). Rows another transaction holds
        are skipped (``FOR UPDATE SKIP LOCKED``); the sender commits the lease before it sends,
        and a sender that dies mid-way leaves the message due again when the lease ends."""
        if not channels or limit <= 0:
            return []
        rows = await claim_due(
            self._session,
            _OUT,
            _OUT.c.next_attempt_at,
            where=[_OUT.c.status == "pending", _OUT.c.channel.in_(sorted(channels))],
            limit=limit,
        )
        if not rows:
            return []
        await self._session.execute(
            _OUT.update()
            .where(_OUT.c.id.in_([row.id for row in rows]))
            .values(attempts=_OUT.c.attempts + 1, next_attempt_at=func.now() + lease)
        )
        return [
            PendingMessage(
                id=row.id,
                channel=row.channel,
                account_id=row.account_id,
                subject=row.subject,
                body=row.body,
                attempt=row.attempts + 1,
            )
            for row in rows
        ]

    async def settle(
        self,
        message: PendingMessage,
        *,
        status: str,
        error: str | None = None,
        retry_after: timedelta | None = None,
    ) -> bool:
        """Record the outcome of the leased attempt: ``sent``, ``no_contact``, ``failed``, or
        ``pending`` again after ``retry_after``. False (nothing changed) when the lease was
        lost: another sender took the message after it ran out, and records its own attempt."""
        values: dict[str, object] = {"status": status, "last_error": error}
        if status == "sent":
            values["sent_at"] = func.now()
        if retry_after is not None:
            values["next_attempt_at"] = func.now() + retry_after
        result = await self._session.execute(
            _OUT.update()
            .where(
                _OUT.c.id == message.id,
                _OUT.c.status == "pending",
                _OUT.c.attempts == message.attempt,
            )
            .values(**values)
            .returning(_OUT.c.id)
        )
        return result.first() is not None

    async def outgoing(
        self, *, status: str | None, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[OutgoingRecord]:
        query = select(_OUT)
        if status is not None:
            query = query.where(_OUT.c.status == status)
        if after is not None:
            query = query.where(tuple_(_OUT.c.created_at, _OUT.c.id) < tuple_(*after))
        rows = await self._session.execute(
            query.order_by(_OUT.c.created_at.desc(), _OUT.c.id.desc()).limit(limit)
        )
        return [
            OutgoingRecord(
                id=row.id,
                notification_id=row.notification_id,
                channel=row.channel,
                account_id=row.account_id,
                subject=row.subject,
                status=row.status,
                attempts=row.attempts,
                last_error=row.last_error,
                created_at=row.created_at,
                sent_at=row.sent_at,
            )
            for row in rows
        ]


def retry_delay(attempts: int) -> timedelta:
    """Backoff between delivery attempts: 30 s, 1 min, 2 min … at most an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(attempts - 1, 0)))
