"""Builds the application service's app."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from application.api.errors import install_application_error_handlers
from application.api.routes import agency, applications, bookings, complaints, counter_filing
from application.bookings_clock import booking_sweep
from application.complaints_clock import complaint_sweep
from application.config import ApplicationSettings
from application.db.repositories import PublishedVersions, RegistrationSerials
from application.domain.bookings import BookingPolicy
from application.messaging.consumers.catalog import catalog_consumer
from application.messaging.consumers.identity import identity_consumer
from application.messaging.consumers.locations import locations_consumer
from application.messaging.identity import NatsIdentityDirectory
from application.messaging.locations import NatsLocationDirectory
from application.messaging.snapshot import SnapshotLoader
from application.runtime import ApplicationRuntime, FormValidators
from application.sla import overdue_sweep
from mpp_shared.app import ServiceRuntime, Worker, create_service_app
from mpp_shared.auth import install_token_verifier, stop_token_verifier
from mpp_shared.blobstore import blob_store_from_url
from mpp_shared.db import FairQueuePool

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(
    settings: ApplicationSettings, *, jwks_http: httpx.AsyncClient | None = None
) -> FastAPI:
    """``jwks_http`` fetches identity-service's signing keys (tests pass a mock transport)."""
    # Built here, not at start: a mistyped store URL stops the service before it serves.
    blob_store = blob_store_from_url(
        settings.blob_store_url,
        access_key=settings.blob_store_access_key,
        secret_key=settings.blob_store_secret_key,
    )
    state = ApplicationRuntime(
        validators=FormValidators(settings.validator_cache_size),
        versions=PublishedVersions(settings.validator_cache_size),
        blob_store=blob_store,
        booking_policy=booking_policy(settings),
    )

    def workers(runtime: ServiceRuntime) -> list[Worker]:
        sessionmaker, connection = runtime.session_factory(), runtime.nats_connection()
        snapshot = SnapshotLoader(
            sessionmaker, connection, timeout=settings.snapshot_timeout_seconds
        )
        # Not ready before the read copies hold what the catalogue published: until then an
        # application for an existing service would be refused as unknown (and a booking at
        # a location would have to ask the catalogue).
        runtime.readiness["catalogue"] = snapshot.ready
        return [
            catalog_consumer(sessionmaker, connection),
            identity_consumer(sessionmaker, connection),
            locations_consumer(sessionmaker, connection),
            snapshot,
            overdue_sweep(sessionmaker, interval=settings.overdue_sweep_seconds),
            booking_sweep(
                sessionmaker, policy=state.booking_policy, interval=settings.booking_sweep_seconds
            ),
            complaint_sweep(sessionmaker, interval=settings.overdue_sweep_seconds),
        ]

    async def start(runtime: ServiceRuntime) -> None:
        install_token_verifier(runtime, http=jwks_http)
        # The same kind of pool as the requests' (first come, first served; only idle
        # connections pinged), small and of its own.
        serials_engine = create_async_engine(
            settings.database_url,
            poolclass=FairQueuePool,
            pool_size=settings.registration_serial_pool_size,
            max_overflow=0,
            pool_timeout=settings.database_pool_timeout_seconds,
            pool_pre_ping=True,
            connect_args={"server_settings": {"application_name": "application-serials"}},
        )
        assert isinstance(serials_engine.pool, FairQueuePool)
        serials_engine.pool.ping_after_idle = settings.database_pool_ping_after_idle_seconds
        runtime.connection_turns["serials"] = serials_engine.pool.turns
        state.serials = RegistrationSerials(serials_engine)
        state.identity = state.residents = NatsIdentityDirectory(
            runtime.nats_connection(), timeout=settings.identity_timeout_seconds
        )
        state.locations = NatsLocationDirectory(
            runtime.nats_connection(), timeout=settings.catalog_timeout_seconds
        )

    async def stop(runtime: ServiceRuntime) -> None:
        await stop_token_verifier(runtime)
        if state.serials is not None:
            await state.serials.aclose()
        await blob_store.aclose()

    app = create_service_app(
        settings,
        title="MPP Digital — Applications",
        description="Citizens' applications, their documents and the agencies' processing.",
        routers=[
            applications.router,
            agency.router,
            counter_filing.router,
            bookings.router,
            bookings.agency_router,
            bookings.queue_router,
            complaints.router,
            complaints.agency_router,
        ],
        migrations_dir=MIGRATIONS_DIR,
        workers=workers,
        on_startup=[start],
        on_shutdown=[stop],
        state=state,
    )
    install_application_error_handlers(app)
    return app


def booking_policy(settings: ApplicationSettings) -> BookingPolicy:
    return BookingPolicy(
        slot_minutes=settings.booking_slot_minutes,
        capacity_per_counter=settings.booking_capacity_per_counter,
        horizon_days=settings.booking_horizon_days,
        check_in_early_minutes=settings.booking_check_in_early_minutes,
        no_show_grace_minutes=settings.booking_no_show_grace_minutes,
        no_show_limit=settings.booking_no_show_limit,
        no_show_window_days=settings.booking_no_show_window_days,
        reminder_time=time.fromisoformat(settings.booking_reminder_time),
    )
