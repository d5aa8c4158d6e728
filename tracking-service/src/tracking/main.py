"""Builds the tracking service's app."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from mpp_shared.app import ServiceRuntime, Worker, create_service_app
from mpp_shared.auth import install_token_verifier, stop_token_verifier
from mpp_shared.calendar import default_calendar
from tracking.api.routes import (
    notifications,
    reports,
    stream,
    surveys,
    timeline,
    tracking,
    webhooks,
)
from tracking.config import TrackingSettings
from tracking.domain.reports import LocalWorkingDays
from tracking.domain.webhooks import Resolver, SecretBox
from tracking.messaging.consumers.applications import application_consumer
from tracking.messaging.consumers.catalog import catalog_consumer
from tracking.messaging.notification_delivery import delivery_worker
from tracking.messaging.reports import report_consumer
from tracking.messaging.stream import StreamHub
from tracking.messaging.webhooks import SystemResolver, WebhookDispatcher, webhook_consumer
from tracking.report_cache import ReportCache
from tracking.runtime import TrackingRuntime

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(
    settings: TrackingSettings,
    *,
    jwks_http: httpx.AsyncClient | None = None,
    resolver: Resolver | None = None,
) -> FastAPI:
    """``jwks_http`` fetches identity's signing keys, ``resolver`` answers the webhooks' DNS
    questions (tests pass their own)."""
    tracking_runtime = TrackingRuntime(
        report_cache=ReportCache(
            ttl=settings.report_cache_seconds, max_entries=settings.report_cache_entries
        )
    )
    resolver = resolver or SystemResolver()
    zone = ZoneInfo(settings.report_timezone)
    calendar = LocalWorkingDays(default_calendar(), zone)

    def workers(runtime: ServiceRuntime) -> list[Worker]:
        sessionmaker, connection = runtime.session_factory(), runtime.nats_connection()
        hub = StreamHub(connection, queue_size=settings.stream_queue_size)
        tracking_runtime.hub = hub
        dispatcher = WebhookDispatcher(sessionmaker, settings, resolver=resolver)
        app.state.webhook_dispatcher = dispatcher
        found: list[Worker] = [hub]
        if settings.run_consumers:
            found += [
                application_consumer(
                    sessionmaker, connection, hub, linger=settings.consumer_linger_seconds
                ),
                catalog_consumer(sessionmaker, connection),
                webhook_consumer(sessionmaker, connection, linger=settings.consumer_linger_seconds),
                report_consumer(
                    sessionmaker,
                    connection,
                    calendar=calendar,
                    zone=zone,
                    report_cache=tracking_runtime.report_cache,
                    linger=settings.consumer_linger_seconds,
                ),
            ]
        if settings.webhook_deliveries_enabled:
            found.append(dispatcher)
        found.append(delivery_worker(settings, sessionmaker, connection))
        return found

    async def start_verifier(runtime: ServiceRuntime) -> None:
        install_token_verifier(runtime, http=jwks_http)

    async def stop_report_refreshes(_: ServiceRuntime) -> None:
        await tracking_runtime.report_cache.close()

    app = create_service_app(
        settings,
        title="MPP Digital — Tracking",
        description="Timelines, notifications, webhooks, satisfaction surveys and reports.",
        routers=[
            timeline.router,
            tracking.router,
            notifications.router,
            stream.router,
            webhooks.router,
            surveys.router,
            reports.router,
        ],
        migrations_dir=MIGRATIONS_DIR,
        workers=workers,
        on_startup=[start_verifier],
        on_shutdown=[stop_report_refreshes, stop_token_verifier],
        state=tracking_runtime,
    )
    app.state.webhooks = webhooks.WebhookRuntime(
        resolver=resolver,
        box=SecretBox(settings.webhook_secret_key_value),
        allow_private=settings.webhook_allow_private,
    )
    return app
