"""Builds the gateway's app: its own health and metrics, everything else proxied."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.config import GatewaySettings
from gateway.proxy import Proxy
from gateway.readiness import upstream_readiness
from mpp_shared.app import ServiceRuntime, create_service_app


def create_app(settings: GatewaySettings) -> FastAPI:
    proxy = Proxy(settings)

    async def start_proxy(runtime: ServiceRuntime) -> None:
        await proxy.start()

    async def stop_proxy(runtime: ServiceRuntime) -> None:
        await proxy.stop()

    app = create_service_app(
        settings,
        title="MPP Digital — public API",
        description="The single public entry point of MPP Digital.",
        uses_database=False,
        uses_nats=False,
        on_startup=[start_proxy],
        on_shutdown=[stop_proxy],
        readiness=upstream_readiness(settings, lambda: proxy.session),
    )
    app.mount("/", proxy)
    return app
