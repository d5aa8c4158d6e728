"""Webhook subscriptions, their deliveries (due-time rows) and every attempt, in SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from mpp_shared.db.bulk import in_array, insert_select, row_arrays
from tracking.db.tables import Base
from tracking.domain.webhooks import (
    DELIVERY_DEAD,
    DELIVERY_DELIVERED,
    DELIVERY_PENDING,
    Subscription,
)

metadata = Base.metadata

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("agency_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    # Fernet token of the signing secret: deliveries need it back, nobody may read it.
    Column("secret_encrypted", LargeBinary, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_at", DateTime(timezone=True)),
    Column("disabled_reason", Text),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("failing_since", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "subscription_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    # The exact bytes sent (the CloudEvent, structured mode): each attempt signs the same body.
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False),
    # Attempts in the current round (a redelivery starts a new round); the budget of retries.
    Column("attempts", Integer, nullable=False, server_default="0"),
    # When a pending delivery is due; a claimed one is leased until then.
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("dead_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    UniqueConstraint("subscription_id", "event_id"),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "delivery_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text),
)

# What the agency admins must be told (a subscription disabled); read by notifications.
webhook_alerts = Table(
    "webhook_alerts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("agency_id", UUID(as_uuid=True), nullable=False, index=True),
    Column(
        "subscription_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(20), nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        agency_id=row.agency_id,
        url=row.url,
        events=tuple(row.events),
        enabled=row.enabled,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        consecutive_failures=row.consecutive_failures,
    )


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_status_code: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: uuid.UUID
    delivery_id: uuid.UUID
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to queue: an event for one subscription."""

    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    body: str


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased to this replica: what it needs to make one attempt."""

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    secret_encrypted: bytes
    body: str
    attempts: int


_DELIVERY_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.event_id,
    webhook_deliveries.c.event_type,
    webhook_deliveries.c.status,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.delivered_at,
    webhook_deliveries.c.dead_at,
    webhook_deliveries.c.last_status_code,
    webhook_deliveries.c.last_error,
)

# The consumer's insert for every batch, built once (the rows are parameters: these keys).
_ADD_DELIVERIES = insert_select(
    webhook_deliveries,
    (
        "id",
        "subscription_id",
        "event_id",
        "event_type",
        "body",
        "status",
        "next_attempt_at",
        "created_at",
    ),
).on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])


class WebhookRepository:
    """Reads and writes in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- subscriptions ---------------------------------------------------------------------
    async def create(
        self,
        *,
        agency_id: uuid.UUID,
        url: str,
        events: Sequence[str],
        secret_encrypted: bytes,
        created_by: str,
        now: datetime,
    ) -> Subscription:
        row = (
            await self.session.execute(
                webhook_subscriptions.insert()
                .values(
                    id=uuid.uuid4(),
                    agency_id=agency_id,
                    url=url,
                    events=list(events),
                    secret_encrypted=secret_encrypted,
                    created_by=created_by,
                    created_at=now,
                )
                .returning(webhook_subscriptions)
            )
        ).one()
        return _subscription(row)

    async def get(self, subscription_id: uuid.UUID, *, agency_id: uuid.UUID) -> Subscription | None:
        row = (
            await self.session.execute(
                select(webhook_subscriptions).where(
                    webhook_subscriptions.c.id == subscription_id,
                    webhook_subscriptions.c.agency_id == agency_id,
                )
            )
        ).first()
        return _subscription(row) if row is not None else None

    async def list_for_agency(
        self, *, agency_id: uuid.UUID, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[Subscription]:
        c = webhook_subscriptions.c
        query = select(webhook_subscriptions).where(c.agency_id == agency_id)
        if after is not None:
            query = query.where(
                (c.created_at > after[0]) | and_(c.created_at == after[0], c.id > after[1])
            )
        rows = await self.session.execute(query.order_by(c.created_at, c.id).limit(limit))
        return [_subscription(r) for r in rows]

    async def delete(self, subscription_id: uuid.UUID, *, agency_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(webhook_subscriptions)
            .where(
                webhook_subscriptions.c.id == subscription_id,
                webhook_subscriptions.c.agency_id == agency_id,
            )
            .returning(webhook_subscriptions.c.id)
        )
        return result.first() is not None

    async def enabled_for_agencies(
        self, agency_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[Subscription]]:
        wanted = sorted(set(agency_ids))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(webhook_subscriptions).where(
                in_array(webhook_subscriptions.c.agency_id, wanted, name="agency_ids"),
                webhook_subscriptions.c.enabled,
            )
        )
        found: dict[uuid.UUID, list[Subscription]] = {}
        for row in rows:
            subscription = _subscription(row)
            found.setdefault(subscription.agency_id, []).append(subscription)
        return found

    # -- deliveries ------------------------------------------------------------------------
    async def add_deliveries(self, deliveries: Sequence[NewDelivery], *, now: datetime) -> None:
        """Pending deliveries, due now, in one statement; one per subscription and event."""
        if not deliveries:
            return
        rows = [
            {
                "id": uuid.uuid4(),
                "subscription_id": d.subscription_id,
                "event_id": d.event_id,
                "event_type": d.event_type,
                "body": d.body,
                "status": DELIVERY_PENDING,
                "next_attempt_at": now,
                "created_at": now,
            }
            for d in deliveries
        ]
        await self.session.execute(_ADD_DELIVERIES, row_arrays(webhook_deliveries, rows))

    async def deliveries(
        self,
        subscription_id: uuid.UUID,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[DeliveryRow]:
        c = webhook_deliveries.c
        query = select(*_DELIVERY_COLUMNS).where(c.subscription_id == subscription_id)
        if after is not None:
            query = query.where(
                (c.created_at < after[0]) | and_(c.created_at == after[0], c.id < after[1])
            )
        rows = await self.session.execute(
            query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        )
        return [DeliveryRow(**r._mapping) for r in rows]

    async def attempts_of(
        self, delivery_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[AttemptRow]]:
        found: dict[uuid.UUID, list[AttemptRow]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return found
        rows = await self.session.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
            .order_by(webhook_attempts.c.started_at, webhook_attempts.c.id)
        )
        for r in rows:
            found[r.delivery_id].append(AttemptRow(**r._mapping))
        return found

    async def delivery(
        self, delivery_id: uuid.UUID, *, subscription_id: uuid.UUID, lock: bool = False
    ) -> DeliveryRow | None:
        query = select(*_DELIVERY_COLUMNS).where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.subscription_id == subscription_id,
        )
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return DeliveryRow(**row._mapping) if row is not None else None

    async def schedule_again(self, delivery_id: uuid.UUID, *, now: datetime) -> None:
        """A new round for a delivered or dead-lettered delivery, due at once."""
        await self.session.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(status=DELIVERY_PENDING, attempts=0, next_attempt_at=now, dead_at=None)
        )

    # -- the claiming worker ---------------------------------------------------------------
    async def claim_due(
        self,
        *,
        now: datetime,
        lease_until: datetime,
        per_subscription: dict[uuid.UUID, int],
        default_per_subscription: int,
        limit: int,
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries, at most the free slots of each subscription
        (``per_subscription``: the slots still free here, else ``default_per_subscription``).

        Fair between receivers: the oldest due deliveries of each subscription are picked by
        a window first, so a receiver with a long backlog cannot fill the batch. The chosen
        rows are then locked with SKIP LOCKED: another replica claiming at the same moment
        takes other rows, and the lease (``next_attempt_at`` moved to ``lease_until``) keeps
        them from being claimed again until this attempt is recorded or the lease runs out
        (a replica that died mid-attempt).
        """
        if limit <= 0:
            return []
        busy_full = [s for s, free in per_subscription.items() if free <= 0]
        d, s = webhook_deliveries.c, webhook_subscriptions.c
        ranked = (
            select(
                d.id,
                d.subscription_id,
                d.next_attempt_at,
                func.row_number()
                .over(partition_by=d.subscription_id, order_by=(d.next_attempt_at, d.id))
                .label("rank"),
            )
            .join(webhook_subscriptions, s.id == d.subscription_id)
            .where(d.status == DELIVERY_PENDING, d.next_attempt_at <= now, s.enabled)
        )
        if busy_full:
            ranked = ranked.where(d.subscription_id.not_in(busy_full))
        candidates = (
            await self.session.execute(
                select(ranked.subquery())
                .where(text("rank <= :cap").bindparams(cap=default_per_subscription))
                .order_by(text("next_attempt_at"))
                .limit(limit * 4)
            )
        ).all()
        chosen: list[uuid.UUID] = []
        taken: dict[uuid.UUID, int] = {}
        for candidate in candidates:
            free = per_subscription.get(candidate.subscription_id, default_per_subscription)
            if taken.get(candidate.subscription_id, 0) >= free:
                continue
            taken[candidate.subscription_id] = taken.get(candidate.subscription_id, 0) + 1
            chosen.append(candidate.id)
            if len(chosen) >= limit:
                break
        if not chosen:
            return []
        locked = (
            (
                await self.session.execute(
                    select(d.id)
                    .where(d.id.in_(chosen), d.status == DELIVERY_PENDING, d.next_attempt_at <= now)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if not locked:
            return []
        rows = await self.session.execute(
            update(webhook_deliveries)
            .where(d.id.in_(locked))
            .values(next_attempt_at=lease_until)
            .returning(d.id, d.subscription_id, d.event_id, d.body, d.attempts)
        )
        claimed = rows.all()
        subs = {
            r.id: r
            for r in await self.session.execute(
                select(s.id, s.url, s.secret_encrypted).where(
                    s.id.in_({r.subscription_id for r in claimed})
                )
            )
        }
        return [
            ClaimedDelivery(
                id=r.id,
                subscription_id=r.subscription_id,
                event_id=r.event_id,
                url=subs[r.subscription_id].url,
                secret_encrypted=subs[r.subscription_id].secret_encrypted,
                body=r.body,
                attempts=r.attempts,
            )
            for r in claimed
        ]

    async def record_attempt(
        self,
        *,
        delivery_id: uuid.UUID,
        started_at: datetime,
        status_code: int | None,
        latency_ms: int,
        error: str | None,
    ) -> None:
        await self.session.execute(
            webhook_attempts.insert().values(
                id=uuid.uuid4(),
                delivery_id=delivery_id,
                started_at=started_at,
                status_code=status_code,
                latency_ms=latency_ms,
                error=error,
            )
        )

    async def mark_delivered(
        self, claimed: ClaimedDelivery, *, status_code: int, now: datetime
    ) -> None:
        await self.session.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == claimed.id)
            .values(
                status=DELIVERY_DELIVERED,
                attempts=webhook_deliveries.c.attempts + 1,
                next_attempt_at=None,
                delivered_at=now,
                last_status_code=status_code,
                last_error=None,
            )
        )
        await self.session.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == claimed.subscription_id)
            .values(consecutive_failures=0, failing_since=None, last_success_at=now)
        )

    async def mark_failed(
        self,
        claimed: ClaimedDelivery,
        *,
        status_code: int | None,
        error: str,
        next_attempt_at: datetime | None,
        now: datetime,
    ) -> tuple[int, datetime | None]:
        """Retry at ``next_attempt_at`` (None: dead-lettered); the subscription's failure
        streak after this one: ``(consecutive_failures, failing_since)``."""
        values: dict[str, Any] = {
            "attempts": webhook_deliveries.c.attempts + 1,
            "last_status_code": status_code,
            "last_error": error,
        }
        if next_attempt_at is None:
            values.update(status=DELIVERY_DEAD, dead_at=now, next_attempt_at=None)
        else:
            values.update(next_attempt_at=next_attempt_at)
        await self.session.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id == claimed.id).values(**values)
        )
        s = webhook_subscriptions.c
        streak = (
            await self.session.execute(
                update(webhook_subscriptions)
                .where(s.id == claimed.subscription_id)
                .values(
                    consecutive_failures=s.consecutive_failures + 1,
                    failing_since=func.coalesce(s.failing_since, now),
                )
                .returning(s.consecutive_failures, s.failing_since)
            )
        ).first()
        if streak is None:  # deleted meanwhile
            return 0, None
        return int(streak.consecutive_failures), streak.failing_since

    async def disable(
        self, subscription_id: uuid.UUID, *, reason: str, now: datetime
    ) -> uuid.UUID | None:
        """Disable it, dead-letter what it still had pending, leave an alert; its agency."""
        s = webhook_subscriptions.c
        row = (
            await self.session.execute(
                update(webhook_subscriptions)
                .where(s.id == subscription_id, s.enabled)
                .values(enabled=False, disabled_at=now, disabled_reason=reason)
                .returning(s.agency_id)
            )
        ).first()
        if row is None:
            return None
        d = webhook_deliveries.c
        await self.session.execute(
            update(webhook_deliveries)
            .where(d.subscription_id == subscription_id, d.status == DELIVERY_PENDING)
            .values(
                status=DELIVERY_DEAD,
                dead_at=now,
                next_attempt_at=None,
                last_error="subscription disabled",
            )
        )
        await self.session.execute(
            webhook_alerts.insert().values(
                id=uuid.uuid4(),
                agency_id=row.agency_id,
                subscription_id=subscription_id,
                kind="disabled",
                detail=reason,
                created_at=now,
            )
        )
        return uuid.UUID(str(row.agency_id))

    async def alerts(self, agency_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(webhook_alerts)
            .where(webhook_alerts.c.agency_id == agency_id)
            .order_by(webhook_alerts.c.created_at)
        )
        return [dict(r._mapping) for r in rows]
