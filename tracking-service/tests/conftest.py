"""Fixtures of the tracking-service tests: tokens for a mock JWKS, apps on fresh databases
with a NATS server of their own, and application events published as application-service's
relay would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from nats.js import JetStreamContext

from mpp_shared.contracts.application import v1 as application
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import CloudEvent, new_event
from mpp_shared.testing.client import app_client
from mpp_shared.testing.events import publish_like_relay
from mpp_shared.testing.infrastructure import TestInfrastructure
from mpp_shared.testing.keys import SigningKey, new_signing_key
from tracking.config import TrackingSettings
from tracking.main import create_app

JWKS_URL = "http://identity.test/oauth2/jwks"
ISSUER = "http://gateway.test"


@pytest.fixture(scope="session")
def tracking_signing_key() -> SigningKey:
    return new_signing_key("tracking-test-key")


@pytest.fixture(scope="session")
def token(tracking_signing_key: SigningKey) -> Callable[..., dict[str, str]]:
    """``token(subject=..., roles=[...], agency_id=...)`` → an Authorization header."""

    def sign(
        *,
        subject: uuid.UUID | str,
        roles: list[str] | None = None,
        agency_id: uuid.UUID | None = None,
        scope: str = "openid",
    ) -> dict[str, str]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": "mpp",
            "sub": str(subject),
            "iat": now,
            "exp": now + 600,
            "roles": roles if roles is not None else ["citizen"],
            "scope": scope,
            "ial": 1,
        }
        if agency_id is not None:
            claims["agency_id"] = str(agency_id)
        return {"Authorization": f"Bearer {tracking_signing_key.sign(claims)}"}

    return sign


@dataclass
class ApplicationStory:
    """One application's facts, to make its events in order: ``story.event(...)``."""

    application_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    agency_id: uuid.UUID
    registration_number: str
    tracking_code: str
    service_name: str = "Akta Kelahiran"
    sequence: int = 0
    status: str = "draft"
    started: datetime = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

    def event(
        self,
        event_type: str,
        status: str,
        *,
        stage: str | None = None,
        note: str | None = None,
        internal_note: str | None = None,
        actor_kind: str = "staff",
        due_at: datetime | None = None,
    ) -> CloudEvent:
        self.sequence += 1
        model = {
            application.APPLICATION_SUBMITTED: application.ApplicationSubmitted,
            application.APPLICATION_STATUS_CHANGED: application.ApplicationStatusChanged,
            application.APPLICATION_REVISION_REQUESTED: application.ApplicationRevisionRequested,
            application.APPLICATION_COMPLETED: application.ApplicationCompleted,
            application.APPLICATION_WITHDRAWN: application.ApplicationWithdrawn,
            application.APPLICATION_OVERDUE: application.ApplicationOverdue,
        }[event_type]
        old_status, self.status = self.status, status
        data = model(
            application_id=self.application_id,
            sequence=self.sequence,
            service_id=uuid.UUID(int=1),
            service_version=1,
            service_name=self.service_name,
            agency_id=self.agency_id,
            owner_account_id=self.owner_account_id,
            registration_number=self.registration_number,
            tracking_code_hash=application.tracking_code_hash(
                self.registration_number, self.tracking_code
            ),
            channel="online",
            old_status=old_status,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            stage=stage,
            stage_name=stage.replace("_", " ").title() if stage else None,
            actor_kind=actor_kind,  # type: ignore[arg-type]
            note=note,
            internal_note=internal_note,
            submitted_at=self.started,
            due_at=due_at if due_at is not None else self.started + timedelta(days=7),
            occurred_at=self.started + timedelta(minutes=self.sequence),
        )
        return new_event(
            type=event_type, source=application.SOURCE, subject=str(self.application_id), data=data
        )


@pytest.fixture
def story() -> Callable[..., ApplicationStory]:
    counter = iter(range(1, 10_000))

    def make(
        *, owner: uuid.UUID | None = None, agency_id: uuid.UUID | None = None
    ) -> ApplicationStory:
        return ApplicationStory(
            application_id=uuid.uuid4(),
            owner_account_id=owner if owner is not None else uuid.uuid4(),
            agency_id=agency_id if agency_id is not None else uuid.uuid4(),
            registration_number=f"64.09-2026-{next(counter):06d}-{uuid.uuid4().hex[:4]}",
            tracking_code=uuid.uuid4().hex[:12].upper(),
        )

    return make


@dataclass
class CaseStory:
    """One complaint case's facts, to make its events in order: ``case.event(verb, status,
    minutes=...)``."""

    complaint_id: uuid.UUID
    number: str
    agency_id: uuid.UUID
    account_id: uuid.UUID | None  # None: an anonymous case
    application_id: uuid.UUID | None  # the application it is about, if any
    service_name: str = "Akta Kelahiran"
    started: datetime = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    sequence: int = 0
    status: str = "open"

    def event(self, verb: str, status: str, *, minutes: float, actor: str = "staff") -> CloudEvent:
        """The case's next event (``mpp.application.complaint.<verb>``), ``minutes`` after
        ``started``."""
        self.sequence += 1
        old, self.status = self.status, status
        at = self.started + timedelta(minutes=minutes)
        data = application.ComplaintEvent(
            complaint_id=self.complaint_id,
            sequence=self.sequence,
            tracking_number=self.number,
            kind="complaint",
            service_id=uuid.UUID(int=1),
            service_name=self.service_name,
            agency_id=self.agency_id,
            application_id=self.application_id,
            account_id=self.account_id,
            old_status=None if self.sequence == 1 else old,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            response_due_at=at + timedelta(days=5),
            overdue=verb == "overdue",
            lapor_reference="LAPOR-123" if verb == "forwarded_to_lapor" else None,
            actor_kind=actor,  # type: ignore[arg-type]
            occurred_at=at,
        )
        return new_event(
            type=f"mpp.application.complaint.{verb}",
            source=application.SOURCE,
            subject=str(self.complaint_id),
            data=data,
        )


@pytest.fixture
def case_story() -> Callable[..., CaseStory]:
    """``case_story(about_story)``: a case about that application, by its owner, at its agency;
    ``case_story(agency_id=..., owner=...)`` or ``case_story(anonymous=True)``: a case about no
    application."""
    counter = iter(range(1, 10_000))

    def make(
        about: ApplicationStory | None = None,
        *,
        agency_id: uuid.UUID | None = None,
        owner: uuid.UUID | None = None,
        anonymous: bool = False,
        number: str | None = None,
    ) -> CaseStory:
        number = number or f"ADU-64.09-2026-{next(counter):06d}"
        if about is not None:
            return CaseStory(
                complaint_id=uuid.uuid4(),
                number=number,
                agency_id=about.agency_id,
                account_id=about.owner_account_id,
                application_id=about.application_id,
                service_name=about.service_name,
                started=about.started,
            )
        return CaseStory(
            complaint_id=uuid.uuid4(),
            number=number,
            agency_id=agency_id if agency_id is not None else uuid.uuid4(),
            account_id=None if anonymous else owner or uuid.uuid4(),
            application_id=None,
        )

    return make


@pytest.fixture
def agency_event() -> Callable[[uuid.UUID, str, int], CloudEvent]:
    return make_agency_event


def make_agency_event(agency_id: uuid.UUID, name: str, revision: int) -> CloudEvent:
    kind = catalog.AGENCY_CREATED if revision == 1 else catalog.AGENCY_UPDATED
    model = catalog.AgencyCreated if revision == 1 else catalog.AgencyUpdated
    return new_event(
        type=kind,
        source=catalog.SOURCE,
        subject=str(agency_id),
        data=model(
            agency_id=agency_id,
            name=name,
            kind="opd",
            region_code="64.09",
            timezone="Asia/Makassar",
            revision=revision,
        ),
    )


@dataclass
class Tracking:
    """A running tracking app, its client, and the bus to publish events on."""

    client: httpx.AsyncClient
    app: Any
    buses: dict[str, JetStreamContext]  # publisher service -> its connection
    settings: TrackingSettings

    def _bus(self, event: CloudEvent) -> JetStreamContext:
        # Each publisher's own NATS user, as in a deployment: mpp.<service>.…
        return self.buses[event.type.split(".")[1]]

    async def publish(self, *events: CloudEvent) -> None:
        for event in events:
            await publish_like_relay(self._bus(event), event)

    async def redeliver(self, *events: CloudEvent) -> None:
        """The same events again under other message ids (the broker does not drop them): what
        a consumer sees when an ack was lost or a publisher sent twice."""
        for event in events:
            body = event.to_json()
            await self._bus(event).publish(
                event.nats_subject, body, headers={"Nats-Msg-Id": f"{event.id}:again"}
            )

    async def handled(self, count: int, consumer: str = "tracking-applications") -> None:
        """Wait until ``count`` events were handled (inbox rows) by ``consumer``."""
        from sqlalchemy import text

        sessionmaker = self.app.state.runtime.session_factory()
        deadline = time.monotonic() + 15
        while True:
            async with sessionmaker() as session:
                found = await session.scalar(
                    text("SELECT count(*) FROM event_inbox WHERE consumer = :c"), {"c": consumer}
                )
            if int(found or 0) >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{consumer} handled {found} events, expected {count}")
            await asyncio.sleep(0.05)


TrackingFactory = Callable[..., Any]


@pytest.fixture
def tracking_settings(
    infrastructure: TestInfrastructure, private_nats: Callable[[], Any]
) -> Callable[..., TrackingSettings]:
    """Settings on a fresh database and this test's own NATS (the durable consumers' state
    stays with the test)."""
    server = private_nats()
    database_url = infrastructure.create_database("tracking")

    def make(**overrides: Any) -> TrackingSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            **server.settings("tracking"),
            "environment": "test",
            "public_url": ISSUER,
            "jwks_url": JWKS_URL,
            "database_pool_size": 4,
        }
        return TrackingSettings(**{**values, **overrides})

    make.server = server  # type: ignore[attr-defined]
    return make


@pytest.fixture
def open_tracking(
    tracking_settings: Callable[..., TrackingSettings], tracking_signing_key: SigningKey
) -> Callable[..., Any]:
    """``async with open_tracking(**settings) as tracking``: app, client and an event bus."""
    server = tracking_settings.server  # type: ignore[attr-defined]

    @asynccontextmanager
    async def open_one(**overrides: Any) -> AsyncIterator[Tracking]:
        settings = tracking_settings(**overrides)
        jwks = tracking_signing_key.jwks
        jwks_http = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
        )
        app = create_app(settings, jwks_http=jwks_http)
        buses = {
            name: await nats.connect(server.url, **server.connect_options(name))
            for name in ("application", "catalog")
        }
        try:
            async with app_client(app, base_url=ISSUER) as client:
                await app.state.runtime.nats_connection().wait_connected(10)
                yield Tracking(
                    client=client,
                    app=app,
                    buses={name: bus.jetstream() for name, bus in buses.items()},
                    settings=settings,
                )
        finally:
            for bus in buses.values():
                await bus.close()
            await jwks_http.aclose()

    return open_one


@pytest.fixture
def eventually() -> Callable[..., Awaitable[Any]]:
    return wait_until


async def wait_until(check: Callable[[], Awaitable[Any]], seconds: float = 15) -> Any:
    """The first truthy result of ``check`` within ``seconds`` (else the last one)."""
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)
