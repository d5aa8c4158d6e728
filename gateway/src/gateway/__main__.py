"""``python -m gateway``: serve the gateway with settings from the environment.

Both ways of starting it read requests with the gateway's bounded server protocol
(``gateway.server``: head size, header count, request-line length, head deadline):

- ``python -m gateway`` (``main``), as deployed;
- an ASGI server started by import path, which must be told the protocol as well::

      uvicorn --factory gateway.__main__:create_app_from_environment \\
          --http gateway.__main__:HttpProtocol --loop uvloop

  The app made by ``create_app_from_environment`` answers only requests read by that
  protocol: under any other (uvicorn's own ``httptools``/``h11``, another server), every
  request is refused with a 500 problem and the misconfiguration is logged, rather than
  served with heads of any size.
"""

from __future__ import annotations

import functools
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.config import GatewaySettings
from gateway.main import create_app, entry_point
from gateway.server import BOUNDED_SCOPE_KEY, BoundedHttpToolsProtocol, protocol_for
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem
from mpp_shared.server import serve

log = logging.getLogger("gateway")


class RequireBoundedProtocol:
    """Passes on only HTTP requests that the bounded server protocol read (lifespan too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._warned = False
        problem = Problem(
            "The gateway is misconfigured.", status=500, code="unbounded_server_protocol"
        )
        self._body = json.dumps(problem.to_body()).encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(BOUNDED_SCOPE_KEY):
            await self.app(scope, receive, send)
            return
        if not self._warned:
            self._warned = True
            log.error(
                "request read by a server protocol without the gateway's head bounds: refused;"
                " serve with `python -m gateway` or `--http gateway.__main__:HttpProtocol`"
            )
        headers = [
            (b"content-type", PROBLEM_CONTENT_TYPE.encode("ascii")),
            (b"content-length", str(len(self._body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": self._body})


def build(settings: GatewaySettings) -> ASGIApp:
    """The app every entry serves: the edge in front of the gateway's FastAPI app."""
    return RequireBoundedProtocol(entry_point(create_app(settings)))


def create_app_from_environment() -> ASGIApp:
    """For ASGI servers started by import path (``--factory``), with ``HttpProtocol``."""
    return build(GatewaySettings())


@functools.cache
def _protocol_from_environment() -> type[BoundedHttpToolsProtocol]:
    return protocol_for(GatewaySettings())


def __getattr__(name: str) -> type[BoundedHttpToolsProtocol]:
    # ``HttpProtocol``: the bounded protocol with the limits of the environment's settings,
    # made when a server imports it (``--http gateway.__main__:HttpProtocol``).
    if name == "HttpProtocol":
        return _protocol_from_environment()
    raise AttributeError(name)


def main() -> None:
    settings = GatewaySettings()
    serve(
        build(settings),
        settings,
        http=protocol_for(settings),
        timeout_keep_alive=max(1, round(settings.client_keep_alive_seconds)),
    )


if __name__ == "__main__":
    main()
