"""Serving the gateway: uvicorn + httptools + uvloop, as every service, minus uvicorn's access log.

Measured alternatives (docs/benchmarks.md): granian served the same app at more CPU per
request; writing each small response with one system call instead of two (status line and
headers, then body) made no measurable difference, so uvicorn's protocol is used as it is.
"""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from gateway.config import GatewaySettings


def serve(app: ASGIApp, settings: GatewaySettings) -> None:
    """As ``mpp_shared.server.serve``, for the gateway's entry point rather than a FastAPI app."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,  # configure_logging in the lifespan owns the handlers
        access_log=False,  # the gateway writes its own (gateway.accesslog)
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
