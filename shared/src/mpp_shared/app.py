"""The app factory every service shares: lifespan, health, metrics, errors, correlation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig

from mpp_shared.config import BaseServiceSettings
from mpp_shared.events.connection import NatsConnection
from mpp_shared.input_guard import InputGuardMiddleware
from mpp_shared.observability.accesslog import AccessLog
from mpp_shared.observability.logging import configure_logging
from mpp_shared.observability.metrics import HttpMetrics
from mpp_shared.observability.middleware import CorrelationMiddleware
from mpp_shared.openapi import install_openapi
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, install_problem_handlers

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from mpp_shared.auth.internal import VouchedPrincipals
    from mpp_shared.auth.verify import TokenVerifier
    from mpp_shared.db.turns import ConnectionTurns

log = logging.getLogger(__name__)


class Worker(Protocol):
    """A background task with a lifetime: outbox relay, event consumer, scheduler."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ReadinessCheck = Callable[[], Awaitable[bool]]
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
StateT = TypeVar("StateT")


@dataclass
class ServiceRuntime:
    """What a running service holds; at ``app.state.runtime``.

    ``state`` is the service's own runtime: a small dataclass of its making (its keys, caches,
    pools), given to ``create_service_app`` and filled in by its startup hooks. Its
    dependencies read it typed, with ``state_as``; nothing is looked up by a string key.
    """

    settings: BaseServiceSettings
    engine: AsyncEngine | None = None
    sessionmaker: async_sessionmaker[AsyncSession] | None = None
    nats: NatsConnection | None = None
    workers: list[Worker] = field(default_factory=list)
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    # Verifies bearer tokens for mpp_shared.auth's dependencies (install_token_verifier).
    token_verifier: TokenVerifier | None = None
    # Checks the gateway's signed principal headers (made on first use by mpp_shared.auth).
    vouched_principals: VouchedPrincipals | None = None
    state: object | None = None

    def state_as(self, kind: type[StateT]) -> StateT:
        """The service's own runtime, which must be a ``kind``."""
        if not isinstance(self.state, kind):
            raise RuntimeError(f"this service's runtime is not a {kind.__name__}")
        return self.state

    # The first-come queues of the service's connection pools, by pool name ("main" is the
    # engine's), counted in /metrics.
    connection_turns: dict[str, ConnectionTurns] = field(default_factory=dict)

    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        if self.sessionmaker is None:
            raise RuntimeError("this service has no database")
        return self.sessionmaker

    def nats_connection(self) -> NatsConnection:
        if self.nats is None:
            raise RuntimeError("this service has no NATS connection")
        return self.nats


WorkerFactory = Callable[[ServiceRuntime], Iterable[Worker]]
Hook = Callable[[ServiceRuntime], Awaitable[None]]


def create_service_app(
    settings: BaseServiceSettings,
    *,
    title: str,
    description: str = "",
    routers: Sequence[APIRouter] = (),
    migrations_dir: Path | None = None,
    uses_database: bool = True,
    uses_nats: bool = True,
    outbox_relay: bool = True,
    workers: WorkerFactory | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    readiness: Mapping[str, ReadinessCheck] | None = None,
    state: object | None = None,
) -> FastAPI:
    """Build a service's FastAPI app. Nothing touches the network until the lifespan starts.

    ``state`` becomes ``ServiceRuntime.state``, the service's own typed runtime."""
    runtime = ServiceRuntime(settings=settings, state=state)
    metrics = HttpMetrics(settings.service_name)
    access_log = AccessLog(settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        if uses_database:
            # Imported here: a process without a database (the gateway) never loads SQLAlchemy.
            from mpp_shared.db import (
                create_engine,
                create_sessionmaker,
                database_ready,
                pool_turns,
            )
            from mpp_shared.db.migrations import run_migrations_apart

            runtime.engine = create_engine(settings)
            runtime.sessionmaker = create_sessionmaker(runtime.engine)
            engine = runtime.engine
            turns = pool_turns(engine)
            if turns is not None:
                runtime.connection_turns["main"] = turns
            runtime.readiness["database"] = lambda: database_ready(engine)
            if settings.run_migrations and migrations_dir is not None:
                await run_migrations_apart(
                    settings.database_url,
                    migrations_dir,
                    service_name=settings.service_name,
                    log_level=settings.log_level,
                )
        if uses_nats:
            runtime.nats = NatsConnection.for_settings(settings)
            nats_conn = runtime.nats

            async def nats_ready() -> bool:
                return nats_conn.connected

            runtime.readiness["nats"] = nats_ready
            await nats_conn.start()
        if uses_database and uses_nats and outbox_relay:
            from mpp_shared.events.relay import OutboxRelay

            runtime.workers.append(
                OutboxRelay(runtime.session_factory(), runtime.nats_connection(), settings=settings)
            )
        if workers is not None:
            runtime.workers.extend(workers(runtime))
        runtime.readiness.update(readiness or {})
        for hook in on_startup:
            await hook(runtime)
        for worker in runtime.workers:
            await worker.start()
        log.info("service started", extra={"port": settings.port})
        await access_log.start()
        try:
            yield
        finally:
            # Stop in reverse: consumers finish their message before the relay and NATS go.
            for worker in reversed(runtime.workers):
                try:
                    await worker.stop()
                except Exception:
                    log.exception("worker did not stop cleanly")
            for hook in on_shutdown:
                await hook(runtime)
            if runtime.nats is not None:
                await runtime.nats.close()
            if runtime.engine is not None:
                await runtime.engine.dispose()
            log.info("service stopped")
            await access_log.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        # Tracing and metrics are the services' own (traceparent, Prometheus): FastAPI's native
        # OpenTelemetry has no provider here, and finding that out cost every request 12 µs.
        telemetry=_NO_TELEMETRY,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.access_log = access_log
    app.state.metrics = metrics
    if uses_database:
        from mpp_shared.db.turns import TurnsCollector

        metrics.registry.register(
            TurnsCollector(settings.service_name, lambda: runtime.connection_turns)
        )
    install_problem_handlers(app)
    # Inside the correlation (a refused request is still logged with its id), before the rest.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(CorrelationMiddleware, metrics=metrics, access_log=access_log)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await run_readiness(runtime.readiness)
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return JSONResponse(
            {
                "type": "https://mpp.go.id/problems/not_ready",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "Not ready: " + ", ".join(k for k, ok in checks.items() if not ok),
                "code": "not_ready",
                "checks": checks,
            },
            status_code=503,
            media_type=PROBLEM_CONTENT_TYPE,
        )

    app.add_route("/metrics", metrics.endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)
    install_openapi(app)
    return app


async def run_readiness(
    checks: Mapping[str, ReadinessCheck],
    timeout: float = 2.0,  # noqa: ASYNC109 - a budget per check, not a cancel scope
) -> dict[str, bool]:
    names = list(checks)

    async def one(check: ReadinessCheck) -> bool:
        try:
            return await asyncio.wait_for(check(), timeout)
        except Exception:
            return False

    results = await asyncio.gather(*(one(checks[name]) for name in names))
    return dict(zip(names, results, strict=True))
