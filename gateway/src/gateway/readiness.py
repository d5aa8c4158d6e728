"""The gateway is ready when it can serve every request; ``/readyz`` reports each condition.

Every service behind it is ready, the signing keys are fetched, every service's OpenAPI
document is merged, and the revocations in force have been replayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import httpx

from mpp_shared.app import ReadinessCheck

if TYPE_CHECKING:
    from gateway.main import GatewayRuntime


def upstream_readiness(
    upstreams: Mapping[str, Sequence[str]], http: Callable[[], httpx.AsyncClient]
) -> dict[str, ReadinessCheck]:
    """A service is ready when one of its replicas is (the gateway balances over the ready)."""

    def check(base_urls: Sequence[str]) -> ReadinessCheck:
        async def one(base_url: str) -> bool:
            try:
                response = await http().get(base_url + "/readyz", timeout=1.5)
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        async def ready() -> bool:
            answers = await asyncio.gather(*(one(url) for url in base_urls))
            return any(answers)

        return ready

    return {name: check(urls) for name, urls in upstreams.items()}


def edge_readiness(runtime: Callable[[], GatewayRuntime]) -> dict[str, ReadinessCheck]:
    """The gateway's own conditions, by name: ``signing_keys``, ``openapi``, ``revocations``."""

    async def signing_keys() -> bool:
        jwks = runtime().jwks
        return jwks is not None and jwks.ready

    async def openapi() -> bool:
        aggregator = runtime().openapi
        return aggregator is not None and aggregator.complete

    async def revocations() -> bool:
        gateway = runtime()
        if gateway.settings.revocations == "off":
            return True
        return gateway.revocation_feed is not None and gateway.revocation_feed.caught_up

    return {"signing_keys": signing_keys, "openapi": openapi, "revocations": revocations}
