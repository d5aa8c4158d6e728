"""Receives one file of a multipart/form-data request as a stream into a blob store, checking
its type by content, its size while it streams, and hashing it on the way."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import puremagic
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from mpp_shared.blobstore import BlobStore
from mpp_shared.problems import Problem

# Room for the multipart envelope (boundaries, part headers, the text fields) around the file.
MULTIPART_OVERHEAD = 64 * 1024
# The type is decided on the first bytes of the file: enough for every signature we check.
SNIFF_BYTES = 8 * 1024
MAX_FILENAME_LENGTH = 255
MAX_TEXT_FIELD_BYTES = 4 * 1024
DEFAULT_FILENAME = "document"

# Types whose signature must be at the very start of the file, whatever a sniffer guesses
# from bytes further in: a PDF is a PDF only if it starts with "%PDF-".
_LEADING_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
}
# A ZIP is an Office Open XML document only if it has the package's content-types part, which
# writers put first; a sniffer naming any ZIP "docx" would let every archive through.
_OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."
_OOXML_MARKER = b"[Content_Types].xml"
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
_UNSAFE_FILENAME = re.compile(r"[\\/:*?\"<>|]")


@dataclass(frozen=True, slots=True)
class ReceivedDocument:
    """What was stored: the sanitised name, the size in bytes, the hex SHA-256, the type
    decided from the content, and the requested text fields of the form."""

    filename: str
    size: int
    sha256: str
    content_type: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UploadRules:
    """The limits one file is held to (e.g. those of the requirement it is uploaded for)."""

    max_bytes: int
    accepted_types: Collection[str]


RulesFor = Callable[[Mapping[str, str]], Awaitable[UploadRules]]


class FileTooLarge(Problem):
    status = 413
    code = "file_too_large"


class UnsupportedType(Problem):
    status = 422
    code = "unsupported_type"


class MalformedUpload(Problem):
    status = 400
    code = "malformed_multipart"


class NotMultipart(Problem):
    status = 415
    code = "unsupported_media_type"


def _missing(names: Collection[str]) -> Problem:
    return Problem(
        "The request is not valid.",
        status=422,
        code="validation_error",
        errors=[{"loc": ["body", name], "msg": "Field required"} for name in names],
    )


def _invalid(name: str, message: str) -> Problem:
    return Problem(
        "The request is not valid.",
        status=422,
        code="validation_error",
        errors=[{"loc": ["body", name], "msg": message}],
    )


async def receive_document(
    request: Request,
    *,
    file_field: str = "file",
    text_fields: Collection[str] = ("requirement_code",),
    max_bytes: int,
    accepted_types: Collection[str],
    store: BlobStore,
    key: str,
    rules_for: RulesFor | None = None,
) -> ReceivedDocument:
    """Stream the file part ``file_field`` of ``request`` into ``store`` under ``key``.

    Reads ``request.stream()`` directly through a streaming multipart parser, so nothing
    spools the file: memory stays at a chunk (plus the store's part size for S3).

    - The type is decided by the file's first bytes (``puremagic`` plus a leading-signature
      check), never by its name or declared ``Content-Type``; a type outside
      ``accepted_types`` is 422 ``unsupported_type`` (the body names ``accepted_types``) and
      nothing is stored.
    - Size: a ``Content-Length`` above ``max_bytes`` + :data:`MULTIPART_OVERHEAD` is 413
      ``file_too_large`` before anything is read; while streaming, reading stops as soon as
      the file passes the limit (413, and the partial blob is deleted).
    - Every name in ``text_fields`` must be present once (else 422 ``validation_error``
      with ``errors[].loc = ["body", name]``), like the file; other fields are ignored.
    - ``rules_for``: when the limits depend on a text field (the requirement's accepted types
      and size), it is awaited with the text fields received before the file part and
      returns the :class:`UploadRules`; ``max_bytes`` stays the overall cap. Those fields
      must then precede the file in the form (browsers and HTTP clients send fields in
      order); a field that comes later is 422. It may raise a :class:`Problem` (e.g. an
      unknown requirement).
    - A failure after the blob was stored (a missing field after the file, a broken
      multipart end) deletes it before the error is raised: a raised error leaves nothing.

    The request's body is consumed; do not read it again.
    """
    boundary = _boundary(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + MULTIPART_OVERHEAD:
        raise FileTooLarge(
            f"The file is larger than the limit of {max_bytes} bytes.",
            extra={"max_bytes": max_bytes},
        )
    reader = _MultipartReader(request, boundary, body_limit=max_bytes + MULTIPART_OVERHEAD)
    fields: dict[str, str] = {}
    wanted = set(text_fields)
    document: ReceivedDocument | None = None
    stored = False
    try:
        while (part := await reader.next_part()) is not None:
            name, filename = part
            if name == file_field:
                if document is not None:
                    raise _invalid(file_field, "Only one file may be uploaded.")
                rules = UploadRules(max_bytes=max_bytes, accepted_types=accepted_types)
                if rules_for is not None:
                    missing = [n for n in text_fields if n not in fields]
                    if missing:
                        raise _missing(missing)
                    rules = await rules_for(dict(fields))
                    rules = UploadRules(
                        max_bytes=min(rules.max_bytes, max_bytes),
                        accepted_types=rules.accepted_types,
                    )
                stored = True
                document = await _store_file(
                    reader, filename=filename, rules=rules, store=store, key=key
                )
            elif name in wanted:
                if name in fields:
                    raise _invalid(name, "The field is given more than once.")
                fields[name] = await reader.read_text(limit=MAX_TEXT_FIELD_BYTES, name=name)
            # Any other part is skipped by the next next_part(), bounded by the body limit.
        missing = [n for n in text_fields if n not in fields]
        if document is None:
            missing.insert(0, file_field)
        if missing:
            raise _missing(missing)
        assert document is not None
    except BaseException:
        if stored:
            await store.delete(key)
        raise
    return ReceivedDocument(
        filename=document.filename,
        size=document.size,
        sha256=document.sha256,
        content_type=document.content_type,
        fields=fields,
    )


async def _store_file(
    reader: _MultipartReader,
    *,
    filename: str | None,
    rules: UploadRules,
    store: BlobStore,
    key: str,
) -> ReceivedDocument:
    accepted = normalise_types(rules.accepted_types)
    head = await reader.read_head(SNIFF_BYTES)
    detected = detect_content_type(head, accepted=accepted)
    if detected is None:
        raise UnsupportedType(
            "The file's content is not of an accepted type: " + ", ".join(sorted(accepted)) + ".",
            extra={"accepted_types": sorted(accepted)},
        )
    digest = hashlib.sha256()
    size = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal size
        data = head
        while data:
            size += len(data)
            if size > rules.max_bytes:
                raise FileTooLarge(
                    f"The file is larger than the limit of {rules.max_bytes} bytes.",
                    extra={"max_bytes": rules.max_bytes},
                )
            digest.update(data)
            yield data
            data = await reader.read_data()

    await store.put(key, chunks(), content_type=detected)
    return ReceivedDocument(
        filename=sanitise_filename(filename),
        size=size,
        sha256=digest.hexdigest(),
        content_type=detected,
    )


def normalise_types(types: Collection[str]) -> set[str]:
    """MIME types lowercased, without parameters, with common aliases (``image/jpg``)."""
    result = set()
    for value in types:
        base = value.split(";", 1)[0].strip().lower()
        result.add(_ALIASES.get(base, base))
    return result


def detect_content_type(head: bytes, *, accepted: Collection[str]) -> str | None:
    """The type of a file whose first bytes are ``head``, if it is one of ``accepted``.

    ``puremagic`` names the candidates by their signatures; a candidate with a known leading
    signature (PDF, PNG, JPEG, GIF, WebP, TIFF) counts only if the file starts with it, and an
    Office Open XML type only if the ZIP holds the package's ``[Content_Types].xml``. A type
    with no signature (plain text, CSV) is never recognised, so never accepted.
    """
    wanted = normalise_types(accepted)
    if not head:
        return None
    # The common case without the sniffer: a file that starts with the signature of an
    # accepted type (PDF, PNG, JPEG…) is that type (puremagic would name it too, at the
    # cost of matching its whole signature table against the head).
    for mime in sorted(wanted):
        leading = _LEADING_SIGNATURES.get(mime)
        if leading is not None and head.startswith(leading):
            if mime == "image/webp" and head[8:12] != b"WEBP":
                continue
            return mime
    try:
        candidates = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    for candidate in candidates:
        named = str(candidate.mime_type).lower()
        mime = _ALIASES.get(named, named)
        if mime not in wanted:
            continue
        leading = _LEADING_SIGNATURES.get(mime)
        if leading is not None and not head.startswith(leading):
            continue
        if mime == "image/webp" and head[8:12] != b"WEBP":
            continue
        if mime.startswith(_OOXML_PREFIX) and _OOXML_MARKER not in head:
            continue
        return mime
    return None


def sanitise_filename(raw: str | None) -> str:
    """A file name safe to show and to put in a ``Content-Disposition``: the last path
    segment only, NFC, no control or format characters (no bidi overrides), no characters
    that are special in paths, no leading dots, at most 255 characters with the extension
    kept."""
    if not raw:
        return DEFAULT_FILENAME
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in name)
    name = _UNSAFE_FILENAME.sub("_", name)
    name = " ".join(name.split()).lstrip(". ").rstrip(" ")
    if not name:
        return DEFAULT_FILENAME
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_FILENAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_FILENAME_LENGTH]
    return name


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise NotMultipart("The request must be multipart/form-data.")
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 70:
        raise MalformedUpload("The multipart boundary is missing or invalid.")
    return boundary


class _MultipartReader:
    """Pulls ``request.stream()`` through the push parser on demand and hands out its events
    part by part: the parser's callbacks are synchronous, so they only queue what they saw."""

    def __init__(self, request: Request, boundary: bytes, *, body_limit: int) -> None:
        self._stream = request.stream()
        self._body_limit = body_limit
        self._received = 0
        self._events: deque[tuple[str, Any]] = deque()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._in_part = False
        self._ended = False
        self._exhausted = False
        callbacks: Any = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    # Callbacks (synchronous, called by the parser inside write()).
    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append(("part", self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(("data", data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append(("end", None))

    def _on_end(self) -> None:
        self._ended = True

    async def _pull(self) -> None:
        """Feed the parser one more piece of the body."""
        if self._exhausted:
            if not self._ended:
                raise MalformedUpload("The multipart body ends before its closing boundary.")
            return
        try:
            chunk = await anext(self._stream)
        except StopAsyncIteration:
            chunk = b""
        except ClientDisconnect:
            raise MalformedUpload("The upload was interrupted.") from None
        if not chunk:
            self._exhausted = True
            self._parser.finalize()
            if not self._ended:
                raise MalformedUpload("The multipart body ends before its closing boundary.")
            return
        self._received += len(chunk)
        if self._received > self._body_limit:
            raise FileTooLarge(
                "The request is larger than the upload limit.",
                extra={"max_bytes": self._body_limit - MULTIPART_OVERHEAD},
            )
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise MalformedUpload("The multipart body is malformed.") from exc

    async def _next_event(self) -> tuple[str, Any] | None:
        while not self._events:
            if self._ended:
                return None
            await self._pull()
        return self._events.popleft()

    async def next_part(self) -> tuple[str, str | None] | None:
        """The next part's (field name, file name), skipping what is left of the current
        part; ``None`` at the end of the body."""
        while (event := await self._next_event()) is not None:
            kind, value = event
            if kind != "part":
                continue
            disposition, options = parse_options_header(value.get(b"content-disposition"))
            if disposition != b"form-data" or b"name" not in options:
                raise MalformedUpload("A part has no form-data name.")
            name = options[b"name"].decode("utf-8", "replace")
            raw_filename = options.get(b"filename")
            filename = None if raw_filename is None else raw_filename.decode("utf-8", "replace")
            self._in_part = True
            return name, filename
        return None

    async def read_data(self) -> bytes:
        """The next piece of the current part's body; ``b""`` at its end."""
        if not self._in_part:
            return b""
        event = await self._next_event()
        if event is None:
            raise MalformedUpload("The multipart body ends inside a part.")
        kind, value = event
        if kind == "data":
            data: bytes = value
            return data
        self._in_part = False
        return b""

    async def read_head(self, size: int) -> bytes:
        """At least ``size`` bytes of the current part (fewer only if the part is shorter)."""
        head = bytearray()
        while len(head) < size and (data := await self.read_data()):
            head += data
        return bytes(head)

    async def read_text(self, *, limit: int, name: str) -> str:
        """The current part as UTF-8 text of at most ``limit`` bytes (422 otherwise)."""
        value = bytearray()
        while data := await self.read_data():
            value += data
            if len(value) > limit:
                raise _invalid(name, f"The field is longer than {limit} bytes.")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(name, "The field is not valid UTF-8.") from None
