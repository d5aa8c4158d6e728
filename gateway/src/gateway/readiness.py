"""The gateway is ready when every service behind it is."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from gateway.config import GatewaySettings
from mpp_shared.app import ReadinessCheck


def upstream_readiness(
    settings: GatewaySettings, session: Callable[[], aiohttp.ClientSession]
) -> dict[str, ReadinessCheck]:
    def check(base_url: str) -> ReadinessCheck:
        async def ready() -> bool:
            async with session().get(
                base_url + "/readyz", timeout=aiohttp.ClientTimeout(total=1.5)
            ) as response:
                return response.status == 200

        return ready

    return {name: check(url) for name, url in settings.upstreams().items()}
