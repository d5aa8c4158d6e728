"""Serves an app with uvicorn the same way in every service (``python -m <service>``)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from mpp_shared.config import BaseServiceSettings


def serve(app: FastAPI, settings: BaseServiceSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,  # configure_logging in the lifespan owns the handlers
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
