"""Refuses an upload whose declared size is too large before its body is read (413)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from identity.components import Components
from mpp_shared.problems import Problem

# Room for the multipart envelope around the picture.
MULTIPART_OVERHEAD = 64 * 1024


class PayloadTooLarge(Problem):
    status = 413
    code = "payload_too_large"


class SelfieUploadRoute(APIRoute):
    """A route whose ``Content-Length`` above the selfie limit is 413 before the multipart body
    is parsed, so a huge upload is never spooled to disk. A body without the header is still
    bounded by the handler, which reads at most the limit."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            components = request.app.state.runtime.state_as(Components)
            limit = components.settings.selfie_max_bytes + MULTIPART_OVERHEAD
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge("Berkas foto terlalu besar.")
            return await handler(request)

        return limited
