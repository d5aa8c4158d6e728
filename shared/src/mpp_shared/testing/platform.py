"""The whole system as its callers meet it, for whole-system tests: only the public gateway.

:class:`PublicApi` logs people in (a platform admin through TOTP enrolment too), makes agency
systems, registers webhooks, and takes an application from draft to submitted. Calls that
meet a fault (a connection refused or reset, 502/503/504 from the gateway) are tried again
until ``patience`` runs out, the way a frontend that retries would; writes are retried with
the same ``Idempotency-Key``, so a retry never makes a second application.

:class:`WebhookReceiver` is an agency system's endpoint: it records every delivery and may
refuse the first attempt of each event, to make the platform retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
from aiohttp import web

# Answers that say "the system is in trouble, try again", as opposed to "your request is wrong".
RETRY_STATUSES = frozenset({502, 503, 504})

# The smallest file the document checks accept as a PDF.
TINY_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


class GaveUp(Exception):
    """A call kept meeting faults for longer than the caller's patience."""


@dataclass
class Submitted:
    application_id: str
    registration_number: str
    tracking_code: str


@dataclass
class PublicApi:
    base_url: str
    patience: float = 90.0
    http: httpx.AsyncClient = field(init=False)
    # Faults met and retried, by kind ("503", "ConnectError"…): what the callers saw.
    faults_seen: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=15.0)

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One request, retried through faults; any other answer is returned as it is."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        deadline = time.monotonic() + self.patience
        while True:
            kind: str
            try:
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                kind = type(exc).__name__
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                kind = str(response.status_code)
            self.faults_seen[kind] = self.faults_seen.get(kind, 0) + 1
            if time.monotonic() > deadline:
                raise GaveUp(f"{method} {path}: still {kind} after {self.patience:.0f} s")
            await asyncio.sleep(0.3)

    async def expect(
        self, status: int, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> Any:
        response = await self.call(method, path, token=token, **kwargs)
        if response.status_code != status:
            raise AssertionError(
                f"{method} {path}: {response.status_code}, not {status}: {response.text[:500]}"
            )
        return response.json() if response.content else None

    # -- people and systems --------------------------------------------------------------------
    async def login(self, username: str, password: str, otp: str | None = None) -> str:
        body: dict[str, str] = {"username": username, "password": password}
        if otp is not None:
            body["otp"] = otp
        tokens = await self.expect(200, "POST", "/api/v1/auth/login", json=body)
        return str(tokens["access_token"])

    async def staff_login(self, username: str, password: str) -> str:
        """A staff member's full token, enrolling TOTP on the way if not yet done."""
        first = await self.login(username, password)
        enrolment = await self.expect(200, "POST", "/api/v1/me/mfa/totp", token=first)
        totp = pyotp.TOTP(enrolment["secret"])
        now = time.time()
        # Each step's code is accepted once: confirm with the previous step's, log in with
        # the current one's.
        await self.expect(
            204,
            "POST",
            "/api/v1/me/mfa/totp/confirm",
            token=first,
            json={"otp": totp.at(now - 30)},
        )
        return await self.login(username, password, otp=totp.at(now))

    async def agency_system(
        self, admin_token: str, *, agency_id: str, scopes: list[str]
    ) -> tuple[str, str]:
        """A new agency client (client_credentials): its id and secret."""
        client = await self.expect(
            201,
            "POST",
            "/api/v1/clients",
            token=admin_token,
            json={
                "name": f"system-{uuid.uuid4().hex[:8]}",
                "agency_id": agency_id,
                "scopes": scopes,
            },
        )
        return str(client["client_id"]), str(client["client_secret"])

    async def client_token(self, client_id: str, client_secret: str) -> str:
        tokens = await self.expect(
            200,
            "POST",
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
        )
        return str(tokens["access_token"])

    # -- applications ------------------------------------------------------------------------
    async def submit_application(
        self, token: str, *, service_id: str, form: dict[str, Any], requirement: str
    ) -> Submitted:
        """Draft with prefill, the rest of the form, one document, submit: retried through
        faults with one Idempotency-Key per write."""
        draft = await self.expect(
            201,
            "POST",
            "/api/v1/applications",
            token=token,
            json={"service_id": service_id, "prefill_consent": True},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        application_id = str(draft["id"])
        path = f"/api/v1/applications/{application_id}"
        await self.expect(
            200, "PATCH", path, token=token, json={"form_data": {**draft["form_data"], **form}}
        )
        await self.expect(
            201,
            "POST",
            f"{path}/documents",
            token=token,
            data={"requirement_code": requirement},
            files={"file": ("kk.pdf", TINY_PDF, "application/pdf")},
        )
        submitted = await self.expect(
            200,
            "POST",
            f"{path}/submit",
            token=token,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return Submitted(
            application_id, str(submitted["registration_number"]), str(submitted["tracking_code"])
        )

    async def timeline(self, token: str, application_id: str) -> list[dict[str, Any]]:
        answer = await self.expect(
            200, "GET", f"/api/v1/applications/{application_id}/timeline", token=token
        )
        return list(answer["items"])


@dataclass(frozen=True)
class Delivery:
    event_id: str
    delivery_id: str
    event_type: str
    application_id: str | None
    signed: bool
    answered: int


class WebhookReceiver:
    """An agency system's webhook endpoint on 127.0.0.1, recording every POST it gets.

    With ``refuse_first``, the first attempt of each event is answered 500 (the platform must
    retry it, once); later attempts 200. Signatures are checked against ``secret``.
    """

    def __init__(self, secret: str, *, refuse_first: bool = False) -> None:
        self.secret = secret.encode()
        self.refuse_first = refuse_first
        self.deliveries: list[Delivery] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp keeps the bound port here only
        assert isinstance(server, asyncio.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _signed(self, header: str, body: bytes) -> bool:
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        expected = hmac.new(
            self.secret, parts.get("t", "").encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        event = json.loads(body)
        event_id = request.headers.get("X-MPP-Event-Id", "")
        first = not any(d.event_id == event_id for d in self.deliveries)
        status = 500 if self.refuse_first and first else 200
        data = event.get("data") if isinstance(event, dict) else None
        self.deliveries.append(
            Delivery(
                event_id=event_id,
                delivery_id=request.headers.get("X-MPP-Delivery-Id", ""),
                event_type=str(event.get("type", "")) if isinstance(event, dict) else "",
                application_id=str(data["application_id"])
                if isinstance(data, dict) and "application_id" in data
                else None,
                signed=self._signed(request.headers.get("X-MPP-Signature", ""), body),
                answered=status,
            )
        )
        return web.Response(status=status)


async def eventually(
    check: Callable[[], Awaitable[bool]],
    *,
    timeout: float,  # noqa: ASYNC109 - how long to keep asking, not a cancel scope
    interval: float = 0.5,
) -> bool:
    """Whether ``check`` came true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
