"""Serve an app over a real socket inside the test process: uvicorn on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from mpp_shared.embedded.process import free_port


@asynccontextmanager
async def served(app: FastAPI, *, startup_timeout: float = 30.0) -> AsyncIterator[str]:
    """Run ``app`` (its lifespan included) until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, loop="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(startup_timeout):
            while not server.started:  # uvicorn offers no event to wait on
                if task.done():
                    task.result()  # raises what stopped the start
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
