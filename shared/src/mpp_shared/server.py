"""Serves an app with uvicorn the same way in every service (``python -m <service>``).

uvicorn's own access log stays off: the correlation middleware (or the gateway's access log)
writes one line per request with the request id, so uvicorn's would only repeat it at a cost.
"""

from __future__ import annotations

import asyncio
import gc

import uvicorn
from starlette.types import ASGIApp

from mpp_shared.config import BaseServiceSettings


def serve(
    app: ASGIApp,
    settings: BaseServiceSettings,
    *,
    http: type[asyncio.Protocol] | str = "httptools",
    timeout_keep_alive: int = 5,
) -> None:
    """``http``: uvicorn's protocol name or class (the gateway bounds request heads with its
    own subclass of uvicorn's httptools protocol)."""
    # What importing and building the app made (well over 100,000 objects: modules, classes,
    # functions, SQLAlchemy's metadata) lives as long as the process. Frozen, it is no longer
    # walked by every full collection, which the steady allocation of serving requests
    # triggers every few seconds.
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=http,
        timeout_keep_alive=timeout_keep_alive,
        log_config=None,  # configure_logging in the lifespan owns the handlers
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
