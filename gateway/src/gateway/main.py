"""Builds the gateway's app: own health and merged OpenAPI, public paths proxied, and the
gateway's metrics on a separate internal port."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

import httpx
from fastapi import FastAPI
from prometheus_client import start_http_server
from starlette.types import ASGIApp

from gateway.auth import EdgeAuthenticator
from gateway.config import GatewaySettings
from gateway.edge import CorsPolicy
from gateway.openapi import OpenApiAggregator
from gateway.proxy import GatewayEdge, Proxy
from gateway.ratelimit import NatsCounterSync, RateLimiter
from gateway.readiness import edge_readiness, upstream_readiness
from gateway.routes import RoutingTable
from mpp_shared.app import ServiceRuntime, create_service_app
from mpp_shared.auth.jwks import JwksClient
from mpp_shared.auth.revocation import RevocationFeed, RevocationList
from mpp_shared.auth.verify import TokenVerifier
from mpp_shared.events.connection import NatsConnection
from mpp_shared.observability.accesslog import AccessLog
from mpp_shared.observability.metrics import HttpMetrics

log = logging.getLogger(__name__)

TITLE = "MPP Digital — public API"
DESCRIPTION = (
    "The single public entry point of MPP Digital, Indonesia's digital public-service mall: "
    "every service's public endpoints, one tag per service."
)


@dataclass
class GatewayRuntime:
    """What the gateway holds while it runs; at ``app.state.gateway``."""

    settings: GatewaySettings
    table: RoutingTable
    proxy: Proxy
    openapi: OpenApiAggregator | None = None
    http: httpx.AsyncClient | None = None
    limiter: RateLimiter | None = None
    sync: NatsCounterSync | None = None
    authenticator: EdgeAuthenticator | None = None
    jwks: JwksClient | None = None
    revocations: RevocationList | None = None
    revocation_feed: RevocationFeed | None = None
    nats: NatsConnection | None = None
    metrics: HttpMetrics | None = None
    metrics_server: tuple[WSGIServer, threading.Thread] | None = None
    tasks: list[asyncio.Task[object]] = field(default_factory=list)

    def http_client(self) -> httpx.AsyncClient:
        if self.http is None:
            raise RuntimeError("the gateway has not started")
        return self.http

    async def start(self) -> None:
        settings = self.settings
        # httpx logs every request at INFO: each readiness probe and OpenAPI refresh.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.http = httpx.AsyncClient(timeout=5.0)
        jwks = JwksClient(
            settings.jwks_url,
            http=self.http,
            cache_seconds=settings.jwks_cache_seconds,
            min_refresh_interval=settings.jwks_min_refresh_seconds,
            retry_max=settings.startup_retry_max_seconds,
        )
        self.jwks = jwks
        verifier = TokenVerifier(
            jwks,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
        )
        self.revocations = RevocationList(leeway_seconds=settings.jwt_leeway_seconds)
        shares_counts = settings.rate_limit_enabled and settings.rate_limit_sync == "nats"
        if settings.revocations == "nats" or shares_counts:
            # One connection for the revocation feed and the shared counters; both register
            # what to do on (re)connection before it starts.
            self.nats = NatsConnection.for_settings(settings)
        if settings.revocations == "nats":
            assert self.nats is not None
            self.revocation_feed = RevocationFeed(
                self.revocations,
                self.nats,
                stream=settings.events_stream,
                replay_seconds=settings.revocation_replay_seconds,
                retry_max=settings.startup_retry_max_seconds,
            )
            await self.revocation_feed.start()
        self.authenticator = EdgeAuthenticator(
            verifier,
            settings.principal_secret,
            cache_size=settings.token_cache_size,
            revocations=self.revocations,
        )
        if settings.rate_limit_enabled:
            self.limiter = RateLimiter(settings.rate_limits, max_keys=settings.rate_limit_max_keys)
            if shares_counts:
                assert self.nats is not None
                self.sync = NatsCounterSync(
                    self.limiter.counter,
                    self.nats,
                    interval=settings.rate_limit_sync_interval_seconds,
                )
                await self.sync.start()
        if self.nats is not None:
            await self.nats.start()
        self.proxy.start(self.authenticator, self.limiter)
        port = settings.metrics_listen_port
        if port is not None and self.metrics is not None:
            # Operational data stays off the public port: its own listener, internal by default.
            try:
                self.metrics_server = start_http_server(
                    port, addr=settings.metrics_host, registry=self.metrics.registry
                )
            except OSError as exc:
                # The public edge matters more than its metrics: serve on, loudly.
                log.error(
                    "cannot serve metrics",
                    extra={"host": settings.metrics_host, "port": port, "error": str(exc)},
                )
            else:
                log.info("metrics listening", extra={"host": settings.metrics_host, "port": port})
        self.openapi = OpenApiAggregator(
            settings.upstream_replicas(),
            self.table,
            self.http,
            title=TITLE,
            description=DESCRIPTION,
            server_url=settings.public_url.rstrip("/"),
            refresh_seconds=settings.openapi_refresh_seconds,
            retry_seconds=settings.startup_retry_max_seconds,
        )
        await self.openapi.start()
        # Fetch the signing keys now, so the first caller does not wait for them, and again
        # soon if identity is not up yet: the gateway is not ready without them.
        self.tasks.append(asyncio.create_task(jwks.fetch_until_ready(), name="jwks-warm-up"))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        if self.openapi is not None:
            await self.openapi.stop()
        if self.sync is not None:
            await self.sync.stop()
        if self.revocation_feed is not None:
            await self.revocation_feed.stop()
        if self.nats is not None:
            await self.nats.close()
            self.nats = None
        await self.proxy.stop()
        if self.metrics_server is not None:
            server, thread = self.metrics_server
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            self.metrics_server = None
        if self.http is not None:
            await self.http.aclose()
            self.http = None


def create_app(settings: GatewaySettings) -> FastAPI:
    table = RoutingTable()
    cors = CorsPolicy(settings.cors_origins, max_age_seconds=settings.cors_max_age_seconds)
    holder: list[GatewayRuntime] = []

    async def start_gateway(runtime: ServiceRuntime) -> None:
        await holder[0].start()

    async def stop_gateway(runtime: ServiceRuntime) -> None:
        await holder[0].stop()

    app = create_service_app(
        settings,
        title=TITLE,
        description=DESCRIPTION,
        uses_database=False,
        uses_nats=False,
        on_startup=[start_gateway],
        on_shutdown=[stop_gateway],
        readiness={
            **upstream_readiness(settings.upstream_replicas(), lambda: holder[0].http_client()),
            **edge_readiness(lambda: holder[0]),
        },
    )
    # The shared app's metrics (served at /metrics) and access log (started and stopped by its
    # lifespan) take the proxied requests too.
    access_log: AccessLog | None = app.state.access_log if settings.access_log else None
    metrics: HttpMetrics = app.state.metrics
    proxy = Proxy(settings, table=table, metrics=metrics, cors=cors, access_log=access_log)
    gateway = GatewayRuntime(settings=settings, table=table, proxy=proxy, metrics=metrics)
    holder.append(gateway)
    app.state.gateway = gateway

    def merged_openapi() -> dict[str, object]:
        if gateway.openapi is None:
            return {"openapi": "3.1.0", "info": {"title": TITLE, "version": "1.0.0"}, "paths": {}}
        return gateway.openapi.document

    app.openapi = merged_openapi  # type: ignore[method-assign]
    # Outermost (inside Starlette's error guard): public paths skip the routing of FastAPI.
    app.add_middleware(GatewayEdge, proxy=proxy)
    return app


def entry_point(app: FastAPI) -> ASGIApp:
    """What the server runs: public requests go straight to the proxy, the rest to ``app``.

    ``app`` alone is a complete gateway too (its middleware proxies); this saves public
    requests FastAPI's own per-request work.
    """
    gateway: GatewayRuntime = app.state.gateway
    return GatewayEdge(app, proxy=gateway.proxy, own_headers=False)
