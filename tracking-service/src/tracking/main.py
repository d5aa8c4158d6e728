"""Builds the tracking service's app."""

from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from mpp_shared.app import ServiceRuntime, Worker, create_service_app
from mpp_shared.auth import install_token_verifier, stop_token_verifier
from tracking.api.routes import reports, surveys, webhooks
from tracking.config import TrackingSettings
from tracking.domain.reports import WeekdayCalendar
from tracking.domain.webhooks import Resolver, SecretBox
from tracking.messaging.reports import report_consumer
from tracking.messaging.webhooks import SystemResolver, WebhookDispatcher, webhook_consumer

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(
    settings: TrackingSettings,
    *,
    jwks_http: httpx.AsyncClient | None = None,
    resolver: Resolver | None = None,
) -> FastAPI:
    """``jwks_http`` fetches identity's signing keys, ``resolver`` answers the webhooks' DNS
    questions (tests pass their own)."""
    resolver = resolver or SystemResolver()
    zone = ZoneInfo(settings.report_timezone)
    calendar = WeekdayCalendar(zone)

    def workers(runtime: ServiceRuntime) -> list[Worker]:
        sessionmaker, connection = runtime.session_factory(), runtime.nats_connection()
        dispatcher = WebhookDispatcher(sessionmaker, settings, resolver=resolver)
        app.state.webhook_dispatcher = dispatcher
        started: list[Worker] = [
            webhook_consumer(sessionmaker, connection),
            report_consumer(sessionmaker, connection, calendar=calendar, zone=zone),
        ]
        if settings.webhook_deliveries_enabled:
            started.append(dispatcher)
        return started

    async def start_verifier(runtime: ServiceRuntime) -> None:
        install_token_verifier(runtime, http=jwks_http)

    app = create_service_app(
        settings,
        title="MPP Digital — Tracking",
        description="Timelines, notifications, webhooks, satisfaction surveys and reports.",
        routers=[webhooks.router, surveys.router, reports.router],
        migrations_dir=MIGRATIONS_DIR,
        workers=workers,
        on_startup=[start_verifier],
        on_shutdown=[stop_token_verifier],
    )
    app.state.webhooks = webhooks.WebhookRuntime(
        resolver=resolver,
        box=SecretBox(settings.webhook_secret_key_value),
        allow_private=settings.webhook_allow_private,
    )
    return app
