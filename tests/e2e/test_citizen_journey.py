"""A citizen's application from registration to the satisfaction survey, through the gateway.

Everything a frontend does, in order: register with a resident of the mock registry, log in,
verify the face, search the catalogue in Indonesian, apply with prefill, upload, submit; the
agency's officer (TOTP login) reviews and asks for a revision; the citizen fixes it and submits
again; the officer advances the stages, approves and completes with the output document, which
the citizen downloads. The timeline, the notifications, the live event stream and the public
tracking page then show every step in order; the citizen answers the SKM survey and the agency
admin's reports count it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mpp_shared.testing.people import (
    AGENCY_X,
    KTP_X,
    RESIDENTS,
    Caller,
    Cast,
    expect,
    loopback,
    register_citizen,
)

pytestmark = pytest.mark.slow

PHOTOS = Path(__file__).resolve().parents[2] / "identity-service" / "demo" / "photos"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# What the lifecycle passes through, as the timeline and the tracking page tell it: each entry
# with the stage the application was at; an advance is an entry whose stage moved on.
STEPS = [
    ("submitted", None),
    ("in_review", "verifikasi"),  # a review starts at the service's first stage
    ("revision_requested", "verifikasi"),
    ("submitted", "verifikasi"),
    ("in_review", "verifikasi"),
    ("in_review", "proses"),
    ("in_review", "penerbitan"),
    ("approved", "penerbitan"),
    ("completed", "penerbitan"),
]
# The citizen's notifications, oldest first (stage advances are no news to the citizen).
NOTIFICATIONS = [
    "Permohonan diterima",
    "Permohonan sedang diperiksa",
    "Permohonan perlu diperbaiki",
    "Permohonan diterima",
    "Permohonan sedang diperiksa",
    "Permohonan disetujui",
    "Permohonan selesai",
]
STATUSES = [status for status, _ in STEPS]


def _poll(read: Callable[[], Any], done: Callable[[Any], bool], what: str, seconds: float = 30):
    """What ``read`` returns once ``done`` holds (events reach the read models a bit later)."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never came: last {json.dumps(value)[:3000]}")
        time.sleep(0.3)


def _steps(items: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """The timeline's (status, stage) pairs, a stage only where the stage advanced."""
    return [(item["status"], item.get("stage")) for item in items]


class _EventStream(threading.Thread):
    """Reads the caller's live stream (Server-Sent Events) in the background."""

    def __init__(self, caller: Caller) -> None:
        super().__init__(daemon=True)
        self.caller = caller
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.http = caller.client()

    def run(self) -> None:
        try:
            with self.http.stream(
                "GET",
                "/api/v1/events/stream",
                headers={**self.caller.headers, "Accept": "text/event-stream"},
                timeout=httpx.Timeout(None, connect=10.0),
            ) as response:
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"].startswith("text/event-stream")
                self.ready.set()
                event: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(("id:", "event:", "data:")):
                        name, _, value = line.partition(":")
                        event[name] = value.strip()
                    elif not line and "data" in event:
                        data = json.loads(event["data"])
                        self.events.append(
                            {"id": event.get("id"), "type": event.get("event"), **data}
                        )
                        event = {}
        except BaseException as exc:
            self.failure = exc
            self.ready.set()

    def stop(self) -> None:
        self.http.close()


@pytest.mark.usefixtures("demo_stack")
def test_a_citizen_applies_and_the_agency_processes_it_to_the_end(cast: Cast) -> None:
    citizen = Caller("citizen_journey", cast.gateway_url, loopback(20))
    officer = cast.officer_x
    admin = cast.admin_x
    rizky = RESIDENTS["rizky"]
    http = citizen.client()
    staff = officer.client()

    # Register with a resident of the registry; log in with the NIK.
    register_citizen(citizen, rizky)
    me = expect(http.get("/api/v1/me", headers=citizen.headers), 200)
    assert me["nik"] == rizky.nik
    assert me["assurance_level"] == 1

    # Face verification against the registry photo raises the assurance level.
    with (PHOTOS / rizky.photo).open("rb") as photo:
        face = expect(
            http.post(
                "/api/v1/me/face-verification",
                headers=citizen.headers,
                files={"selfie": (rizky.photo, photo, "image/jpeg")},
            ),
            200,
        )
    assert face["matched"] is True
    assert face["assurance_level"] == 2

    # Search in Indonesian, as people type it.
    found = expect(
        http.get("/api/v1/services", params={"q": "kartu tanda penduduk", "region_code": "64.09"}),
        200,
    )
    assert KTP_X in [item["id"] for item in found["items"]]
    service = expect(http.get(f"/api/v1/services/{KTP_X}"), 200)
    assert service["agency_id"] == AGENCY_X

    # The live stream, open before anything happens.
    stream = _EventStream(citizen)
    stream.start()
    assert stream.ready.wait(30)
    assert stream.failure is None, stream.failure
    try:
        _journey(cast, citizen, officer, admin, http, staff, stream.events)
    finally:
        stream.stop()
        http.close()
        staff.close()


def _journey(
    cast: Cast,
    citizen: Caller,
    officer: Caller,
    admin: Caller,
    http: httpx.Client,
    staff: httpx.Client,
    events: list[dict[str, Any]],
) -> None:
    rizky = RESIDENTS["rizky"]
    # Apply with prefill: the profile fills the form, and the consent is on record.
    draft = expect(
        http.post(
            "/api/v1/applications",
            headers=citizen.headers,
            json={"service_id": KTP_X, "prefill_consent": True},
        ),
        201,
    )
    app_id = draft["id"]
    assert draft["status"] == "draft"
    assert draft["form_data"]["nik"] == rizky.nik
    assert draft["form_data"]["full_name"].upper() == rizky.full_name.upper()
    consents = expect(http.get("/api/v1/me/consents", headers=citizen.headers), 200)
    assert KTP_X in json.dumps(consents["items"])

    # Submitting too early lists everything that is missing at once.
    missing = http.post(f"/api/v1/applications/{app_id}/submit", headers=citizen.headers)
    assert missing.status_code == 422, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "kk" in missing.text
    assert "reason" in missing.text

    form = {**draft["form_data"], "reason": "baru", "kk_number": "6409011405150002"}
    expect(
        http.patch(
            f"/api/v1/applications/{app_id}", headers=citizen.headers, json={"form_data": form}
        ),
        200,
    )
    kk = expect(
        http.post(
            f"/api/v1/applications/{app_id}/documents",
            headers=citizen.headers,
            data={"requirement_code": "kk"},
            files={"file": ("kk.pdf", PDF, "application/pdf")},
        ),
        201,
    )
    assert kk["sha256"] == hashlib.sha256(PDF).hexdigest()
    submitted = expect(
        http.post(
            f"/api/v1/applications/{app_id}/submit",
            headers={**citizen.headers, "Idempotency-Key": f"submit-{app_id}"},
        ),
        200,
    )
    assert submitted["status"] == "submitted"
    number, code = submitted["registration_number"], submitted["tracking_code"]

    # The officer finds it in the agency's queue, reviews it and asks for a revision.
    queue = expect(
        staff.get("/api/v1/agency/applications", headers=officer.headers, params={"limit": 100}),
        200,
    )
    assert app_id in [item["id"] for item in queue["items"]]

    def act(action: str, **extra: Any) -> dict[str, Any]:
        answer: dict[str, Any] = expect(
            staff.post(
                f"/api/v1/agency/applications/{app_id}/actions",
                headers=officer.headers,
                json={"action": action, **extra},
            ),
            200,
        )
        return answer

    assert act("start_review")["status"] == "in_review"
    revision_note = "Mohon unggah KTP-el lama karena alasan penggantian adalah rusak."
    assert act("request_revision", note=revision_note)["status"] == "revision_requested"

    # The citizen sees why, fixes the form and the documents, and submits again.
    returned = expect(http.get(f"/api/v1/applications/{app_id}", headers=citizen.headers), 200)
    assert returned["status"] == "revision_requested"
    assert revision_note in [note["text"] for note in returned["notes"]]
    form = {**form, "reason": "rusak"}
    expect(
        http.patch(
            f"/api/v1/applications/{app_id}", headers=citizen.headers, json={"form_data": form}
        ),
        200,
    )
    expect(
        http.post(
            f"/api/v1/applications/{app_id}/documents",
            headers=citizen.headers,
            data={"requirement_code": "ktp_lama"},
            files={"file": ("ktp-lama.pdf", PDF, "application/pdf")},
        ),
        201,
    )
    again = expect(http.post(f"/api/v1/applications/{app_id}/submit", headers=citizen.headers), 200)
    assert again["registration_number"] == number

    # The officer takes it through the stages, approves and completes with the product.
    assert act("start_review")["status"] == "in_review"
    assert act("advance_stage", stage="proses")["stage"] == "proses"
    assert act("advance_stage", stage="penerbitan")["stage"] == "penerbitan"
    assert act("approve")["status"] == "approved"
    product = b"%PDF-1.4\n% KTP-el " + number.encode() + b"\n%%EOF\n"
    completed = expect(
        staff.post(
            f"/api/v1/agency/applications/{app_id}/actions",
            headers=officer.headers,
            params={"note": "KTP-el siap diambil di loket Disdukcapil."},
            data={"action": "complete"},
            files={"file": ("ktp-el.pdf", product, "application/pdf")},
        ),
        200,
    )
    assert completed["status"] == "completed"

    # The citizen downloads the output document.
    final = expect(http.get(f"/api/v1/applications/{app_id}", headers=citizen.headers), 200)
    outputs = [doc for doc in final["documents"] if doc["kind"] == "output"]
    assert len(outputs) == 1
    download = http.get(
        f"/api/v1/applications/{app_id}/documents/{outputs[0]['id']}", headers=citizen.headers
    )
    assert download.status_code == 200
    assert download.content == product
    assert download.headers["content-type"].startswith("application/pdf")

    # The timeline: every step, oldest first.
    timeline = _poll(
        lambda: expect(
            http.get(f"/api/v1/applications/{app_id}/timeline", headers=citizen.headers), 200
        ),
        lambda body: [item["status"] for item in body["items"]][-1:] == ["completed"],
        "the completed step on the timeline",
    )
    assert _steps(timeline["items"]) == STEPS, timeline["items"]
    assert revision_note in json.dumps(timeline["items"])
    moments = [item["at"] for item in timeline["items"]]
    assert moments == sorted(moments)

    # Notifications (newest first): each status change, the revision request with its note.
    notifications = _poll(
        lambda: expect(
            http.get("/api/v1/notifications", headers=citizen.headers, params={"limit": 100}),
            200,
        ),
        lambda body: [item["title"] for item in body["items"]][:1] == ["Permohonan selesai"],
        "the completion notification",
    )
    mine = [item for item in reversed(notifications["items"]) if item["application_id"] == app_id]
    assert [item["title"] for item in mine] == NOTIFICATIONS
    assert {item["registration_number"] for item in mine} == {number}
    (revision,) = [item for item in mine if item["kind"] == "revision_requested"]
    assert revision_note in revision["body"]

    # The live stream told the same story, in the same order.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and [e["status"] for e in events][-1:] != ["completed"]:
        time.sleep(0.3)
    ours = [event for event in events if event["application_id"] == app_id]
    assert all(
        event["registration_number"] == number for event in ours if event["status"] != "draft"
    )
    changes = [event["status"] for event in ours if event["status"] != "draft"]
    assert _without_repeats(changes) == _without_repeats(STATUSES), ours

    # The public tracking page, with the code and without a login: the same steps, no person.
    anonymous = cast.anonymous(21).client()
    page = expect(anonymous.get(f"/api/v1/tracking/{number}", params={"code": code}), 200)
    assert page["status"] == "completed"
    assert _steps(page["timeline"]) == STEPS
    assert rizky.nik not in json.dumps(page)
    assert rizky.full_name.upper() not in json.dumps(page).upper()
    wrong = anonymous.get(f"/api/v1/tracking/{number}", params={"code": "WRONG1"})
    assert wrong.status_code == 404
    anonymous.close()

    # The survey, once; the agency admin's reports count the application and the answer.
    reports = admin.client()
    period = {"agency_id": AGENCY_X}
    before = expect(
        reports.get("/api/v1/reports/satisfaction", headers=admin.headers, params=period), 200
    )
    answers = {f"u{n}": 3 + n % 2 for n in range(1, 10)}
    expect(
        http.post(
            f"/api/v1/applications/{app_id}/survey",
            headers=citizen.headers,
            json={"answers": answers, "comment": "Pelayanan cepat dan jelas."},
        ),
        201,
    )
    twice = http.post(
        f"/api/v1/applications/{app_id}/survey", headers=citizen.headers, json={"answers": answers}
    )
    assert twice.status_code == 409
    after = _poll(
        lambda: expect(
            reports.get("/api/v1/reports/satisfaction", headers=admin.headers, params=period), 200
        ),
        lambda body: body["responses"] == before["responses"] + 1,
        "the survey in the satisfaction report",
    )
    assert 25 <= after["ikm"] <= 100
    levels = _poll(
        lambda: expect(
            reports.get("/api/v1/reports/service-levels", headers=admin.headers, params=period),
            200,
        ),
        lambda body: body["counts"].get("completed", 0) >= 1,
        "the completed application in the service-level report",
    )
    assert levels["counts"]["completed"] >= 1
    reports.close()


def _without_repeats(items: list[str]) -> list[str]:
    return [item for index, item in enumerate(items) if index == 0 or items[index - 1] != item]
