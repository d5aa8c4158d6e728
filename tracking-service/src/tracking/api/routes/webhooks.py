"""``/api/v1/webhooks``: an agency's subscriptions, their deliveries and redeliveries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mpp_shared.auth import CurrentPrincipal
from mpp_shared.deps import SessionDep
from mpp_shared.pagination import Page, PageParams, encode_cursor, page_params
from mpp_shared.problems import Problem
from tracking.db.webhooks import AttemptRow, DeliveryRow, WebhookRepository
from tracking.domain.webhooks import (
    DELIVERY_PENDING,
    MAX_EVENT_PATTERNS,
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    MIN_SECRET_LENGTH,
    DeliveryNotFound,
    ForbiddenAddress,
    InvalidWebhook,
    NotWebhookManager,
    RedeliveryRefused,
    Resolver,
    SecretBox,
    Subscription,
    UnresolvableHost,
    WebhookError,
    WebhookNotFound,
    managing_agency,
    parse_target,
    resolve_and_vet,
    validate_event_patterns,
    validate_secret,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@dataclass(frozen=True)
class WebhookRuntime:
    """What the routes need besides the database (at ``app.state.webhooks``)."""

    resolver: Resolver
    box: SecretBox
    allow_private: bool


async def get_webhook_runtime(request: Request) -> WebhookRuntime:
    runtime: WebhookRuntime = request.app.state.webhooks
    return runtime


Webhooks = Annotated[WebhookRuntime, Depends(get_webhook_runtime)]
Pagination = Annotated[PageParams, Depends(page_params)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=MAX_URL_LENGTH, examples=["https://sistem.dinas.go.id/mpp-hook"])
    events: list[Annotated[str, Field(max_length=200)]] = Field(
        min_length=1,
        max_length=MAX_EVENT_PATTERNS,
        examples=[["mpp.application.*"]],
        description="CloudEvent types, or prefixes ending in '*'.",
    )
    secret: str = Field(
        min_length=MIN_SECRET_LENGTH,
        max_length=MAX_SECRET_LENGTH,
        description="Signs every delivery (X-MPP-Signature); stored encrypted, never returned.",
    )


class WebhookRead(BaseModel):
    id: uuid.UUID
    agency_id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    consecutive_failures: int = 0


class AttemptRead(BaseModel):
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str = Field(description="pending, delivered or dead (dead-lettered)")
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempts: list[AttemptRead] = Field(description="every attempt, oldest first")


def _webhook(subscription: Subscription) -> WebhookRead:
    return WebhookRead(
        id=subscription.id,
        agency_id=subscription.agency_id,
        url=subscription.url,
        events=list(subscription.events),
        enabled=subscription.enabled,
        created_at=subscription.created_at,
        disabled_at=subscription.disabled_at,
        disabled_reason=subscription.disabled_reason,
        consecutive_failures=subscription.consecutive_failures,
    )


def _delivery(row: DeliveryRow, attempts: list[AttemptRow]) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        next_attempt_at=row.next_attempt_at if row.status == DELIVERY_PENDING else None,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        dead_at=row.dead_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        attempts=[
            AttemptRead(
                started_at=a.started_at,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
            )
            for a in attempts
        ],
    )


def _problem(exc: WebhookError) -> NoReturn:
    """The one place where the webhook rules' errors become problem+json."""
    if isinstance(exc, WebhookNotFound):
        raise Problem("No such webhook.", status=404, code="not_found") from exc
    if isinstance(exc, DeliveryNotFound):
        raise Problem("No such delivery.", status=404, code="not_found") from exc
    if isinstance(exc, NotWebhookManager):
        raise Problem(str(exc), status=403, code="forbidden") from exc
    if isinstance(exc, InvalidWebhook):
        raise Problem(
            str(exc),
            status=422,
            code=exc.code,
            errors=[{"loc": ["body", exc.field], "msg": str(exc)}],
        ) from exc
    if isinstance(exc, ForbiddenAddress):
        raise Problem(
            f"Webhooks may not be sent to {exc.reason} addresses.",
            status=422,
            code="forbidden_webhook_address",
            errors=[{"loc": ["body", "url"], "msg": f"resolves to a {exc.reason} address"}],
        ) from exc
    if isinstance(exc, UnresolvableHost):
        raise Problem(
            "The webhook's host does not resolve.",
            status=422,
            code="unresolvable_webhook_host",
            errors=[{"loc": ["body", "url"], "msg": "host does not resolve"}],
        ) from exc
    if isinstance(exc, RedeliveryRefused):
        raise Problem(str(exc), status=409, code=exc.code) from exc
    raise Problem("The webhook request failed.", status=400, code="bad_request") from exc


def _agency(principal: Any) -> uuid.UUID:
    try:
        return managing_agency(principal)
    except WebhookError as exc:
        _problem(exc)


def _after(cursor: dict[str, Any] | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        return datetime.fromisoformat(str(cursor["t"])), uuid.UUID(str(cursor["id"]))
    except (KeyError, ValueError) as exc:
        raise Problem(
            "The cursor is not one this list gave out.", status=422, code="invalid_cursor"
        ) from exc


async def _own(
    repository: WebhookRepository, webhook_id: uuid.UUID, agency: uuid.UUID
) -> Subscription:
    subscription = await repository.get(webhook_id, agency_id=agency)
    if subscription is None:
        _problem(WebhookNotFound())
    return subscription


@router.post("", status_code=201, response_model=WebhookRead)
async def create_webhook(
    body: WebhookCreate, principal: CurrentPrincipal, session: SessionDep, webhooks: Webhooks
) -> WebhookRead:
    """Agency admins and agency systems, for their own agency. The URL's host must resolve to
    public addresses only (unless ``MPP_WEBHOOK_ALLOW_PRIVATE=1``); deliveries check again."""
    agency = _agency(principal)
    try:
        target = parse_target(body.url)
        events = validate_event_patterns(body.events)
        secret = validate_secret(body.secret)
        await resolve_and_vet(webhooks.resolver, target.host, allow_private=webhooks.allow_private)
    except WebhookError as exc:
        _problem(exc)
    subscription = await WebhookRepository(session).create(
        agency_id=agency,
        url=target.url,
        events=events,
        secret_encrypted=webhooks.box.seal(secret),
        created_by=principal.client_id or principal.subject,
        now=datetime.now(UTC),
    )
    return _webhook(subscription)


@router.get("", response_model=Page[WebhookRead])
async def list_webhooks(
    principal: CurrentPrincipal, session: SessionDep, page: Pagination
) -> Page[WebhookRead]:
    agency = _agency(principal)
    rows = await WebhookRepository(session).list_for_agency(
        agency_id=agency, limit=page.limit + 1, after=_after(page.cursor)
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = (
        encode_cursor({"t": rows[-1].created_at.isoformat(), "id": str(rows[-1].id)})
        if more
        else None
    )
    return Page[WebhookRead](items=[_webhook(r) for r in rows], next_cursor=cursor)


@router.get("/{webhook_id}", response_model=WebhookRead)
async def get_webhook(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> WebhookRead:
    return _webhook(await _own(WebhookRepository(session), webhook_id, _agency(principal)))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Deletes the subscription with its delivery history."""
    if not await WebhookRepository(session).delete(webhook_id, agency_id=_agency(principal)):
        _problem(WebhookNotFound())
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryRead])
async def list_deliveries(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, page: Pagination
) -> Page[DeliveryRead]:
    """Newest first, each with every attempt (status code, latency, error)."""
    repository = WebhookRepository(session)
    await _own(repository, webhook_id, _agency(principal))
    rows = await repository.deliveries(webhook_id, limit=page.limit + 1, after=_after(page.cursor))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    attempts = await repository.attempts_of([r.id for r in rows])
    cursor = (
        encode_cursor({"t": rows[-1].created_at.isoformat(), "id": str(rows[-1].id)})
        if more
        else None
    )
    return Page[DeliveryRead](
        items=[_delivery(r, attempts[r.id]) for r in rows], next_cursor=cursor
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryRead
)
async def redeliver(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> DeliveryRead:
    """Sends a delivered or dead-lettered event again, with a fresh budget of retries;
    409 while it is still pending or when the webhook is disabled."""
    repository = WebhookRepository(session)
    subscription = await _own(repository, webhook_id, _agency(principal))
    row = await repository.delivery(delivery_id, subscription_id=webhook_id, lock=True)
    if row is None:
        _problem(DeliveryNotFound())
    if not subscription.enabled:
        _problem(RedeliveryRefused("webhook_disabled", "The webhook is disabled."))
    if row.status == DELIVERY_PENDING:
        _problem(RedeliveryRefused("delivery_pending", "The delivery is still being attempted."))
    await repository.schedule_again(delivery_id, now=datetime.now(UTC))
    fresh = await repository.delivery(delivery_id, subscription_id=webhook_id)
    assert fresh is not None
    attempts = await repository.attempts_of([delivery_id])
    return _delivery(fresh, attempts[delivery_id])
