"""The gateway is ready when every service behind it is; ``/readyz`` reports each one."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from mpp_shared.app import ReadinessCheck


def upstream_readiness(
    upstreams: Mapping[str, str], http: Callable[[], httpx.AsyncClient]
) -> dict[str, ReadinessCheck]:
    def check(base_url: str) -> ReadinessCheck:
        async def ready() -> bool:
            response = await http().get(base_url + "/readyz", timeout=1.5)
            return response.status_code == 200

        return ready

    return {name: check(url) for name, url in upstreams.items()}
