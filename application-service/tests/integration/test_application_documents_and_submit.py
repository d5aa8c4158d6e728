"""Documents (type by content, size while streaming, replacement) and submission (every problem
at once, registration numbers, tracking codes, due dates, idempotency)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from mpp_shared.events.tables import outbox


@pytest.fixture(scope="module")
async def client(application_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with application_app_client() as opened:
        yield opened


@pytest.fixture(scope="module")
async def service(client: httpx.AsyncClient, new_service: Any, catalogue: Any) -> dict[str, Any]:
    payload = new_service()
    await catalogue.publish(client, payload)
    return payload


async def _draft(client: httpx.AsyncClient, who: Any, service: dict[str, Any]) -> str:
    response = await client.post(
        "/api/v1/applications", json={"service_id": service["service_id"]}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _upload(
    client: httpx.AsyncClient,
    who: Any,
    application_id: str,
    content: bytes,
    *,
    requirement: str = "kk",
    filename: str = "kk.pdf",
    content_type: str = "application/pdf",
) -> httpx.Response:
    return await client.post(
        f"/api/v1/applications/{application_id}/documents",
        data={"requirement_code": requirement},
        files={"file": (filename, content, content_type)},
        headers=who.headers,
    )


async def _ready(client: httpx.AsyncClient, who: Any, service: dict[str, Any], samples: Any) -> str:
    application_id = await _draft(client, who, service)
    await client.patch(
        f"/api/v1/applications/{application_id}",
        json={"form_data": samples.valid_form},
        headers=who.headers,
    )
    assert (await _upload(client, who, application_id, samples.pdf)).status_code == 201
    return application_id


async def test_upload_stores_the_document_and_the_owner_downloads_it(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    response = await _upload(client, who, application_id, samples.pdf, filename="../../kk.pdf")
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["requirement_code"] == "kk"
    assert document["content_type"] == "application/pdf"
    assert document["size"] == len(samples.pdf)
    assert re.fullmatch(r"[0-9a-f]{64}", document["sha256"])
    assert "/" not in document["filename"]
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert [d["id"] for d in read["documents"]] == [document["id"]]
    download = await client.get(
        f"/api/v1/applications/{application_id}/documents/{document['id']}", headers=who.headers
    )
    assert download.status_code == 200
    assert download.content == samples.pdf
    assert download.headers["content-type"] == "application/pdf"


async def test_a_pdf_that_is_really_a_shell_script_is_refused(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    files_before = samples.blob_files(client)
    script = b"#!/bin/sh\nrm -rf / --no-preserve-root\n"
    response = await _upload(client, who, application_id, script, filename="kk.pdf")
    assert response.status_code == 422
    assert response.json()["code"] == "unsupported_type"
    assert samples.blob_files(client) == files_before
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert read["documents"] == []


async def test_a_type_the_requirement_does_not_accept_is_refused(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    # "foto" takes JPEG and PNG, not PDF.
    response = await _upload(client, who, application_id, samples.pdf, requirement="foto")
    assert response.status_code == 422
    assert response.json()["code"] == "unsupported_type"


async def test_a_file_over_the_requirements_size_is_413_and_not_kept(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    files_before = samples.blob_files(client)
    big = samples.pdf + b"0" * (1024 * 1024)  # the requirement allows 1 MB
    response = await _upload(client, who, application_id, big)
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert samples.blob_files(client) == files_before


async def test_an_unknown_requirement_is_422(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    response = await _upload(client, who, application_id, samples.pdf, requirement="paspor")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "requirement_code"]


async def test_a_new_document_replaces_the_old_one_and_its_blob(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    first = (await _upload(client, who, application_id, samples.pdf)).json()
    second_content = samples.pdf + b"% second\n"
    second = (await _upload(client, who, application_id, second_content)).json()
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert [d["id"] for d in read["documents"]] == [second["id"]]
    names = {p.name for p in samples.blob_files(client)}
    assert second["id"] in names
    assert first["id"] not in names
    old = await client.get(
        f"/api/v1/applications/{application_id}/documents/{first['id']}", headers=who.headers
    )
    assert old.status_code == 404


async def test_nobody_else_uploads_to_or_reads_a_citizens_documents(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    application_token: Callable[..., dict[str, str]],
) -> None:
    owner, stranger = citizen(), citizen()
    application_id = await _ready(client, owner, service, samples)
    assert (await _upload(client, stranger, application_id, samples.pdf)).status_code == 404
    document = (
        await client.get(f"/api/v1/applications/{application_id}", headers=owner.headers)
    ).json()["documents"][0]
    path = f"/api/v1/applications/{application_id}/documents/{document['id']}"
    assert (await client.get(path, headers=stranger.headers)).status_code == 404
    other_agency = application_token(roles=["officer"], agency_id=str(uuid.uuid4()))
    assert (await client.get(path, headers=other_agency)).status_code == 404
    # The agency's own staff see it once submitted, not while a draft.
    officer = application_token(roles=["officer"], agency_id=service["agency_id"])
    assert (await client.get(path, headers=officer)).status_code == 404
    submitted = await client.post(
        f"/api/v1/applications/{application_id}/submit", headers=owner.headers
    )
    assert submitted.status_code == 200, submitted.text
    assert (await client.get(path, headers=officer)).status_code == 200
    client_token = application_token(
        roles=[], agency_id=service["agency_id"], scope="applications:read", client_id="simpel"
    )
    assert (await client.get(path, headers=client_token)).status_code == 200
    # Staff may not use the citizen's endpoints to change anything.
    assert (await _upload(client, _Who(officer), application_id, samples.pdf)).status_code == 403


class _Who:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


async def test_submit_lists_every_problem_at_once(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any]
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    await client.patch(
        f"/api/v1/applications/{application_id}",
        json={"form_data": {"nik": "12", "reason": "lainnya"}},
        headers=who.headers,
    )
    response = await client.post(
        f"/api/v1/applications/{application_id}/submit", headers=who.headers
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "submission_incomplete"
    locations = {tuple(error["loc"]) for error in problem["errors"]}
    assert ("form_data", "nik") in locations  # pattern
    assert ("form_data", "reason") in locations  # enum
    assert ("form_data", "full_name") in locations  # required
    assert ("documents", "kk") in locations  # mandatory document missing
    assert ("documents", "foto") not in locations  # optional
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert read["status"] == "draft"
    assert read["registration_number"] is None


async def test_submit_numbers_the_application_and_starts_the_clock(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _ready(client, who, service, samples)
    response = await client.post(
        f"/api/v1/applications/{application_id}/submit", headers=who.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "submitted"
    year = datetime.fromisoformat(body["submitted_at"]).year
    assert re.fullmatch(rf"64\.72-{year}-\d{{6}}", body["registration_number"])
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", body["tracking_code"])
    due = datetime.fromisoformat(body["due_at"])
    assert due > datetime.fromisoformat(body["submitted_at"])
    # End of a working day in WITA (the agency's zone): 23:59:59 local is 15:59:59 UTC.
    assert (due.hour, due.minute, due.second) == (15, 59, 59)
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert read["tracking_code"] == body["tracking_code"]
    assert read["registration_number"] == body["registration_number"]
    again = await client.post(f"/api/v1/applications/{application_id}/submit", headers=who.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition"
    edit = await client.patch(
        f"/api/v1/applications/{application_id}", json={"form_data": {}}, headers=who.headers
    )
    assert edit.status_code == 409
    assert edit.json()["code"] == "illegal_transition"
    late_upload = await _upload(client, who, application_id, samples.pdf)
    assert late_upload.status_code == 409


async def test_submit_replays_under_one_idempotency_key_and_refuses_another_body(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _ready(client, who, service, samples)
    path = f"/api/v1/applications/{application_id}/submit"
    headers = {**who.headers, "Idempotency-Key": "submit-1"}
    first = await client.post(path, headers=headers)
    again = await client.post(path, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    other = await client.post(path, headers=headers, content=b'{"x": 1}')
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        subjects = (
            await session.scalars(
                select(outbox.c.envelope).where(
                    outbox.c.envelope["subject"].astext == application_id
                )
            )
        ).all()
    assert len(subjects) == 1  # one submission, one event


async def test_registration_numbers_stay_unique_under_concurrent_submits(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    ready = []
    for _ in range(12):
        who = citizen()
        ready.append((who, await _ready(client, who, service, samples)))
    responses = await asyncio.gather(
        *(
            client.post(f"/api/v1/applications/{application_id}/submit", headers=who.headers)
            for who, application_id in ready
        )
    )
    assert [r.status_code for r in responses] == [200] * len(ready)
    numbers = [r.json()["registration_number"] for r in responses]
    assert len(set(numbers)) == len(numbers)
    codes = [r.json()["tracking_code"] for r in responses]
    assert len(set(codes)) == len(codes)


async def test_withdraw_before_a_decision(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who, stranger = citizen(), citizen()
    application_id = await _ready(client, who, service, samples)
    draft_withdraw = await client.post(
        f"/api/v1/applications/{application_id}/withdraw", headers=who.headers
    )
    assert draft_withdraw.status_code == 409  # a draft is simply left, not withdrawn
    await client.post(f"/api/v1/applications/{application_id}/submit", headers=who.headers)
    path = f"/api/v1/applications/{application_id}/withdraw"
    assert (await client.post(path, headers=stranger.headers)).status_code == 404
    response = await client.post(path, headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    assert (await client.post(path, headers=who.headers)).status_code == 409


async def test_a_slow_upload_holds_no_database_connection_while_it_streams(
    client: httpx.AsyncClient, citizen: Callable[..., Any], service: dict[str, Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    pool = client.app.state.runtime.engine.pool  # type: ignore[attr-defined]
    boundary = "slow-upload-boundary"
    resume = asyncio.Event()
    streaming = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="requirement_code"\r\n\r\n'
            f'kk\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="kk.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode() + samples.pdf[:1024]
        # A caller on a slow line: the rest of the file comes later.
        streaming.set()
        await resume.wait()
        yield samples.pdf[1024:] + f"\r\n--{boundary}--\r\n".encode()

    upload = asyncio.create_task(
        client.post(
            f"/api/v1/applications/{application_id}/documents",
            content=body(),
            headers={**who.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    )
    await streaming.wait()
    await asyncio.sleep(0.3)  # the service has read the fields and the first part of the file
    held_while_streaming = pool.checkedout()
    resume.set()
    response = await upload

    assert response.status_code == 201, response.text
    assert held_while_streaming == 0


# A commit that fails after the file was stored: a constraint checked only at COMMIT refuses
# the document row of a file named so (the insert itself succeeds).
FAILING_COMMIT_SQL = [
    """CREATE OR REPLACE FUNCTION refuse_document_at_commit() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.filename = 'commit-fails.pdf' THEN
           RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation';
         END IF;
         RETURN NULL;
       END $$""",
    "DROP TRIGGER IF EXISTS documents_refused_at_commit ON documents",
    """CREATE CONSTRAINT TRIGGER documents_refused_at_commit AFTER INSERT ON documents
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_document_at_commit()""",
]


@pytest.fixture
async def failing_commit(client: httpx.AsyncClient) -> AsyncIterator[None]:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        for statement in FAILING_COMMIT_SQL:
            await session.execute(text(statement))
    yield
    async with sessionmaker() as session, session.begin():
        await session.execute(text("DROP TRIGGER documents_refused_at_commit ON documents"))


async def test_an_upload_whose_commit_fails_leaves_no_file_behind(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    failing_commit: None,
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    kept = (await _upload(client, who, application_id, samples.pdf)).json()
    files_before = samples.blob_files(client)
    assert kept["id"] in {p.name for p in files_before}

    response = await _upload(client, who, application_id, samples.pdf, filename="commit-fails.pdf")
    assert response.status_code == 500, response.text
    assert response.json()["code"] == "commit_failed"
    # Neither the new file nor the row remain; the replaced document and its file are kept.
    assert samples.blob_files(client) == files_before
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert [d["id"] for d in read["documents"]] == [kept["id"]]


async def test_an_output_document_whose_commit_fails_leaves_no_file_behind(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    application_token: Callable[..., dict[str, str]],
    failing_commit: None,
) -> None:
    who = citizen()
    application_id = await _ready(client, who, service, samples)
    submitted = await client.post(
        f"/api/v1/applications/{application_id}/submit", headers=who.headers
    )
    assert submitted.status_code == 200, submitted.text
    officer = application_token(roles=["officer"], agency_id=service["agency_id"])
    actions = f"/api/v1/agency/applications/{application_id}/actions"
    for action in ("start_review", "approve"):
        assert (await client.post(actions, json={"action": action}, headers=officer)).is_success
    files_before = samples.blob_files(client)

    response = await client.post(
        actions,
        data={"action": "complete"},
        files={"file": ("commit-fails.pdf", samples.pdf, "application/pdf")},
        headers=officer,
    )
    assert response.status_code == 500, response.text
    assert samples.blob_files(client) == files_before
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert read["status"] == "approved"
    assert [d["kind"] for d in read["documents"]] == ["input"]


class _CountingUpload:
    """A multipart body of a ``size``-byte "PDF" for requirement ``kk``, streamed in chunks
    without a Content-Length; ``pulled`` is how much of it the server read."""

    BOUNDARY = "mpp-oversize-boundary"

    def __init__(self, size: int, *, chunk: int = 64 * 1024) -> None:
        self.size, self.chunk, self.pulled = size, chunk, 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.BOUNDARY}"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = (
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="requirement_code"'
            f'\r\n\r\nkk\r\n--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n'
        ).encode()
        self.pulled += len(head)
        yield head
        sent = 9
        while sent < self.size:
            step = min(self.chunk, self.size - sent)
            self.pulled += step
            yield b"0" * step
            sent += step
        yield f"\r\n--{self.BOUNDARY}--\r\n".encode()


async def test_an_oversize_file_is_refused_without_reading_it_all(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    who = citizen()
    application_id = await _draft(client, who, service)
    files_before = samples.blob_files(client)
    body = _CountingUpload(40 * 1024 * 1024)  # the requirement allows 1 MB
    response = await client.post(
        f"/api/v1/applications/{application_id}/documents",
        content=body,
        headers={**who.headers, "Content-Type": body.content_type},
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "file_too_large"
    # Read up to the limit and a chunk or two more, not the forty megabytes.
    assert body.pulled < 1024 * 1024 + 4 * body.chunk
    assert samples.blob_files(client) == files_before


async def test_fifty_concurrent_submits_in_one_region_get_fifty_numbers_none_lost(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any], samples: Any
) -> None:
    ready = []
    for _ in range(50):
        who = citizen()
        ready.append((who, await _ready(client, who, service, samples)))
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/applications/{application_id}/submit",
                headers={**who.headers, "Idempotency-Key": f"fifty-{application_id}"},
            )
            for who, application_id in ready
        )
    )
    assert [r.status_code for r in responses] == [200] * 50
    numbers = {r.json()["registration_number"] for r in responses}
    assert len(numbers) == 50
    assert all(n.startswith(f"{service['agency_region_code']}-") for n in numbers)
    ids = [application_id for _, application_id in ready]
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        stored = set(
            (
                await session.scalars(
                    text(
                        "SELECT registration_number FROM applications WHERE id = ANY(:ids)"
                    ).bindparams(ids=[uuid.UUID(i) for i in ids])
                )
            ).all()
        )
        events = (
            await session.scalars(
                select(outbox.c.envelope["data"]["registration_number"].astext).where(
                    outbox.c.envelope["subject"].astext.in_(ids)
                )
            )
        ).all()
    assert stored == numbers  # every number answered is the one kept
    assert sorted(events) == sorted(numbers)  # one event each, with its number


async def test_a_serial_is_taken_outside_the_submissions_transaction(
    client: httpx.AsyncClient,
) -> None:
    """The counter's row is not held until the submission commits: another serial of the same
    region and year is given out while a transaction that took one is still open, and a
    rolled-back submission leaves a gap rather than a number given twice."""
    from application.db.repositories import SqlApplicationRepository

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    serials = runtime.state.serials
    assert serials is not None
    region, year = "99.01", 2031
    async with runtime.session_factory()() as session:
        await session.begin()
        repo = SqlApplicationRepository(session, serials=serials)
        taken = await repo.next_registration_serial(region_code=region, year=year)
        meanwhile = await asyncio.wait_for(serials.next(region_code=region, year=year), 10)
        await session.rollback()
    after = await serials.next(region_code=region, year=year)
    assert (taken, meanwhile, after) == (1, 2, 3)
