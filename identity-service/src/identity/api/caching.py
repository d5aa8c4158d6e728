"""``Cache-Control: no-store`` on every identity response that does not say otherwise.

Nearly everything this service answers is personal data or a credential (profiles, consents,
the access log, staff and client lists, userinfo, tokens, TOTP secrets, the login form), so
caching is refused by default rather than route by route, where a new route would be missed.
The few public documents (discovery, JWKS) set their own ``Cache-Control``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CACHE_CONTROL = b"cache-control"
_NO_STORE = [(_CACHE_CONTROL, b"no-store"), (b"pragma", b"no-cache")]


class NoStoreByDefault:
    """Adds ``Cache-Control: no-store`` and ``Pragma: no-cache`` to a response without a
    ``Cache-Control`` header of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == _CACHE_CONTROL for name, _ in headers):
                    headers.extend(_NO_STORE)
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_no_store)
