"""Builds the catalog service's app."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from nats.aio.msg import Msg
from starlette.middleware import Middleware

from catalog.api.errors import install_catalog_error_handlers
from catalog.api.response_cache import ResponseCache, ResponseCacheMiddleware
from catalog.api.routes import agencies, locations, regions, services
from catalog.config import CatalogSettings
from catalog.db import read_pool
from catalog.db.regions_loader import sync_regions
from catalog.demo.data import DEMO_REGENCY_CODES
from catalog.demo.loader import load_demo_data
from catalog.messaging.rpc import (
    location_responder,
    locations_snapshot_responder,
    snapshot_responder,
)
from catalog.runtime import CatalogRuntime
from mpp_shared.app import ServiceRuntime, Worker, create_service_app
from mpp_shared.auth import install_token_verifier, stop_token_verifier
from mpp_shared.events.connection import NatsConnection

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
CATALOG_EVENTS = "mpp.catalog.>"


def create_app(settings: CatalogSettings, *, jwks_http: httpx.AsyncClient | None = None) -> FastAPI:
    """``jwks_http`` fetches identity-service's signing keys (tests pass a mock transport)."""
    cache = ResponseCache(
        ttl=settings.response_cache_seconds, max_entries=settings.response_cache_entries
    )
    catalog = CatalogRuntime()

    async def start_verifier(runtime: ServiceRuntime) -> None:
        install_token_verifier(runtime, http=jwks_http)

    async def load_regions(runtime: ServiceRuntime) -> None:
        engine = runtime.engine
        assert engine is not None
        await sync_regions(
            engine, village_regencies=None if settings.load_all_villages else DEMO_REGENCY_CODES
        )

    async def open_read_pool(runtime: ServiceRuntime) -> None:
        catalog.read_pool = await read_pool.open_read_pool(settings)
        runtime.connection_turns["read"] = catalog.read_pool.turns

    async def close_read_pool(runtime: ServiceRuntime) -> None:
        pool, catalog.read_pool = catalog.read_pool, None
        runtime.connection_turns.pop("read", None)
        if pool is not None:
            await pool.close()

    async def seed(runtime: ServiceRuntime) -> None:
        if settings.seed_demo_data:
            await load_demo_data(runtime.session_factory())
        cache.invalidate()

    async def watch_changes(runtime: ServiceRuntime) -> None:
        await watch_catalog_events(runtime.nats_connection(), cache)

    def workers(runtime: ServiceRuntime) -> list[Worker]:
        # Answers rpc.catalog.services.snapshot for services that start after the events expired,
        # and rpc.catalog.locations.get / .snapshot for application-service's counter bookings.
        sessionmaker, connection = runtime.session_factory(), runtime.nats_connection()
        return [
            snapshot_responder(sessionmaker=sessionmaker, connection=connection),
            location_responder(sessionmaker=sessionmaker, connection=connection),
            locations_snapshot_responder(sessionmaker=sessionmaker, connection=connection),
        ]

    app = create_service_app(
        settings,
        title="MPP Digital — Catalogue",
        description="Regions, agencies, MPP locations and the versioned service catalogue "
        "(standar pelayanan).",
        routers=[regions.router, agencies.router, locations.router, services.router],
        migrations_dir=MIGRATIONS_DIR,
        workers=workers,
        on_startup=[start_verifier, load_regions, open_read_pool, seed, watch_changes],
        on_shutdown=[close_read_pool, stop_token_verifier],
        state=catalog,
    )
    install_catalog_error_handlers(app)
    # Inside the correlation middleware (appended, not added): cached answers still carry
    # X-Request-ID and are logged and counted.
    app.user_middleware.append(Middleware(ResponseCacheMiddleware, cache=cache))
    app.state.response_cache = cache
    app.state.metrics.registry.register(cache)
    return app


async def watch_catalog_events(connection: NatsConnection, cache: ResponseCache) -> None:
    """Empty the cache on every catalogue event, whichever replica made the change."""
    subscribed = False

    async def on_event(message: Msg) -> None:
        cache.invalidate()

    async def on_connect(conn: NatsConnection) -> None:
        nonlocal subscribed
        # Events may have passed while the connection was down.
        cache.invalidate()
        if not subscribed:
            subscribed = True
            await conn.client.subscribe(CATALOG_EVENTS, cb=on_event)

    connection.on_connect(on_connect)
    if connection.connected:
        await on_connect(connection)
