"""Builds the tracking service's app."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from mpp_shared.app import ServiceRuntime, Worker, create_service_app
from mpp_shared.auth import install_token_verifier, stop_token_verifier
from tracking.api.routes import notifications, stream, timeline, tracking
from tracking.config import TrackingSettings
from tracking.messaging.consumers.applications import application_consumer
from tracking.messaging.consumers.catalog import catalog_consumer
from tracking.messaging.notification_delivery import delivery_worker
from tracking.messaging.stream import StreamHub
from tracking.runtime import TrackingRuntime

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(
    settings: TrackingSettings, *, jwks_http: httpx.AsyncClient | None = None
) -> FastAPI:
    """``jwks_http`` fetches identity-service's signing keys (tests pass a mock transport)."""
    tracking_runtime = TrackingRuntime()

    def workers(runtime: ServiceRuntime) -> list[Worker]:
        sessionmaker, connection = runtime.session_factory(), runtime.nats_connection()
        hub = StreamHub(connection, queue_size=settings.stream_queue_size)
        tracking_runtime.hub = hub
        found: list[Worker] = [hub]
        if settings.run_consumers:
            found += [
                application_consumer(sessionmaker, connection, hub),
                catalog_consumer(sessionmaker, connection),
            ]
        delivery = delivery_worker(settings, sessionmaker, connection)
        if delivery is not None:
            found.append(delivery)
        return found

    async def start_verifier(runtime: ServiceRuntime) -> None:
        install_token_verifier(runtime, http=jwks_http)

    return create_service_app(
        settings,
        title="MPP Digital — Tracking",
        description="Timelines, notifications, webhooks, satisfaction surveys and reports.",
        routers=[timeline.router, tracking.router, notifications.router, stream.router],
        migrations_dir=MIGRATIONS_DIR,
        workers=workers,
        on_startup=[start_verifier],
        on_shutdown=[stop_token_verifier],
        state=tracking_runtime,
    )
