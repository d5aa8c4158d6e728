"""``/api/v1/applications``: the citizen's drafts, documents, submission and withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from application.api.blobs import discard_blob
from application.api.deps import AppRuntime, Events, Pagination, Repository, repository_on
from application.api.schemas import (
    ApplicationCreate,
    ApplicationRead,
    ApplicationSummary,
    ApplicationUpdate,
    DocumentRead,
    SubmitResult,
    summary,
)
from application.domain import services
from application.domain.exceptions import DocumentNotFound
from application.domain.models import ApplicationView, Document
from mpp_shared.auth import CurrentPrincipal
from mpp_shared.blobstore import BlobNotFound
from mpp_shared.deps import RuntimeDep, SessionDep, autocommit_connection
from mpp_shared.idempotency import IdempotencyKey, idempotent, request_fingerprint
from mpp_shared.openapi import problems
from mpp_shared.pagination import Page, encode_cursor
from mpp_shared.uploads import UploadRules, receive_document

router = APIRouter(prefix="/api/v1/applications", tags=["applications"])

MIB = 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("", status_code=201, response_model=ApplicationRead, responses=problems(403, 404, 503))
async def create_application(
    request: Request,
    body: ApplicationCreate,
    principal: CurrentPrincipal,
    repo: Repository,
    runtime: AppRuntime,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A draft for a published service; with ``prefill_consent`` the consent is recorded and
    the form fields the service names are filled from the citizen's profile."""

    async def create() -> tuple[int, Any]:
        now = _now()
        view = await services.create_application(
            repo=repo,
            identity=runtime.identity_directory(),
            principal=principal,
            service_id=body.service_id,
            prefill_consent=body.prefill_consent,
            now=now,
        )
        return 201, ApplicationRead.of(view, now=now).model_dump(mode="json")

    response = await idempotent(
        session=session,
        scope=f"POST {request.url.path} {principal.subject}",
        key=idempotency_key,
        fingerprint=request_fingerprint(body.model_dump(mode="json")),
        create=create,
    )
    response.headers.update(NO_STORE)
    return response


@router.get("", response_model=Page[ApplicationSummary])
async def list_applications(
    principal: CurrentPrincipal, repo: Repository, page: Pagination
) -> JSONResponse:
    """The caller's own applications, newest first."""
    found = await services.list_own_applications(
        repo=repo, principal=principal, limit=page.limit, after=page.cursor
    )
    now = _now()
    items = [summary(ApplicationView(application=a), now=now) for a in found.items]
    return _page(items, found.next_position)


@router.get("/{application_id}", response_model=ApplicationRead, responses=problems(404))
async def get_application(
    application_id: uuid.UUID, principal: CurrentPrincipal, repo: Repository
) -> Response:
    """The owner's, or the agency's staff's (not while a draft); ``tracking_code`` to the owner."""
    view = await services.read_application(
        repo=repo, principal=principal, application_id=application_id
    )
    return _read(view)


@router.patch(
    "/{application_id}", response_model=ApplicationRead, responses=problems(403, 404, 409)
)
async def update_application(
    application_id: uuid.UUID,
    body: ApplicationUpdate,
    principal: CurrentPrincipal,
    runtime: AppRuntime,
    service_runtime: RuntimeDep,
) -> Response:
    """Replace the whole form, while ``draft`` or ``revision_requested``."""
    # In autocommit: the one change is one statement (checked against the version read), so
    # the request needs no transaction around it, nor its BEGIN and COMMIT.
    async with autocommit_connection(service_runtime) as connection:
        view = await services.update_form(
            repo=repository_on(connection, runtime),
            principal=principal,
            application_id=application_id,
            form_data=body.form_data,
            now=_now(),
        )
    return _read(view)


@router.post(
    "/{application_id}/documents",
    status_code=201,
    response_model=DocumentRead,
    responses=problems(403, 404, 409, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["requirement_code", "file"],
                        "properties": {
                            "requirement_code": {"type": "string"},
                            "file": {"type": "string", "format": "binary"},
                        },
                    },
                    "encoding": {"requirement_code": {"contentType": "text/plain"}},
                }
            },
        }
    },
)
async def upload_document(
    request: Request,
    application_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: AppRuntime,
    service_runtime: RuntimeDep,
) -> Response:
    """Multipart ``requirement_code`` (first) and ``file``: the type is judged by content, the
    size while it streams; a new document for a requirement replaces the old one."""
    settings = request.app.state.settings
    store = runtime.blobs()
    document_id = uuid.uuid4()
    key = f"applications/{application_id}/{document_id}"
    checked: dict[str, Any] = {}

    async def rules_for(fields: Mapping[str, str]) -> UploadRules:
        # In autocommit, on a connection that goes back to the pool before the file streams
        # in, rather than waiting on a slow upload. The attach below is one statement, which
        # the application's version check refuses if anything changed meanwhile.
        async with autocommit_connection(service_runtime) as connection:
            application, requirement = await services.requirement_for_upload(
                repo=repository_on(connection, runtime),
                principal=principal,
                application_id=application_id,
                requirement_code=fields["requirement_code"],
            )
        checked.update(application=application, requirement=requirement)
        return UploadRules(
            max_bytes=int(requirement.max_size_mb * MIB),
            accepted_types=requirement.accepted_types,
        )

    received = await receive_document(
        request,
        max_bytes=int(settings.max_document_mb * MIB),
        accepted_types=(),
        store=store,
        key=key,
        rules_for=rules_for,
    )
    now = _now()
    document = Document(
        id=document_id,
        application_id=application_id,
        kind="input",
        requirement_code=checked["requirement"].code,
        filename=received.filename,
        size=received.size,
        content_type=received.content_type,
        sha256=received.sha256,
        blob_key=key,
        created_at=now,
    )
    try:
        # One statement, its own transaction: kept (or refused) before the answer, and a
        # refusal (a concurrent change, the database gone) takes the stored file with it, or
        # nothing would ever name it.
        async with autocommit_connection(service_runtime) as connection:
            replaced = await services.attach_document(
                repo=repository_on(connection, runtime),
                application=checked["application"],
                document=document,
                now=now,
            )
    except BaseException:
        await discard_blob(store, key)
        raise
    return Response(
        DocumentRead.of(document).model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers=NO_STORE,
        # The old blob goes only once the new document is kept (committed above).
        background=BackgroundTask(discard_blob, store, replaced.blob_key) if replaced else None,
    )


@router.get(
    "/{application_id}/documents/{document_id}",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file."},
        **problems(404),
    },
)
async def download_document(
    application_id: uuid.UUID,
    document_id: uuid.UUID,
    principal: CurrentPrincipal,
    repo: Repository,
    runtime: AppRuntime,
) -> StreamingResponse:
    """The file, for its owner and the agency's staff and systems."""
    document = await services.readable_document(
        repo=repo, principal=principal, application_id=application_id, document_id=document_id
    )
    try:
        reader = await runtime.blobs().open(document.blob_key)
    except BlobNotFound:
        raise DocumentNotFound() from None
    return StreamingResponse(
        reader,
        media_type=document.content_type,
        headers={
            **NO_STORE,
            "Content-Length": str(reader.size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
        background=BackgroundTask(reader.aclose),
    )


@router.post(
    "/{application_id}/submit", response_model=SubmitResult, responses=problems(403, 404, 409)
)
async def submit_application(
    request: Request,
    application_id: uuid.UUID,
    principal: CurrentPrincipal,
    repo: Repository,
    events: Events,
    runtime: AppRuntime,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Validates the form and the mandatory documents (every problem at once, 422), then gives
    the registration number, the tracking code and the due time."""
    body = await request.body()

    async def submit() -> tuple[int, Any]:
        application = await services.submit_application(
            repo=repo,
            events=events,
            due_dates=runtime.due_dates,
            validator_for=runtime.validators,
            principal=principal,
            application_id=application_id,
            now=_now(),
        )
        assert application.registration_number is not None
        assert application.tracking_code is not None
        assert application.due_at is not None
        assert application.submitted_at is not None
        result = SubmitResult(
            id=application.id,
            status=application.status,
            registration_number=application.registration_number,
            tracking_code=application.tracking_code,
            due_at=application.due_at,
            submitted_at=application.submitted_at,
        )
        return 200, result.model_dump(mode="json")

    response = await idempotent(
        session=session,
        scope=f"POST {request.url.path} {principal.subject}",
        key=idempotency_key,
        fingerprint=request_fingerprint(body.decode("utf-8", "replace")),
        create=submit,
    )
    response.headers.update(NO_STORE)
    return response


@router.post(
    "/{application_id}/withdraw", response_model=ApplicationRead, responses=problems(403, 404, 409)
)
async def withdraw_application(
    application_id: uuid.UUID, principal: CurrentPrincipal, repo: Repository, events: Events
) -> Response:
    """The owner withdraws it, before a decision."""
    await services.withdraw_application(
        repo=repo, events=events, principal=principal, application_id=application_id, now=_now()
    )
    view = await services.read_application(
        repo=repo, principal=principal, application_id=application_id
    )
    return _read(view)


def _read(view: ApplicationView) -> Response:
    # Serialised by pydantic itself: model_dump and then the json module did the work twice.
    return Response(
        ApplicationRead.of(view, now=_now()).model_dump_json(),
        media_type="application/json",
        headers=NO_STORE,
    )


def _page(items: list[Any], position: dict[str, Any] | None) -> JSONResponse:
    return JSONResponse(
        {
            "items": [item.model_dump(mode="json") for item in items],
            "next_cursor": encode_cursor(position) if position else None,
        },
        headers=NO_STORE,
    )
