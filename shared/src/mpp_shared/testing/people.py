"""The people and systems of a whole-system test, made and logged in through the gateway only.

What a frontend or an agency's system does: citizens register with a resident of the mock
registry and log in, the platform admin enrols TOTP and creates staff, staff enrol TOTP and
log in with a code computed from their secret, an agency system gets a token with its client
credentials. Every caller talks from its own loopback address (``127.0.0.N``), as real callers
come from their own addresses: the gateway's per-address limits (logins, registrations) then
count each caller apart, and one test's logins leave another's alone.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pyotp

from mpp_shared.devstack import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD

# Demo catalogue (catalog-service/DEMO_IDS.md): two civil-registry offices of two regencies.
AGENCY_X = "b26d3102-d5ad-557c-84a2-c28f39d6a47a"  # Disdukcapil Penajam Paser Utara
AGENCY_Y = "29bf2636-a2ae-5c7d-9e57-d6543980bb70"  # Disdukcapil Kota Langsa
KTP_X = "4ac8479b-c2f0-57d2-85c2-bc59306eb8ec"  # Penerbitan KTP-el, agency X
KTP_Y = "f2dfb774-ec81-5432-95f0-0dff9936c0e4"  # Penerbitan KTP-el, agency Y

# Tokens live 15 minutes; a caller older than this refreshes before its next request.
REFRESH_AFTER_SECONDS = 600.0
# Logins at /api/v1/auth/login hand out tokens of this public client (API.md).
FIRST_PARTY_CLIENT = "mpp-app"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def loopback(number: int) -> str:
    """The loopback address ``127.0.0.<number>`` (Linux answers on all of 127.0.0.0/8)."""
    if not 2 <= number <= 254:
        raise ValueError("a caller's loopback address is 127.0.0.2 … 127.0.0.254")
    return f"127.0.0.{number}"


def http_client(gateway_url: str, address: str) -> httpx.Client:
    """A client of the gateway whose connections leave from ``address``."""
    return httpx.Client(
        base_url=gateway_url,
        transport=httpx.HTTPTransport(local_address=address),
        timeout=TIMEOUT,
    )


def async_http_client(gateway_url: str, address: str) -> httpx.AsyncClient:
    """The asynchronous twin of :func:`http_client` (for event streams read alongside)."""
    return httpx.AsyncClient(
        base_url=gateway_url,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        timeout=TIMEOUT,
    )


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON body of a response that must have ``status`` (its body in the failure)."""
    if response.status_code != status:
        raise AssertionError(
            f"{response.request.method} {response.request.url.path}: expected {status}, got "
            f"{response.status_code}: {response.text[:2000]}"
        )
    if not response.content:
        return None
    return response.json()


def every_item(
    http: httpx.Client, path: str, headers: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    """Every item of a list endpoint, page after page (``next_cursor``)."""
    items: list[dict[str, Any]] = []
    query: dict[str, str | int] = {"limit": 100, **params}
    while True:
        page = expect(http.get(path, headers=headers, params=query), 200)
        items.extend(page["items"])
        if not page.get("next_cursor"):
            return items
        query = {**query, "cursor": page["next_cursor"]}


@dataclass
class Caller:
    """Someone holding a token (None: anonymous), refreshed when it gets old."""

    name: str
    gateway_url: str
    address: str
    access_token: str | None = None
    refresh_token: str | None = None
    subject: str | None = None
    agency_id: str | None = None
    totp_secret: str | None = None
    # The TOTP time step of the last login with a code: a step's code is accepted once.
    totp_step: int | None = None
    client_id: str | None = None
    client_secret: str | None = None
    issued_at: float = field(default_factory=time.monotonic)

    def client(self) -> httpx.Client:
        return http_client(self.gateway_url, self.address)

    def async_client(self) -> httpx.AsyncClient:
        return async_http_client(self.gateway_url, self.address)

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header (none for anonymous), with a fresh token."""
        if self.access_token is None:
            return {}
        if time.monotonic() - self.issued_at > REFRESH_AFTER_SECONDS:
            self._refresh()
        return {"Authorization": f"Bearer {self.access_token}"}

    def _refresh(self) -> None:
        with self.client() as http:
            if self.client_id is not None and self.client_secret is not None:
                answer = http.post(
                    "/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=(self.client_id, self.client_secret),
                )
            else:
                answer = http.post(
                    "/oauth2/token",
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": self.refresh_token,
                        "client_id": FIRST_PARTY_CLIENT,
                    },
                )
        tokens = expect(answer, 200)
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token", self.refresh_token)
        self.issued_at = time.monotonic()

    def take(self, tokens: dict[str, Any]) -> Caller:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token")
        self.issued_at = time.monotonic()
        return self


@dataclass(frozen=True)
class Resident:
    """A resident of the mock registry (identity-service/demo/README.md)."""

    nik: str
    full_name: str
    birth_date: str
    photo: str


RESIDENTS = {
    "rizky": Resident("6409011501070001", "Rizky Pratama", "2007-01-15", "rizky-pratama.jpg"),
    "cut": Resident("1174034511920001", "Cut Nurul Aini", "1992-11-05", "cut-nurul-aini.jpg"),
    "andi": Resident(
        "6472031708790001", "Andi Muhammad Irwan", "1979-08-17", "andi-muhammad-irwan.jpg"
    ),
    "sri": Resident("3574036104700001", "Sri Wahyuni", "1970-04-21", "sri-wahyuni.jpg"),
    "jonni": Resident(
        "1209203001900001",
        "Jonni Parlindungan Simanjuntak",
        "1990-01-30",
        "jonni-parlindungan-simanjuntak.jpg",
    ),
}
TOTP_STEP_SECONDS = 30
CITIZEN_PASSWORD = "Sungai#Mahakam2026"  # noqa: S105 - a test account's
STAFF_PASSWORD = "Kantor#Layanan2026"  # noqa: S105 - a test account's


def login(http: httpx.Client, username: str, password: str, otp: str | None = None) -> Any:
    body: dict[str, str] = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return expect(http.post("/api/v1/auth/login", json=body), 200)


def enrol_totp(http: httpx.Client, enrolment_token: str) -> str:
    """Enrols TOTP with a token good only for that; returns the secret.

    The enrolment is confirmed with the previous time step's code, so that the login right
    after can use the current step's: a code (a step) is accepted once, and only a later one
    after it.
    """
    headers = {"Authorization": f"Bearer {enrolment_token}"}
    secret: str = expect(http.post("/api/v1/me/mfa/totp", headers=headers), 200)["secret"]
    code = pyotp.TOTP(secret).at(time.time() - 30)
    expect(http.post("/api/v1/me/mfa/totp/confirm", headers=headers, json={"otp": code}), 204)
    return secret


def unused_totp_code(caller: Caller) -> str:
    """A code of ``caller``'s TOTP secret for a step after its last login's (waiting for the
    next step only if that login was in the current one), that step then counted as used."""
    assert caller.totp_secret is not None
    # Not known: the current step's code may have been used.
    last = caller.totp_step if caller.totp_step is not None else _totp_step()
    while (step := _totp_step()) <= last:
        time.sleep(0.2)
    caller.totp_step = step
    return str(pyotp.TOTP(caller.totp_secret).at(step * TOTP_STEP_SECONDS))


def _totp_step() -> int:
    return int(time.time() // TOTP_STEP_SECONDS)


def staff_login(caller: Caller, username: str, password: str) -> Caller:
    """First login of a staff account: enrol TOTP, then log in with a code."""
    with caller.client() as http:
        enrolment = login(http, username, password)
        secret = enrol_totp(http, enrolment["access_token"])
        caller.totp_secret = secret
        step = _totp_step()
        caller.take(
            login(http, username, password, pyotp.TOTP(secret).at(step * TOTP_STEP_SECONDS))
        )
        caller.totp_step = step
        me = expect(http.get("/api/v1/me", headers=caller.headers), 200)
    caller.subject = me["id"]
    caller.agency_id = me.get("agency_id")
    return caller


def create_staff(
    admin: Caller, caller: Caller, *, role: str, agency_id: str, full_name: str
) -> Caller:
    """A staff account made by ``admin``, enrolled and logged in as ``caller``."""
    email = f"{caller.name.replace('_', '.')}.{uuid.uuid4().hex[:6]}@pemda.example.id"
    with admin.client() as http:
        expect(
            http.post(
                "/api/v1/staff",
                headers=admin.headers,
                json={
                    "email": email,
                    "full_name": full_name,
                    "password": STAFF_PASSWORD,
                    "role": role,
                    "agency_id": agency_id,
                },
            ),
            201,
        )
    return staff_login(caller, email, STAFF_PASSWORD)


def register_citizen(caller: Caller, resident: Resident) -> Caller:
    """Registers ``resident`` (an address and a number of their own) and logs in with the NIK."""
    email = resident.full_name.lower().replace(" ", ".") + "@example.id"
    phone = "+62812" + resident.nik[-8:]
    with caller.client() as http:
        created = expect(
            http.post(
                "/api/v1/citizens",
                json={
                    "nik": resident.nik,
                    "full_name": resident.full_name,
                    "birth_date": resident.birth_date,
                    "email": email,
                    "phone": phone,
                    "password": CITIZEN_PASSWORD,
                },
            ),
            201,
        )
        caller.take(login(http, resident.nik, CITIZEN_PASSWORD))
    caller.subject = created["id"]
    return caller


def agency_client(admin: Caller, caller: Caller, *, agency_id: str, scopes: list[str]) -> Caller:
    """An agency system registered by the platform admin, holding a client-credentials token."""
    with admin.client() as http:
        created = expect(
            http.post(
                "/api/v1/clients",
                headers=admin.headers,
                json={"name": f"Sistem {caller.name}", "agency_id": agency_id, "scopes": scopes},
            ),
            201,
        )
    caller.client_id = created["client_id"]
    caller.client_secret = created["client_secret"]
    caller.agency_id = agency_id
    caller._refresh()
    return caller


@dataclass(frozen=True)
class Cast:
    """Everyone of the authorisation matrix, logged in once for the session."""

    gateway_url: str
    platform_admin: Caller
    officer_x: Caller
    admin_x: Caller
    officer_y: Caller
    admin_y: Caller
    citizen_a: Caller
    citizen_b: Caller
    client_x: Caller

    def anonymous(self, address: int) -> Caller:
        return Caller("anonymous", self.gateway_url, loopback(address))


def make_cast(url: str) -> Cast:

    def caller(name: str, address: int) -> Caller:
        return Caller(name, url, loopback(address))

    admin = staff_login(caller("platform_admin", 10), DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)
    officer_x = create_staff(
        admin, caller("officer_x", 11), role="officer", agency_id=AGENCY_X, full_name="Petugas X"
    )
    admin_x = create_staff(
        admin, caller("admin_x", 12), role="agency_admin", agency_id=AGENCY_X, full_name="Admin X"
    )
    officer_y = create_staff(
        admin, caller("officer_y", 13), role="officer", agency_id=AGENCY_Y, full_name="Petugas Y"
    )
    admin_y = create_staff(
        admin, caller("admin_y", 14), role="agency_admin", agency_id=AGENCY_Y, full_name="Admin Y"
    )
    citizen_a = register_citizen(caller("citizen_a", 15), RESIDENTS["cut"])
    citizen_b = register_citizen(caller("citizen_b", 16), RESIDENTS["andi"])
    client_x = agency_client(
        admin,
        caller("client_x", 17),
        agency_id=AGENCY_X,
        scopes=["applications:read", "applications:process"],
    )
    return Cast(
        gateway_url=url,
        platform_admin=admin,
        officer_x=officer_x,
        admin_x=admin_x,
        officer_y=officer_y,
        admin_y=admin_y,
        citizen_a=citizen_a,
        citizen_b=citizen_b,
        client_x=client_x,
    )


@dataclass(frozen=True)
class Received:
    """One POST the receiver got, as it came over the wire."""

    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """An agency system's webhook endpoint on 127.0.0.1: answers 204 and keeps every request
    as it came (headers, raw body), for the test to verify itself."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        lock = threading.Lock()
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    requests.append(Received(dict(self.headers.items()), body, time.time()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/mpp/events"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events_of(self, application_id: str) -> list[tuple[Received, dict[str, Any]]]:
        found = []
        for request in list(self.requests):
            event = json.loads(request.body)
            if event.get("data", {}).get("application_id") == application_id:
                found.append((request, event))
        return found
