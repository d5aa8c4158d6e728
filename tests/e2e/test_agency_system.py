"""An agency's own system processes an application over the API and hears every step by webhook.

What an agency's back office does when it does not use the shared officer screens: the
platform admin registers the agency's system (an OAuth client, ``client_credentials``), the
system gets a token, registers a webhook to its own receiver, lists its agency's queue and takes
a citizen's application from review to completion. The receiver hears every change once, each
signed with the webhook's secret (the signature is computed here, from API.md's scheme), as a
CloudEvent that names no person. Another agency's application stays out of its reach, and a
system without ``applications:process`` may read the queue but not act.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mpp_shared.testing.people import (
    AGENCY_X,
    KTP_X,
    KTP_Y,
    RESIDENTS,
    Caller,
    Cast,
    Receiver,
    agency_client,
    every_item,
    expect,
    loopback,
    register_citizen,
)

pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
KK_NUMBER = "3574031405150002"
SECRET = "sistem-disdukcapil-" + uuid.uuid4().hex  # the agency's, chosen at registration
# A delivery signed longer ago than this is a replay to the receiver.
SIGNATURE_TOLERANCE_SECONDS = 300
# What the agency's system does, and what each step must tell its receiver (status, stage).
ACTIONS: list[tuple[dict[str, Any], tuple[str, str | None]]] = [
    ({"action": "start_review"}, ("in_review", "verifikasi")),
    ({"action": "advance_stage", "stage": "proses"}, ("in_review", "proses")),
    ({"action": "advance_stage", "stage": "penerbitan"}, ("in_review", "penerbitan")),
    ({"action": "approve", "note": "Data sesuai."}, ("approved", "penerbitan")),
    ({"action": "complete", "note": "KTP-el siap diambil."}, ("completed", "penerbitan")),
]


def verify_signature(header: str, body: bytes, secret: str) -> int:
    """The signing time of a valid ``X-MPP-Signature`` (``t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<body>">``); raises AssertionError for anything else."""
    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    assert set(parts) >= {"t", "v1"}, header
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"]), "the signature does not verify"
    return int(parts["t"])


def submitted_application(citizen: Caller, service_id: str) -> dict[str, Any]:
    """A KTP-el application of ``citizen``, filled in with prefill, the KK uploaded, submitted."""
    with citizen.client() as http:
        draft = expect(
            http.post(
                "/api/v1/applications",
                headers=citizen.headers,
                json={"service_id": service_id, "prefill_consent": True},
            ),
            201,
        )
        form = {**draft["form_data"], "reason": "baru", "kk_number": KK_NUMBER}
        expect(
            http.patch(
                f"/api/v1/applications/{draft['id']}",
                headers=citizen.headers,
                json={"form_data": form},
            ),
            200,
        )
        expect(
            http.post(
                f"/api/v1/applications/{draft['id']}/documents",
                headers=citizen.headers,
                data={"requirement_code": "kk"},
                files={"file": ("kk.pdf", PDF, "application/pdf")},
            ),
            201,
        )
        submitted: dict[str, Any] = expect(
            http.post(f"/api/v1/applications/{draft['id']}/submit", headers=citizen.headers),
            200,
        )
    return {**draft, **submitted}


@pytest.fixture(scope="module")
def citizen(cast: Cast) -> Caller:
    return register_citizen(
        Caller("citizen_agency_system", cast.gateway_url, loopback(30)), RESIDENTS["sri"]
    )


@pytest.fixture(scope="module")
def system(cast: Cast) -> Caller:
    """Agency X's own system: reads and processes its queue."""
    return agency_client(
        cast.platform_admin,
        Caller("sistem_x", cast.gateway_url, loopback(31)),
        agency_id=AGENCY_X,
        scopes=["applications:read", "applications:process"],
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _wait_for(receiver: Receiver, application_id: str, count: int) -> list[Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = receiver.events_of(application_id)
        if len(events) >= count:
            time.sleep(2)  # anything sent twice would come in now
            return receiver.events_of(application_id)
        time.sleep(0.3)
    raise AssertionError(
        f"{count} deliveries expected, got {len(receiver.events_of(application_id))}"
    )


def test_the_agency_system_processes_an_application_and_hears_each_step_signed(
    system: Caller, citizen: Caller, receiver: Receiver
) -> None:
    http = system.client()
    token = expect(
        http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(str(system.client_id), str(system.client_secret)),
        ),
        200,
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == {"applications:read", "applications:process"}
    assert "refresh_token" not in token

    webhook = expect(
        http.post(
            "/api/v1/webhooks",
            headers=system.headers,
            json={
                "url": receiver.url,
                "events": ["mpp.application.application.*"],
                "secret": SECRET,
            },
        ),
        201,
    )
    assert webhook["agency_id"] == AGENCY_X
    assert webhook["url"] == receiver.url
    assert SECRET not in json.dumps(webhook)

    application = submitted_application(citizen, KTP_X)
    app_id = application["id"]
    queue = every_item(http, "/api/v1/agency/applications", system.headers, status="submitted")
    assert app_id in [item["id"] for item in queue]
    assert {item["status"] for item in queue} == {"submitted"}
    assert {item["agency_id"] for item in queue} == {AGENCY_X}

    expected: list[tuple[str, str | None]] = [("submitted", None)]
    for body, step in ACTIONS:
        acted = expect(
            http.post(
                f"/api/v1/agency/applications/{app_id}/actions", headers=system.headers, json=body
            ),
            200,
        )
        assert (acted["status"], acted.get("stage")) == step
        expected.append(step)
    again = http.post(
        f"/api/v1/agency/applications/{app_id}/actions",
        headers=system.headers,
        json={"action": "approve"},
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "illegal_transition"
    http.close()

    deliveries = _wait_for(receiver, app_id, len(expected))
    assert len(deliveries) == len(expected), [event["type"] for _, event in deliveries]
    ids = [request.headers["X-MPP-Event-Id"] for request, _ in deliveries]
    assert len(set(ids)) == len(ids), ids
    for request, event in deliveries:
        signed_at = verify_signature(request.headers["X-MPP-Signature"], request.body, SECRET)
        assert abs(request.at - signed_at) <= SIGNATURE_TOLERANCE_SECONDS
        assert request.headers["Content-Type"].startswith("application/")
        assert event["id"] == request.headers["X-MPP-Event-Id"]
        assert event["specversion"] == "1.0"
        assert event["type"].startswith("mpp.application.application.")
        assert event["source"]
        assert event["data"]["agency_id"] == AGENCY_X
    # Deliveries may overtake each other; the per-application sequence tells the order.
    events = sorted((event for _, event in deliveries), key=lambda e: e["data"]["sequence"])
    assert [e["data"]["sequence"] for e in events] == list(range(1, len(expected) + 1))
    assert [(e["data"]["status"], e["data"].get("stage")) for e in events] == expected
    assert events[0]["type"] == "mpp.application.application.submitted"
    assert events[-1]["type"] == "mpp.application.application.completed"
    assert {e["data"]["registration_number"] for e in events} == {
        application["registration_number"]
    }

    # The CloudEvents name nobody: no NIK, name, contact, address or form data, no tracking code.
    resident = RESIDENTS["sri"]
    personal = [
        resident.nik,
        resident.full_name.upper(),
        resident.birth_date,
        KK_NUMBER,
        "+62812" + resident.nik[-8:],
        "sri.wahyuni@example.id",
        application["tracking_code"],
        *[str(v).upper() for v in application["form_data"]["address"].values() if len(str(v)) > 3],
    ]
    for request, _ in deliveries:
        text = request.body.decode().upper()
        leaked = [value for value in personal if value.upper() in text]
        assert not leaked, f"personal data in a webhook delivery: {leaked}"
        assert "form_data" not in request.body.decode()

    # The platform's record of the deliveries agrees: each delivered once, answered 204.
    with system.client() as http:
        record = expect(
            http.get(
                f"/api/v1/webhooks/{webhook['id']}/deliveries",
                headers=system.headers,
                params={"limit": 100},
            ),
            200,
        )
    mine = [d for d in record["items"] if d["event_id"] in ids]
    assert len(mine) == len(ids)
    assert {d["status"] for d in mine} == {"delivered"}
    assert {a["status_code"] for d in mine for a in d["attempts"]} == {204}


def test_the_agency_system_cannot_reach_another_agencys_application(
    system: Caller, citizen: Caller
) -> None:
    other = submitted_application(citizen, KTP_Y)
    with system.client() as http:
        read = http.get(f"/api/v1/applications/{other['id']}", headers=system.headers)
        assert read.status_code == 404, read.text
        assert read.headers["content-type"].startswith("application/problem+json")
        acted = http.post(
            f"/api/v1/agency/applications/{other['id']}/actions",
            headers=system.headers,
            json={"action": "start_review"},
        )
        assert acted.status_code == 404, acted.text
        timeline = http.get(f"/api/v1/applications/{other['id']}/timeline", headers=system.headers)
        assert timeline.status_code == 404, timeline.text
        queue = every_item(http, "/api/v1/agency/applications", system.headers)
        assert other["id"] not in [item["id"] for item in queue]
    with citizen.client() as http:
        untouched = expect(
            http.get(f"/api/v1/applications/{other['id']}", headers=citizen.headers), 200
        )
    assert untouched["status"] == "submitted"


def test_a_system_without_the_process_scope_reads_the_queue_but_cannot_act(
    cast: Cast, citizen: Caller
) -> None:
    reader = agency_client(
        cast.platform_admin,
        Caller("pembaca_x", cast.gateway_url, loopback(32)),
        agency_id=AGENCY_X,
        scopes=["applications:read"],
    )
    application = submitted_application(citizen, KTP_X)
    with reader.client() as http:
        queue = every_item(http, "/api/v1/agency/applications", reader.headers)
        assert application["id"] in [item["id"] for item in queue]
        acted = http.post(
            f"/api/v1/agency/applications/{application['id']}/actions",
            headers=reader.headers,
            json={"action": "start_review"},
        )
        assert acted.status_code == 403, acted.text
        assert acted.headers["content-type"].startswith("application/problem+json")
        # Nor may it ask the token endpoint for the scope it was not given.
        widened = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "applications:process"},
            auth=(str(reader.client_id), str(reader.client_secret)),
        )
        assert widened.status_code in (400, 401), widened.text
        assert widened.json().get("error") == "invalid_scope"
    with citizen.client() as http:
        untouched = expect(
            http.get(f"/api/v1/applications/{application['id']}", headers=citizen.headers), 200
        )
    assert untouched["status"] == "submitted"
