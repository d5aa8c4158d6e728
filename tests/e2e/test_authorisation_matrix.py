"""Who may call what: every public endpoint against every kind of caller, in one table.

The rows are the endpoints of the public API (API.md's, and the ones added since), each with
concrete objects: citizen A's application and document at agency X, citizen B's application at
agency Y, a webhook of each agency, A's notification, consent and complaint, the agencies'
reports. The columns are the callers. Each cell is the status that caller must get, and each
cell is one test: a refusal is sent as a request that would change something only if it were
wrongly allowed, and an allowed write acts on an object made for that cell alone. Where no
allowed write can be made in a test (a check-in opens an hour before the visit, a counter calls
only residents who checked in), the request is refused for the object's state (409) or for what
it says (422): answers only a caller let through gets. Rows open to anyone send what nobody may
do (a login with a wrong password, a NIK the registry does not know): every caller gets the same
answer, none is refused for who it is. A cell whose answer is still wrong is marked xfail
(strict) with the defect it shows.

``test_every_public_route_has_a_row`` reads the gateway's merged ``/openapi.json``: an endpoint
added without a row here fails it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jose import jwt

from mpp_shared.devstack import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from mpp_shared.testing.keys import new_signing_key
from mpp_shared.testing.people import (
    AGENCY_X,
    AGENCY_Y,
    CITIZEN_PASSWORD,
    KTP_X,
    KTP_Y,
    RESIDENTS,
    Caller,
    Cast,
    Receiver,
    create_staff,
    every_item,
    expect,
    http_client,
    login,
    loopback,
    unused_totp_code,
)
from mpp_shared.testing.stack import StackEnv

pytestmark = pytest.mark.slow

ROLES = (
    "anonymous",
    "citizen_a",
    "citizen_b",
    "officer_x",
    "admin_x",
    "officer_y",
    "client_x",
    "platform_admin",
)
LOCATION_X = "5a2267d6-00c6-55c8-bffc-02997a1fb749"  # the MPP of agency X's regency
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
KK_NUMBER = "1174031405150002"

# fmt: off
# Each line: the request, then the status each caller gets, in the order of ROLES:
#   ano = anonymous, ciA / ciB = citizens A and B, ofX / adX = officer and agency admin of
#   agency X, ofY = officer of agency Y, clX = agency X's system (client credentials with
#   applications:read and applications:process), pad = platform admin.
# {name} is an object of the world below; {new_...} one made afresh for each cell; a
# "#label" tells two rows of one route apart (what they send differs, see REQUESTS).
# A is the citizen at agency X, B at agency Y: B's column is A's objects seen by another
# citizen, ofY's is agency X's objects seen by another agency, and the rows of {app_y} and
# {hook_y} are agency Y's objects seen from agency X.
MATRIX = """
request                                                              ano ciA ciB ofX adX ofY clX pad
GET    /.well-known/openid-configuration                             200 200 200 200 200 200 200 200
GET    /oauth2/jwks                                                  200 200 200 200 200 200 200 200
GET    /oauth2/authorize                                             400 400 400 400 400 400 400 400
POST   /oauth2/authorize                                             400 400 400 400 400 400 400 400
POST   /oauth2/token                                                 401 401 401 401 401 401 401 401
POST   /oauth2/revoke                                                200 200 200 200 200 200 200 200
GET    /oauth2/userinfo                                              401 200 200 200 200 200 403 200
POST   /oauth2/userinfo                                              401 200 200 200 200 200 403 200
POST   /api/v1/auth/login                                            401 401 401 401 401 401 401 401
POST   /api/v1/auth/logout                                           401 204 204 204 204 204 204 204
POST   /api/v1/citizens                                              422 422 422 422 422 422 422 422
GET    /api/v1/me                                                    401 200 200 200 200 200 403 200
PATCH  /api/v1/me                                                    401 200 200 403 403 403 403 403
POST   /api/v1/me/face-verification                                  401 422 422 403 403 403 403 403
GET    /api/v1/me/consents                                           401 200 200 403 403 403 403 403
DELETE /api/v1/me/consents/{new_consent_a}                           401 204 404 403 403 403 403 403
GET    /api/v1/me/access-log                                         401 200 200 403 403 403 403 403
POST   /api/v1/me/mfa/totp                                           401 403 403 409 409 409 403 409
POST   /api/v1/me/mfa/totp/confirm                                   401 403 403 409 409 409 403 409
POST   /api/v1/staff                                                 401 403 403 403 201 403 403 201
POST   /api/v1/staff#agency_y                                        401 403 403 403 403 403 403 201
GET    /api/v1/staff                                                 401 403 403 403 200 403 403 200
POST   /api/v1/clients                                               401 403 403 403 403 403 403 201
GET    /api/v1/clients                                               401 403 403 403 403 403 403 200
DELETE /api/v1/clients/{new_client_x}                                401 403 403 403 403 403 403 204
POST   /api/v1/admin/accounts/{new_officer_x}/disable                401 403 403 403 403 403 403 204
GET    /api/v1/admin/signing-keys                                    401 403 403 403 403 403 403 200
POST   /api/v1/admin/signing-keys/rotate                             401 403 403 403 403 403 403 201
GET    /api/v1/regions?parent=64                                     200 200 200 200 200 200 200 200
GET    /api/v1/regions/64.09                                         200 200 200 200 200 200 200 200
GET    /api/v1/agencies?region_code=64.09                            200 200 200 200 200 200 200 200
GET    /api/v1/agencies/{agency_x}                                   200 200 200 200 200 200 200 200
POST   /api/v1/agencies                                              401 403 403 403 403 403 403 201
PATCH  /api/v1/agencies/{agency_x}                                   401 403 403 403 403 403 403 200
GET    /api/v1/locations                                             200 200 200 200 200 200 200 200
GET    /api/v1/locations/{loc_x}                                     200 200 200 200 200 200 200 200
GET    /api/v1/services?q=ktp                                        200 200 200 200 200 200 200 200
GET    /api/v1/services/{ktp_x}                                      200 200 200 200 200 200 200 200
POST   /api/v1/services                                              401 403 403 403 201 403 403 201
GET    /api/v1/services/{draft_svc}/draft                            401 403 403 403 200 403 403 200
PATCH  /api/v1/services/{new_draft_svc}/draft                        401 403 403 403 200 403 403 200
POST   /api/v1/services/{new_draft_svc}/publish                      401 403 403 403 200 403 403 200
POST   /api/v1/services/{new_service_x}/retire                       401 403 403 403 200 403 403 200
POST   /api/v1/applications                                          401 201 201 403 403 403 403 403
GET    /api/v1/applications                                          401 200 200 403 403 403 403 403
GET    /api/v1/applications/{app_a}                                  401 200 404 200 200 404 200 404
GET    /api/v1/applications/{app_y}                                  401 404 200 404 404 200 404 404
PATCH  /api/v1/applications/{draft_a}                                401 200 404 403 403 403 403 403
POST   /api/v1/applications/{draft_a}/documents                      401 201 404 403 403 403 403 403
GET    /api/v1/applications/{app_a}/documents/{doc_a}                401 200 404 200 200 404 200 404
GET    /api/v1/applications/{app_y}/documents/{doc_y}                401 404 200 404 404 200 404 404
POST   /api/v1/applications/{new_ready_a}/submit                     401 200 404 403 403 403 403 403
POST   /api/v1/applications/{new_sub_a}/withdraw                     401 200 404 403 403 403 403 403
GET    /api/v1/agency/applications                                   401 403 403 200 200 200 200 403
POST   /api/v1/agency/applications/{new_sub_a}/actions               401 403 403 200 403 404 200 403
POST   /api/v1/agency/applications/{new_sub_y}/actions               401 403 403 404 403 200 404 403
POST   /api/v1/counter/verifications                                 401 403 403 404 404 404 403 403
POST   /api/v1/agency/applications                                   401 403 403 201 201 403 403 403
GET    /api/v1/agency/applications/{counter_a}/receipt               401 403 403 200 200 404 403 403
GET    /api/v1/bookings/slots                                        200 200 200 200 200 200 200 200
POST   /api/v1/bookings                                              401 422 422 403 403 403 403 403
GET    /api/v1/bookings                                              401 200 200 403 403 403 403 403
GET    /api/v1/bookings/{booking_a}                                  401 200 404 200 200 404 403 404
POST   /api/v1/bookings/{new_booking_a}/cancel                       401 200 404 403 403 403 403 403
POST   /api/v1/bookings/{booking_a}/check-in                         401 409 404 409 403 404 403 403
POST   /api/v1/agency/bookings/{booking_a}/served                    401 403 403 409 403 404 403 403
POST   /api/v1/agency/bookings/{booking_a}/no-show                   401 403 403 409 403 404 403 403
POST   /api/v1/agency/locations/{loc_x}/counters/{ctr_x}/call-next   401 403 403 409 403 403 403 403
GET    /api/v1/queues/{loc_x}                                        200 200 200 200 200 200 200 200
POST   /api/v1/complaints                                            201 201 201 403 403 403 403 403
GET    /api/v1/complaints                                            401 200 200 403 403 403 403 403
GET    /api/v1/complaints/{complaint_a}                              401 200 404 200 200 404 403 403
POST   /api/v1/complaints/{complaint_a}/messages                     401 200 404 403 403 403 403 403
GET    /api/v1/complaints/track/{cnum_a}?code={ccode_a}              200 200 200 200 200 200 200 200
POST   /api/v1/complaints/track/{cnum_a}/messages?code={ccode_a}     200 200 200 200 200 200 200 200
GET    /api/v1/agency/complaints                                     401 403 403 200 200 200 403 403
GET    /api/v1/agency/complaints/report                              401 403 403 200 200 200 403 403
POST   /api/v1/agency/complaints/{new_complaint_a}/actions           401 403 403 200 200 404 403 403
GET    /api/v1/agency/complaint-settings                             401 403 403 200 200 200 403 403
PUT    /api/v1/agency/complaint-settings                             401 403 403 403 200 403 403 403
GET    /api/v1/tracking/{number_a}?code={code_a}                     200 200 200 200 200 200 200 200
GET    /api/v1/tracking/{number_a}?code=SALAH12345                   404 404 404 404 404 404 404 404
GET    /api/v1/applications/{app_a}/timeline                         401 200 404 200 200 404 200 404
GET    /api/v1/applications/{app_y}/timeline                         401 404 200 404 404 200 404 404
POST   /api/v1/applications/{completed_a}/survey                     401 201 404 403 403 403 403 403
GET    /api/v1/notifications                                         401 200 200 200 200 200 403 200
GET    /api/v1/notifications/outgoing                                401 403 403 403 403 403 403 200
POST   /api/v1/notifications/read-all                                401 200 200 200 200 200 403 200
POST   /api/v1/notifications/{notification_a}/read                   401 204 404 404 404 404 403 404
GET    /api/v1/events/stream                                         401 200 200 200 200 200 403 200
POST   /api/v1/webhooks                                              401 403 403 403 201 403 201 403
GET    /api/v1/webhooks                                              401 403 403 403 200 403 200 403
GET    /api/v1/webhooks/{hook_x}                                     401 403 403 403 200 403 200 403
GET    /api/v1/webhooks/{hook_y}                                     401 403 403 403 404 403 404 403
DELETE /api/v1/webhooks/{new_webhook_x}                              401 403 403 403 204 403 204 403
GET    /api/v1/webhooks/{hook_x}/deliveries                          401 403 403 403 200 403 200 403
GET    /api/v1/webhooks/{hook_y}/deliveries                          401 403 403 403 404 403 404 403
POST   /api/v1/webhooks/{hook_x}/deliveries/{new_delivery}/redeliver 401 403 403 403 202 403 202 403
GET    /api/v1/reports/service-levels?agency_id={agency_x}           401 403 403 403 200 403 403 200
GET    /api/v1/reports/service-levels?agency_id={agency_y}           401 403 403 403 403 403 403 200
GET    /api/v1/reports/satisfaction?agency_id={agency_x}             401 403 403 403 200 403 403 200
GET    /api/v1/reports/satisfaction?agency_id={agency_y}             401 403 403 403 403 403 403 200
"""
# fmt: on

# Cells whose answer is still wrong: (request, role) -> the defect. None now: the one the
# matrix found (an agency's staff could not read a complaint to their agency) is fixed.
DEFECTS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Row:
    request: str  # "METHOD /path?query", placeholders in braces
    expected: dict[str, int]

    @property
    def method(self) -> str:
        return self.request.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.request.split(" ", 1)[1]


def parse_matrix(text: str) -> list[Row]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    rows = []
    for line in lines[1:]:
        method, path, *cells = line.split()
        assert len(cells) == len(ROLES), f"{line!r}: one status per role"
        rows.append(Row(f"{method} {path}", dict(zip(ROLES, map(int, cells), strict=True))))
    return rows


ROWS = parse_matrix(MATRIX)


def _cells() -> Iterator[Any]:
    for row in ROWS:
        for role in ROLES:
            marks = []
            defect = DEFECTS.get((row.request, role))
            if defect is not None:
                marks.append(pytest.mark.xfail(strict=True, reason=defect))
            yield pytest.param(row, role, marks=marks, id=f"{row.request} | {role}")


# -- the world the rows act on -------------------------------------------------------------


@dataclass
class World:
    """The callers and the objects of the matrix, made through the gateway."""

    cast: Cast
    callers: dict[str, Caller]
    ids: dict[str, str] = field(default_factory=dict)
    factories: dict[str, Callable[[str], str]] = field(default_factory=dict)
    receiver: Receiver | None = None

    def resolve(self, template: str, role: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("new_"):
                return self.factories[name](role)
            return self.ids[name]

        return re.sub(r"\{([a-z_0-9]+)\}", value, template)


def _draft(citizen: Caller, service_id: str, *, consent: bool = False) -> dict[str, Any]:
    with citizen.client() as http:
        draft: dict[str, Any] = expect(
            http.post(
                "/api/v1/applications",
                headers=citizen.headers,
                json={"service_id": service_id, "prefill_consent": consent},
            ),
            201,
        )
    return draft


def _ready(citizen: Caller, service_id: str) -> dict[str, Any]:
    """A draft that may be submitted: prefilled, completed, the KK uploaded."""
    draft = _draft(citizen, service_id, consent=True)
    with citizen.client() as http:
        form = {**draft["form_data"], "reason": "baru", "kk_number": KK_NUMBER}
        expect(
            http.patch(
                f"/api/v1/applications/{draft['id']}",
                headers=citizen.headers,
                json={"form_data": form},
            ),
            200,
        )
        document = expect(
            http.post(
                f"/api/v1/applications/{draft['id']}/documents",
                headers=citizen.headers,
                data={"requirement_code": "kk"},
                files={"file": ("kk.pdf", PDF, "application/pdf")},
            ),
            201,
        )
    return {**draft, "form_data": form, "document_id": document["id"]}


def _submitted(citizen: Caller, service_id: str) -> dict[str, Any]:
    ready = _ready(citizen, service_id)
    with citizen.client() as http:
        submitted = expect(
            http.post(f"/api/v1/applications/{ready['id']}/submit", headers=citizen.headers), 200
        )
    return {**ready, **submitted}


def _counter_submitted(officer: Caller, nik: str) -> dict[str, Any]:
    """An application the officer filed at the counter for the resident of ``nik``, completed
    (form, the KK) and submitted in the resident's place."""
    with officer.client() as http:
        draft = expect(
            http.post(
                "/api/v1/agency/applications",
                headers=officer.headers,
                json={"service_id": KTP_X, "nik": nik, "prefill_from_registry": True},
            ),
            201,
        )
        form = {**draft["form_data"], "reason": "baru", "kk_number": KK_NUMBER}
        path = f"/api/v1/applications/{draft['id']}"
        expect(http.patch(path, headers=officer.headers, json={"form_data": form}), 200)
        expect(
            http.post(
                f"{path}/documents",
                headers=officer.headers,
                data={"requirement_code": "kk"},
                files={"file": ("kk.pdf", PDF, "application/pdf")},
            ),
            201,
        )
        submitted: dict[str, Any] = expect(
            http.post(f"{path}/submit", headers=officer.headers), 200
        )
    return submitted


def _act(staff: Caller, application_id: str, *actions: dict[str, Any]) -> None:
    with staff.client() as http:
        for action in actions:
            expect(
                http.post(
                    f"/api/v1/agency/applications/{application_id}/actions",
                    headers=staff.headers,
                    json=action,
                ),
                200,
            )


def _poll(read: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never came")
        time.sleep(0.3)


def _webhook(admin: Caller, url: str, events: list[str]) -> str:
    with admin.client() as http:
        created = expect(
            http.post(
                "/api/v1/webhooks",
                headers=admin.headers,
                json={"url": url, "events": events, "secret": "matrix-" + uuid.uuid4().hex},
            ),
            201,
        )
    return str(created["id"])


def _service_body(admin: Caller) -> dict[str, Any]:
    """A complete draft of a new service of agency X, modelled on its KTP-el service."""
    with admin.client() as http:
        model = expect(http.get(f"/api/v1/services/{KTP_X}"), 200)
    keep = (
        "region_codes", "category", "keywords", "requirements", "procedure", "stages",
        "sla_working_days", "fee", "output", "legal_basis", "complaint_channel", "channels",
        "min_assurance_level", "form_schema", "prefill",
    )  # fmt: skip
    body = {name: model[name] for name in keep if name in model}
    suffix = uuid.uuid4().hex[:8]
    return {
        **body,
        "agency_id": AGENCY_X,
        "code": f"matriks-{suffix}",
        "name": f"Layanan Uji Matriks {suffix}",
        "description": "Layanan untuk menguji hak akses.",
    }


def _new_service(admin: Caller, *, published: bool) -> str:
    with admin.client() as http:
        created = expect(
            http.post("/api/v1/services", headers=admin.headers, json=_service_body(admin)), 201
        )
        if published:
            expect(
                http.post(f"/api/v1/services/{created['id']}/publish", headers=admin.headers), 200
            )
    return str(created["id"])


def _complaint(
    citizen: Caller, application_id: str | None = None, *, address: str | None = None
) -> dict[str, Any]:
    """A complaint of ``citizen`` about agency X's KTP-el service, sent from ``address`` (the
    citizen's own by default: filing counts against a per-address limit, as registration
    does, and the matrix files one for each cell of a row)."""
    body: dict[str, Any] = {
        "service_id": KTP_X,
        "subject": "Antrean terlalu lama",
        "message": "Saya menunggu dua jam di loket.",
    }
    if application_id is not None:
        body["application_id"] = application_id
    client = citizen.client() if address is None else http_client(citizen.gateway_url, address)
    with client as http:
        created: dict[str, Any] = expect(
            http.post("/api/v1/complaints", headers=citizen.headers, json=body), 201
        )
    return created


def _booking(citizen: Caller) -> tuple[str, str]:
    """A visit of ``citizen`` to agency X's counter on a coming day, at a free slot."""
    with citizen.client() as http:
        for days in range(1, 30):
            day = (datetime.now(UTC) + timedelta(days=days)).date().isoformat()
            slots = http.get(
                "/api/v1/bookings/slots",
                params={"location_id": LOCATION_X, "service_id": KTP_X, "day": day},
            )
            if slots.status_code == 422:  # closed that day (a weekend, a holiday)
                continue
            free = [s for s in expect(slots, 200)["slots"] if s["available"] > 0]
            for slot in free[:1]:  # a second visit on a day it already has is 409
                booked = http.post(
                    "/api/v1/bookings",
                    headers=citizen.headers,
                    json={
                        "location_id": LOCATION_X,
                        "service_id": KTP_X,
                        "starts_at": slot["starts_at"],
                    },
                )
                if booked.status_code == 201:
                    return str(booked.json()["id"]), day
                assert booked.status_code == 409, booked.text
    raise AssertionError("no free slot in the coming month")


def build_world(cast: Cast, receiver: Receiver) -> World:
    callers = {
        "anonymous": cast.anonymous(40),
        "citizen_a": cast.citizen_a,
        "citizen_b": cast.citizen_b,
        "officer_x": cast.officer_x,
        "admin_x": cast.admin_x,
        "officer_y": cast.officer_y,
        "client_x": cast.client_x,
        "platform_admin": cast.platform_admin,
    }
    world = World(cast=cast, callers=callers, receiver=receiver)
    a, b, ids = cast.citizen_a, cast.citizen_b, world.ids
    ids["agency_x"], ids["agency_y"], ids["loc_x"] = AGENCY_X, AGENCY_Y, LOCATION_X
    ids["ktp_x"] = KTP_X

    # Webhooks first, so that what follows is delivered to X's.
    ids["hook_x"] = _webhook(cast.admin_x, receiver.url, ["mpp.application.application.*"])
    ids["hook_y"] = _webhook(cast.admin_y, receiver.url, ["mpp.application.booking.*"])

    app_a = _submitted(a, KTP_X)
    ids["app_a"], ids["doc_a"] = app_a["id"], app_a["document_id"]
    ids["number_a"], ids["code_a"] = app_a["registration_number"], app_a["tracking_code"]
    ids["draft_a"] = _draft(a, KTP_X)["id"]
    app_y = _submitted(b, KTP_Y)
    ids["app_y"], ids["doc_y"] = app_y["id"], app_y["document_id"]
    completed = _submitted(a, KTP_X)
    _act(
        cast.officer_x,
        completed["id"],
        {"action": "start_review"},
        {"action": "advance_stage", "stage": "proses"},
        {"action": "advance_stage", "stage": "penerbitan"},
        {"action": "approve"},
        {"action": "complete"},
    )
    ids["completed_a"] = completed["id"]
    ids["counter_a"] = _counter_submitted(cast.officer_x, RESIDENTS["cut"].nik)["id"]
    complaint = _complaint(a, app_a["id"])
    ids["complaint_a"] = complaint["id"]
    ids["cnum_a"] = complaint["tracking_number"]
    ids["ccode_a"] = complaint["tracking_code"]
    ids["draft_svc"] = _new_service(cast.admin_x, published=False)

    with a.client() as http:
        ids["notification_a"] = _poll(
            lambda: next(
                (
                    n["id"]
                    for n in expect(http.get("/api/v1/notifications", headers=a.headers), 200)[
                        "items"
                    ]
                ),
                None,
            ),
            "a notification of A",
        )
    with cast.admin_x.client() as http:
        ids["delivery_x"] = _poll(
            lambda: next(
                (
                    d["id"]
                    for d in expect(
                        http.get(
                            f"/api/v1/webhooks/{ids['hook_x']}/deliveries",
                            headers=cast.admin_x.headers,
                        ),
                        200,
                    )["items"]
                    if d["status"] == "delivered"
                ),
                None,
            ),
            "a delivery to X's webhook",
        )

    def consent_a(_: str) -> str:
        _draft(a, KTP_X, consent=True)
        with a.client() as http:
            items = expect(http.get("/api/v1/me/consents", headers=a.headers), 200)["items"]
        return str(max(items, key=lambda c: c.get("given_at") or c.get("created_at") or "")["id"])

    def delivered_x(_: str) -> str:
        # A delivery delivered by now (a redelivery sets it pending again).
        with cast.admin_x.client() as http:
            return str(
                _poll(
                    lambda: next(
                        (
                            d["id"]
                            for d in expect(
                                http.get(
                                    f"/api/v1/webhooks/{ids['hook_x']}/deliveries",
                                    headers=cast.admin_x.headers,
                                    params={"limit": 100},
                                ),
                                200,
                            )["items"]
                            if d["status"] == "delivered" and d["id"] not in redelivered
                        ),
                        None,
                    ),
                    "a delivered delivery",
                )
            )

    redelivered: set[str] = set()

    def delivery_once(role: str) -> str:
        chosen = delivered_x(role)
        redelivered.add(chosen)
        return chosen

    def client_x(_: str) -> str:
        with cast.platform_admin.client() as http:
            created = expect(
                http.post(
                    "/api/v1/clients",
                    headers=cast.platform_admin.headers,
                    json={"name": "Sistem sementara", "agency_id": AGENCY_X, "scopes": []},
                ),
                201,
            )
        return str(created["client_id"])

    def officer_x_account(_: str) -> str:
        with cast.platform_admin.client() as http:
            created = expect(
                http.post(
                    "/api/v1/staff",
                    headers=cast.platform_admin.headers,
                    json={
                        "email": f"petugas.{uuid.uuid4().hex[:8]}@pemda.example.id",
                        "full_name": "Petugas Sementara",
                        "password": "Kantor#Layanan2026",
                        "role": "officer",
                        "agency_id": AGENCY_X,
                    },
                ),
                201,
            )
        return str(created["id"])

    def complaint_a(role: str) -> str:
        return str(_complaint(a, address=loopback(41 + ROLES.index(role)))["id"])

    with a.client() as http:
        board = expect(http.get(f"/api/v1/queues/{LOCATION_X}"), 200)
    ids["ctr_x"] = next(c["counter_id"] for c in board["counters"] if c["agency_id"] == AGENCY_X)
    ids["booking_a"], ids["day"] = _booking(a)

    world.factories.update(
        new_booking_a=lambda _: _booking(a)[0],
        new_ready_a=lambda _: str(_ready(a, KTP_X)["id"]),
        new_sub_a=lambda _: str(_submitted(a, KTP_X)["id"]),
        new_sub_y=lambda _: str(_submitted(b, KTP_Y)["id"]),
        new_consent_a=consent_a,
        new_webhook_x=lambda _: _webhook(cast.admin_x, receiver.url, ["mpp.none.*"]),
        new_delivery=delivery_once,
        new_client_x=client_x,
        new_officer_x=officer_x_account,
        new_draft_svc=lambda _: _new_service(cast.admin_x, published=False),
        new_service_x=lambda _: _new_service(cast.admin_x, published=True),
        new_complaint_a=complaint_a,
    )
    return world


# -- what each request sends (none: nothing) ------------------------------------------------


def _unique_email() -> str:
    return f"matriks.{uuid.uuid4().hex[:8]}@pemda.example.id"


def _staff_body(agency_id: str) -> Callable[[World, str], dict[str, Any]]:
    def body(_: World, __: str) -> dict[str, Any]:
        return {
            "json": {
                "email": _unique_email(),
                "full_name": "Petugas Baru",
                "password": "Kantor#Layanan2026",
                "role": "officer",
                "agency_id": agency_id,
            }
        }

    return body


REQUESTS: dict[str, Callable[[World, str], dict[str, Any]]] = {
    "POST /oauth2/token": lambda w, r: {
        "data": {"grant_type": "client_credentials"},
        "auth": ("no-such-client", "wrong-secret"),
    },
    "POST /oauth2/revoke": lambda w, r: {"data": {"token": "not-a-token", "client_id": "mpp-app"}},
    "POST /oauth2/authorize": lambda w, r: {"data": {"username": "x", "password": "y"}},
    "POST /api/v1/auth/login": lambda w, r: {
        "json": {"username": "tidak.ada@example.id", "password": "Salah#Sandi2026"}
    },
    # Not in the registry: refused for what it says (registry_mismatch), whoever sends it.
    "POST /api/v1/citizens": lambda w, r: {
        "json": {
            "nik": "640901" + str(uuid.uuid4().int)[:10],
            "full_name": "Bukan Penduduk",
            "birth_date": "1990-01-01",
            "email": f"bukan.{uuid.uuid4().hex[:8]}@example.id",
            "phone": "+6281234567890",
            "password": CITIZEN_PASSWORD,
        }
    },
    "PATCH /api/v1/me": lambda w, r: {"json": {}},
    "POST /api/v1/me/face-verification": lambda w, r: {
        "files": {"selfie": ("bukan-foto.jpg", b"bukan gambar", "image/jpeg")}
    },
    "POST /api/v1/me/mfa/totp/confirm": lambda w, r: {"json": {"otp": "000000"}},
    "POST /api/v1/staff": _staff_body(AGENCY_X),
    "POST /api/v1/staff#agency_y": _staff_body(AGENCY_Y),
    "POST /api/v1/clients": lambda w, r: {
        "json": {"name": "Sistem Uji", "agency_id": AGENCY_X, "scopes": ["applications:read"]}
    },
    "POST /api/v1/agencies": lambda w, r: {
        "json": {
            "name": f"Dinas Uji Matriks {uuid.uuid4().hex[:6]}",
            "kind": "opd",
            "region_code": "64.09",
        }
    },
    "PATCH /api/v1/agencies/{agency_x}": lambda w, r: {"json": {}},
    "POST /api/v1/services": lambda w, r: {"json": _service_body(w.cast.admin_x)},
    "PATCH /api/v1/services/{new_draft_svc}/draft": lambda w, r: {
        "json": {"description": "Diubah oleh uji matriks."}
    },
    "POST /api/v1/applications": lambda w, r: {
        "json": {"service_id": KTP_X, "prefill_consent": False}
    },
    "PATCH /api/v1/applications/{draft_a}": lambda w, r: {"json": {"form_data": {}}},
    "POST /api/v1/applications/{draft_a}/documents": lambda w, r: {
        "data": {"requirement_code": "kk"},
        "files": {"file": ("kk.pdf", PDF, "application/pdf")},
    },
    "POST /api/v1/applications/{completed_a}/survey": lambda w, r: {
        "json": {"answers": {f"u{n}": 4 for n in range(1, 10)}}
    },
    "POST /api/v1/agency/applications/{new_sub_a}/actions": lambda w, r: {
        "json": {"action": "start_review"}
    },
    "POST /api/v1/agency/applications/{new_sub_y}/actions": lambda w, r: {
        "json": {"action": "start_review"}
    },
    # Not in the registry: refused for what it says to the staff who may verify.
    "POST /api/v1/counter/verifications": lambda w, r: {
        "json": {"nik": "640901" + str(uuid.uuid4().int)[:10], "method": "document_check"}
    },
    # Citizen A at agency X's counter: a new draft of A's for each cell let through.
    "POST /api/v1/agency/applications": lambda w, r: {
        "json": {"service_id": KTP_X, "nik": RESIDENTS["cut"].nik, "prefill_from_registry": True}
    },
    "POST /api/v1/webhooks": lambda w, r: {
        "json": {
            "url": w.receiver.url if w.receiver else "",
            "events": ["mpp.none.*"],
            "secret": "matrix-" + uuid.uuid4().hex,
        }
    },
    "POST /api/v1/complaints": lambda w, r: {
        "json": {
            "service_id": KTP_X,
            "subject": "Informasi kurang jelas",
            "message": "Persyaratan di laman berbeda dengan di loket.",
            **({"contact": {"email": "pelapor@example.id"}} if r == "anonymous" else {}),
        }
    },
    "POST /api/v1/complaints/{complaint_a}/messages": lambda w, r: {
        "json": {"text": "Mohon tindak lanjutnya."}
    },
    "POST /api/v1/complaints/track/{cnum_a}/messages?code={ccode_a}": (
        lambda w, r: {"json": {"text": "Mohon tindak lanjutnya."}}
    ),
    "POST /api/v1/agency/complaints/{new_complaint_a}/actions": lambda w, r: {
        "json": {"action": "answer", "text": "Terima kasih, kami tindak lanjuti."}
    },
    "PUT /api/v1/agency/complaint-settings": lambda w, r: {"json": {"response_working_days": 5}},
    "GET /api/v1/bookings/slots": lambda w, r: {
        "params": {"location_id": LOCATION_X, "service_id": KTP_X, "day": w.ids["day"]}
    },
    "GET /api/v1/agency/complaints/report": lambda w, r: {
        "params": {
            "from": f"{datetime.now(UTC).year}-01-01",
            "to": f"{datetime.now(UTC).year}-12-31",
        }
    },
    # A slot in the past: refused for what it says to whoever may book.
    "POST /api/v1/bookings": lambda w, r: {
        "json": {
            "location_id": LOCATION_X,
            "service_id": KTP_X,
            "starts_at": "2020-01-01T01:00:00Z",
        }
    },
}


def _fresh_sign_in(world: World, role: str) -> Caller:
    """A new sign-in of ``role`` (logging out ends it): the same account where a new login
    is cheap, a new account of the same agency and role for staff."""
    cast, url = world.cast, world.cast.gateway_url
    if role in ("citizen_a", "citizen_b"):
        resident = RESIDENTS["cut" if role == "citizen_a" else "andi"]
        caller = Caller(role, url, world.callers[role].address)
        with caller.client() as http:
            return caller.take(login(http, resident.nik, CITIZEN_PASSWORD))
    if role in ("officer_x", "admin_x", "officer_y"):
        agency = AGENCY_Y if role == "officer_y" else AGENCY_X
        kind = "agency_admin" if role == "admin_x" else "officer"
        caller = Caller(f"logout_{role}", url, world.callers[role].address)
        return create_staff(
            cast.platform_admin, caller, role=kind, agency_id=agency, full_name="Uji"
        )
    if role == "platform_admin":
        admin = world.callers[role]
        # A step's code is accepted once: one after the last login's (its step if known).
        otp = unused_totp_code(admin)
        caller = Caller("logout_admin", url, admin.address, totp_secret=admin.totp_secret)
        caller.totp_step = admin.totp_step
        with caller.client() as http:
            return caller.take(login(http, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, otp))
    if role == "client_x":
        system = world.callers[role]
        caller = Caller(
            "logout_client",
            url,
            system.address,
            client_id=system.client_id,
            client_secret=system.client_secret,
        )
        caller._refresh()  # a token of its own, from its credentials
        return caller
    return world.callers[role]


def send(world: World, row: Row, role: str) -> httpx.Response:
    caller = world.callers[role]
    if row.request == "POST /api/v1/auth/logout":
        caller = _fresh_sign_in(world, role)
    key = row.request
    path = row.path.split("#")[0]  # a label telling two rows of one route apart
    what = REQUESTS.get(key)
    kwargs = what(world, role) if what is not None else {}
    url = world.resolve(path, role)
    with caller.client() as http:
        if row.path.startswith("/api/v1/events/stream"):
            with http.stream(
                "GET", url, headers={**caller.headers, "Accept": "text/event-stream"}
            ) as response:
                return response
        return http.request(row.method, url, headers=caller.headers, **kwargs)


@pytest.fixture(scope="module")
def world(cast: Cast) -> Iterator[World]:
    with Receiver() as receiver:
        yield build_world(cast, receiver)


@pytest.mark.parametrize(("row", "role"), list(_cells()))
def test_cell(world: World, row: Row, role: str) -> None:
    response = send(world, row, role)
    expected = row.expected[role]
    assert response.status_code == expected, (
        f"{role} {row.request}: expected {expected}, got {response.status_code}: "
        f"{response.text[:500] if not row.path.startswith('/api/v1/events') else ''}"
    )
    if response.status_code in (401, 403, 404):
        assert response.headers["content-type"].startswith("application/problem+json")


def test_every_known_defect_is_a_cell_of_the_table() -> None:
    cells = {(row.request, role) for row in ROWS for role in ROLES}
    assert set(DEFECTS) <= cells, sorted(set(DEFECTS) - cells)


# -- every public route has a row -----------------------------------------------------------

# The public API's prefixes (API.md); the rest of the specification is none of its style.
PUBLIC_PREFIXES = ("/api/v1/", "/oauth2/", "/.well-known/")
_METHODS = ("get", "post", "put", "patch", "delete")


def _route_of(request: str) -> tuple[str, list[str]]:
    """A row's method and path segments, without query and label."""
    method, path = request.split(" ", 1)
    path = path.split("#")[0].split("?")[0]
    return method, path.strip("/").split("/")


def _matches(route: list[str], row: list[str]) -> bool:
    """Whether a row's path is an instance of ``route`` (an OpenAPI path's segments)."""
    if len(route) != len(row):
        return False
    return all(
        r == s or (r.startswith("{") and r.endswith("}")) for r, s in zip(route, row, strict=True)
    )


def test_every_public_route_has_a_row(demo_stack: StackEnv) -> None:
    with httpx.Client(base_url=demo_stack.gateway_url, timeout=60) as http:
        spec = expect(http.get("/openapi.json"), 200)
    routes = [
        (method.upper(), path.strip("/").split("/"))
        for path, operations in spec["paths"].items()
        if path.startswith(PUBLIC_PREFIXES)
        for method in operations
        if method in _METHODS
    ]
    assert len(routes) > 50, "the merged specification is not complete"
    rows = [_route_of(row.request) for row in ROWS]

    def best(method: str, segments: list[str]) -> list[str] | None:
        # The most literal route a row's path is an instance of (".../track/{n}" is not
        # ".../{id}/...").
        candidates = [r for m, r in routes if m == method and _matches(r, segments)]
        return max(candidates, key=lambda r: sum(not s.startswith("{") for s in r), default=None)

    covered = {(m, "/".join(r)) for m, s in rows if (r := best(m, s)) is not None}
    missing = sorted(f"{m} /{'/'.join(r)}" for m, r in routes if (m, "/".join(r)) not in covered)
    assert not missing, f"public routes without a row in the matrix: {missing}"
    unknown = sorted(row.request for row in ROWS if best(*_route_of(row.request)) is None)
    assert not unknown, f"rows of no public route: {unknown}"


def test_the_refused_requests_changed_nothing(world: World) -> None:
    """After every cell: A's and B's submitted applications are as they were submitted, and
    agency Y's webhook is still there."""
    for owner, key in ((world.cast.citizen_a, "app_a"), (world.cast.citizen_b, "app_y")):
        with owner.client() as http:
            application = expect(
                http.get(f"/api/v1/applications/{world.ids[key]}", headers=owner.headers), 200
            )
            timeline = expect(
                http.get(f"/api/v1/applications/{world.ids[key]}/timeline", headers=owner.headers),
                200,
            )
        assert application["status"] == "submitted"
        assert [item["status"] for item in timeline["items"]] == ["submitted"]
    admin_y = world.cast.admin_y
    with admin_y.client() as http:
        expect(http.get(f"/api/v1/webhooks/{world.ids['hook_y']}", headers=admin_y.headers), 200)


# -- what the allowed answers hold -----------------------------------------------------------

# A list answered 200 to a caller holds what is the caller's and nothing of another's:
# (role, list, objects that must be in it, objects of someone else that must not, the agency
# every item must be of when the list is one agency's).
LISTS: list[tuple[str, str, tuple[str, ...], tuple[str, ...], str | None]] = [
    ("citizen_b", "/api/v1/applications", ("app_y",), ("app_a", "draft_a", "completed_a"), None),
    ("citizen_a", "/api/v1/applications", ("app_a",), ("app_y",), None),
    ("officer_y", "/api/v1/agency/applications", ("app_y",), ("app_a",), AGENCY_Y),
    ("officer_x", "/api/v1/agency/applications", ("app_a",), ("app_y",), AGENCY_X),
    ("client_x", "/api/v1/agency/applications", ("app_a",), ("app_y",), AGENCY_X),
    ("citizen_a", "/api/v1/notifications", ("notification_a",), ("app_y",), None),
    ("citizen_b", "/api/v1/notifications", ("app_y",), ("notification_a", "app_a"), None),
    ("officer_y", "/api/v1/notifications", (), ("notification_a", "app_a"), None),
    ("citizen_a", "/api/v1/complaints", ("complaint_a",), (), None),
    ("citizen_b", "/api/v1/complaints", (), ("complaint_a",), None),
    ("officer_x", "/api/v1/agency/complaints", ("complaint_a",), (), None),
    ("officer_y", "/api/v1/agency/complaints", (), ("complaint_a",), None),
    ("citizen_a", "/api/v1/bookings", ("booking_a",), (), None),
    ("citizen_b", "/api/v1/bookings", (), ("booking_a",), None),
    ("admin_x", "/api/v1/webhooks", ("hook_x",), ("hook_y",), AGENCY_X),
    ("client_x", "/api/v1/webhooks", ("hook_x",), ("hook_y",), AGENCY_X),
]


@pytest.mark.parametrize(
    ("role", "path", "own", "others", "agency"), LISTS, ids=[f"{r} {p}" for r, p, *_ in LISTS]
)
def test_a_list_holds_the_callers_own_and_nothing_of_anothers(
    world: World,
    role: str,
    path: str,
    own: tuple[str, ...],
    others: tuple[str, ...],
    agency: str | None,
) -> None:
    caller = world.callers[role]
    with caller.client() as http:
        items = every_item(http, path, caller.headers)
    text = json.dumps(items)
    missing = [name for name in own if world.ids[name] not in text]
    assert not missing, f"{role} {path} lacks its own {missing}"
    leaked = [name for name in others if world.ids[name] in text]
    assert not leaked, f"{role} {path} shows another's {leaked}"
    if agency is not None:
        assert {item["agency_id"] for item in items} <= {agency}


def test_staff_lists_hold_only_the_agencys_own(world: World) -> None:
    admin = world.callers["admin_x"]
    with admin.client() as http:
        staff = expect(http.get("/api/v1/staff", headers=admin.headers, params={"limit": 100}), 200)
    assert staff["items"], "agency X has staff"
    assert {item["agency_id"] for item in staff["items"]} == {AGENCY_X}
    assert world.callers["officer_y"].subject not in [item["id"] for item in staff["items"]]


def test_only_the_owner_sees_the_tracking_code(world: World) -> None:
    """The tracking code opens the public page: the agency's staff and systems never need it."""
    app_id = world.ids["app_a"]
    for role in ("officer_x", "admin_x", "client_x"):
        caller = world.callers[role]
        with caller.client() as http:
            seen = expect(http.get(f"/api/v1/applications/{app_id}", headers=caller.headers), 200)
        assert seen.get("tracking_code") is None, role
        assert world.ids["code_a"] not in str(seen), role
    owner = world.callers["citizen_a"]
    with owner.client() as http:
        own = expect(http.get(f"/api/v1/applications/{app_id}", headers=owner.headers), 200)
    assert own["tracking_code"] == world.ids["code_a"]


def test_a_sign_in_after_the_matrix_rotated_the_signing_key_is_accepted(world: World) -> None:
    """The platform admin's cell of the rotation row put a new signing key in use: the tests
    after this module sign in with it, and the gateway fetches it (an unknown key id makes it
    refresh the key set, at most every few seconds)."""
    resident = RESIDENTS["cut"]
    caller = Caller("after_rotation", world.cast.gateway_url, world.callers["citizen_a"].address)
    with caller.client() as http:
        caller.take(login(http, resident.nik, CITIZEN_PASSWORD))
        deadline = time.monotonic() + 30
        while (me := http.get("/api/v1/me", headers=caller.headers)).status_code == 401:
            assert time.monotonic() < deadline, me.text
            time.sleep(1)
    assert expect(me, 200)["id"] == world.callers["citizen_a"].subject


# -- a token the platform did not sign -------------------------------------------------------

TOKEN_ROWS = [row for row in ROWS if row.expected["anonymous"] == 401]


def _forged_admin_token(world: World) -> str:
    """Citizen A's own token made into a platform admin's, signed with a key of our own under
    the platform's key id: what someone who read a token might try."""
    real = world.callers["citizen_a"].headers["Authorization"].removeprefix("Bearer ")
    header = jwt.get_unverified_header(real)
    claims = jwt.get_unverified_claims(real)
    claims.update(roles=["platform_admin"], agency_id=None)
    return new_signing_key(str(header.get("kid", "k1"))).sign(claims)


@pytest.mark.parametrize("row", TOKEN_ROWS, ids=[row.request for row in TOKEN_ROWS])
def test_a_forged_token_is_401_wherever_a_token_is_needed(world: World, row: Row) -> None:
    token = _forged_admin_token(world)
    # No object is made for a request that must fail: an id nobody has stands in.
    path = re.sub(r"\{(new_[a-z_0-9]+)\}", lambda _: str(uuid.uuid4()), row.path.split("#")[0])
    what = REQUESTS.get(row.request)
    kwargs = what(world, "platform_admin") if what is not None else {}
    url = world.resolve(path, "platform_admin")
    forged = {"Authorization": f"Bearer {token}"}
    with world.callers["anonymous"].client() as http:
        if row.path.startswith("/api/v1/events/stream"):
            with http.stream("GET", url, headers=forged) as response:
                status, detail = response.status_code, ""
        else:
            response = http.request(row.method, url, headers=forged, **kwargs)
            status, detail = response.status_code, response.text[:300]
    assert status == 401, f"{row.request}: {status} {detail}"
