"""Fixtures of the webhook, survey and report tests: an app on a fresh database, callers as
the gateway vouches for them, a receiver on 127.0.0.1, a resolver the test controls."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from mpp_shared.auth.internal import encode_principal_headers
from mpp_shared.auth.principal import Principal
from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent, new_event
from mpp_shared.testing.client import app_client
from mpp_shared.testing.infrastructure import TestInfrastructure
from mpp_shared.testing.server import served
from tracking.config import TrackingSettings
from tracking.domain.webhooks import IPAddress
from tracking.main import create_app
from tracking.messaging.webhooks import WebhookDispatcher
from tracking.report_cache import ReportCache
from tracking.runtime import TrackingRuntime

SECRET = "a-long-enough-webhook-secret"
# The receivers' host name in the subscriptions: the tests' resolver answers it (they listen
# on loopback, which the URL check would refuse as a literal address).
RECEIVER_HOST = "receiver.dinas.example"


class FakeResolver:
    """Answers from a table the test changes at will (DNS rebinding in one line)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.questions: list[str] = []

    async def resolve(self, host: str) -> list[IPAddress]:
        self.questions.append(host)
        return [ipaddress.ip_address(a) for a in self.answers.get(host, [])]


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Hooks:
    client: httpx.AsyncClient
    app: FastAPI
    settings: TrackingSettings
    resolver: FakeResolver
    secret: str = SECRET
    receiver_host: str = RECEIVER_HOST

    @property
    def report_cache(self) -> ReportCache:
        """The app's kept report answers (its own consumers drop them after a commit)."""
        cache: ReportCache = self.app.state.runtime.state_as(TrackingRuntime).report_cache
        return cache

    def on_receiver_host(self, url: str) -> str:
        """A receiver's URL under ``receiver_host``, which resolves to loopback unless the
        test gave the resolver another answer first."""
        self.resolver.answers.setdefault(self.receiver_host, ["127.0.0.1"])
        return url.replace("127.0.0.1", self.receiver_host)

    async def deliveries(self, webhook: dict[str, Any], agency: uuid.UUID) -> list[Any]:
        """The subscription's deliveries as its agency admin reads them."""
        response = await self.client.get(
            f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=self.as_agency_admin(agency)
        )
        assert response.status_code == 200, response.text
        items: list[Any] = response.json()["items"]
        return items

    def as_agency_admin(self, agency_id: uuid.UUID, subject: str | None = None) -> dict[str, str]:
        return self.headers(
            Principal(
                subject=subject or str(uuid.uuid4()),
                roles=frozenset({"agency_admin"}),
                agency_id=agency_id,
                assurance_level=1,
            )
        )

    def as_client(self, agency_id: uuid.UUID) -> dict[str, str]:
        return self.headers(
            Principal(subject="client:dinas", agency_id=agency_id, client_id="dinas-system")
        )

    def as_role(
        self, role: str, *, subject: str | None = None, agency_id: uuid.UUID | None = None
    ) -> dict[str, str]:
        return self.headers(
            Principal(
                subject=subject or str(uuid.uuid4()),
                roles=frozenset({role}),
                agency_id=agency_id,
                assurance_level=1,
            )
        )

    def headers(self, principal: Principal) -> dict[str, str]:
        return encode_principal_headers(principal, self.settings.principal_secret)

    def sessionmaker(self) -> Any:
        return self.app.state.runtime.session_factory()

    def dispatcher(self, clock: Clock, **overrides: Any) -> WebhookDispatcher:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return WebhookDispatcher(
            self.sessionmaker(), settings, resolver=self.resolver, clock=clock, draw=lambda: 0.5
        )

    async def create_webhook(
        self, agency_id: uuid.UUID, url: str, events: list[str] | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/webhooks",
            json={"url": url, "events": events or ["mpp.application.*"], "secret": SECRET},
            headers=self.as_agency_admin(agency_id),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def handle(self, handler: Any, event: CloudEvent) -> None:
        """Run a consumer's batch handler on ``event`` alone in one committed transaction."""
        await self.handle_batch(handler, [event])

    async def handle_batch(self, handler: Any, events: list[CloudEvent]) -> None:
        """Run a consumer's batch handler on ``events`` in one committed transaction."""
        async with self.sessionmaker()() as session, session.begin():
            await handler(session, events)


@pytest.fixture
def hooks_app(infrastructure: TestInfrastructure) -> Callable[..., Any]:
    """``async with hooks_app(**settings) as hooks``: the tracking app on a fresh database.

    Its consumers do not run (``run_consumers=False`` unless asked): the tests hand their
    events to the handlers themselves, and the shared test stream holds every other test's
    events, which real consumers would drain into this database meanwhile."""

    @asynccontextmanager
    async def open_app(**overrides: Any) -> AsyncIterator[Hooks]:
        values: dict[str, Any] = {
            "database_url": infrastructure.create_database("hooks"),
            **infrastructure.nats_settings("tracking"),
            "environment": "test",
            "database_pool_size": 4,
            "webhook_allow_private": True,
            "webhook_deliveries_enabled": False,
            "run_consumers": False,
            **overrides,
        }
        settings = TrackingSettings(**values)
        resolver = FakeResolver()
        app = create_app(settings, resolver=resolver)
        async with app_client(app) as client:
            yield Hooks(client=client, app=app, settings=settings, resolver=resolver)

    return open_app


@dataclass
class Receiver:
    """An agency's receiver: answers ``script`` in turn (then the last one forever)."""

    url: str
    requests: list[tuple[dict[str, str], bytes]]
    script: list[int]
    delay: float = 0.0


@pytest.fixture
def receiver() -> Callable[..., Any]:
    @asynccontextmanager
    async def start(script: list[int] | None = None, delay: float = 0.0) -> AsyncIterator[Receiver]:
        app = FastAPI()
        state = Receiver(url="", requests=[], script=list(script or [200]), delay=delay)

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            state.requests.append((dict(request.headers), await request.body()))
            if state.delay:
                await asyncio.sleep(state.delay)
            status = state.script.pop(0) if len(state.script) > 1 else state.script[0]
            headers = {"Location": "/elsewhere"} if 300 <= status < 400 else {}
            return Response(b"x" * 100_000 if status == 200 else b"no", status, headers)

        @app.post("/elsewhere")
        async def elsewhere(request: Request) -> Response:
            state.requests.append(({"redirected": "yes"}, await request.body()))
            return Response(status_code=200)

        async with served(app) as base:
            state.url = f"{base}/hook"
            yield state

    return start


def application_event(
    type_: str = application.APPLICATION_SUBMITTED,
    *,
    agency_id: uuid.UUID,
    application_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    service_name: str = "Akta Kelahiran",
    owner: uuid.UUID | None = None,
    sequence: int = 1,
    old_status: str | None = "draft",
    status: str = "submitted",
    submitted_at: datetime | None = None,
    due_at: datetime | None = None,
    occurred_at: datetime | None = None,
) -> CloudEvent:
    submitted_at = submitted_at or datetime.now(UTC)
    data = application.ApplicationEvent(
        application_id=application_id or uuid.uuid4(),
        sequence=sequence,
        service_id=service_id or uuid.uuid4(),
        service_version=1,
        service_name=service_name,
        agency_id=agency_id,
        owner_account_id=owner,
        registration_number=f"REG-{uuid.uuid4().hex[:8]}",
        tracking_code_hash="0" * 64,
        channel="online",
        old_status=old_status,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        actor_kind="citizen",
        submitted_at=submitted_at,
        due_at=due_at,
        occurred_at=occurred_at or submitted_at,
    )
    return new_event(type=type_, source=application.SOURCE, data=data)


# ---- helpers as fixtures: test modules cannot import this conftest under importlib mode ----


@pytest.fixture
def make_event() -> Callable[..., CloudEvent]:
    """``make_event(agency_id=…, **facts)``: an application event as application-service's."""
    return application_event


@pytest.fixture
def clock() -> Clock:
    """The dispatcher's clock, moved by the test (retries are due rows, not sleeps)."""
    return Clock()
