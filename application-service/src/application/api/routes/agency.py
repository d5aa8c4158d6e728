"""``/api/v1/agency/applications``: the agency's queue and its actions on the lifecycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError

from application.api.blobs import discard_blob
from application.api.deps import AppRuntime, Events, Repository
from application.api.schemas import ActionRequest, ApplicationRead, ApplicationSummary, summary
from application.domain import services
from application.domain.exceptions import InvalidInput
from application.domain.lifecycle import Action, Status
from application.domain.models import ApplicationView, Document
from mpp_shared.auth import CurrentPrincipal
from mpp_shared.db.commit import commit_or_problem
from mpp_shared.deps import SessionDep
from mpp_shared.openapi import problems
from mpp_shared.pagination import Page, PageQuery, encode_cursor
from mpp_shared.problems import Problem
from mpp_shared.uploads import receive_document

router = APIRouter(prefix="/api/v1/agency/applications", tags=["agency"])

MIB = 1024 * 1024
OUTPUT_TYPES = ("application/pdf", "image/png", "image/jpeg")
NO_STORE = {"Cache-Control": "no-store"}


def _now() -> datetime:
    return datetime.now(UTC)


class QueueQuery(PageQuery):
    """The agency's queue: oldest due first."""

    status: Status | None = None
    service_id: uuid.UUID | None = None
    stage: str | None = Field(None, max_length=100)
    overdue: bool | None = Field(
        None,
        description="Due time passed while the clock runs (submitted or in_review; the clock "
        "is paused in revision_requested).",
    )
    submitted_from: datetime | None = Field(None, description="Submitted at or after (RFC 3339).")
    submitted_to: datetime | None = Field(None, description="Submitted before (RFC 3339).")


@router.get("", response_model=Page[ApplicationSummary], responses=problems(403))
async def list_queue(
    principal: CurrentPrincipal, repo: Repository, query: Annotated[QueueQuery, Query()]
) -> JSONResponse:
    """Officers and agency admins see their agency's applications; an agency's system needs
    ``applications:read`` or ``applications:process``. Drafts are never listed."""
    for name in ("submitted_from", "submitted_to"):
        moment = getattr(query, name)
        if moment is not None and moment.tzinfo is None:
            raise Problem(
                "Times carry a UTC offset (RFC 3339).",
                status=422,
                code="validation_error",
                errors=[{"loc": ["query", name], "msg": "time without offset"}],
            )
    page = query.page()
    now = _now()
    found = await services.list_agency_queue(
        repo=repo,
        principal=principal,
        where={
            "status": query.status,
            "service_id": query.service_id,
            "stage": query.stage,
            "overdue": query.overdue,
            "submitted_from": query.submitted_from,
            "submitted_to": query.submitted_to,
        },
        now=now,
        limit=page.limit,
        after=page.cursor,
    )
    return JSONResponse(
        {
            "items": [
                summary(ApplicationView(application=a), now=now).model_dump(mode="json")
                for a in found.items
            ],
            "next_cursor": encode_cursor(found.next_position) if found.next_position else None,
        },
        headers=NO_STORE,
    )


@router.post(
    "/{application_id}/actions",
    response_model=ApplicationRead,
    responses=problems(403, 404, 409, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ActionRequest.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["action", "file"],
                        "description": "`complete` with an output document; `note`, "
                        "`internal_note` and `version` then go in the query.",
                        "properties": {
                            "action": {"type": "string", "enum": ["complete"]},
                            "file": {"type": "string", "format": "binary"},
                        },
                    }
                },
            },
        }
    },
)
async def act(
    request: Request,
    application_id: uuid.UUID,
    principal: CurrentPrincipal,
    repo: Repository,
    events: Events,
    runtime: AppRuntime,
    session: SessionDep,
) -> JSONResponse:
    """``start_review``, ``advance_stage``, ``request_revision`` (note required), ``approve``,
    ``reject`` (note required), ``complete`` (JSON, or multipart with an output ``file``)."""
    content_type = request.headers.get("content-type", "")
    output: Document | None = None
    store = runtime.blobs()
    if content_type.startswith("multipart/form-data"):
        body = _action_from_query(request)
        await services.check_output_allowed(
            repo=repo, principal=principal, application_id=application_id
        )
        document_id = uuid.uuid4()
        key = f"applications/{application_id}/output-{document_id}"
        received = await receive_document(
            request,
            text_fields=("action",),
            max_bytes=int(request.app.state.settings.max_output_document_mb * MIB),
            accepted_types=OUTPUT_TYPES,
            store=store,
            key=key,
        )
        if received.fields["action"] != Action.COMPLETE.value:
            await discard_blob(store, key)
            raise InvalidInput(
                "Dokumen hasil hanya dapat dilampirkan pada tindakan 'complete'.",
                errors=[{"loc": ["body", "action"], "msg": "only complete takes a file"}],
            )
        body = body.model_copy(update={"action": Action.COMPLETE.value})
        output = Document(
            id=document_id,
            application_id=application_id,
            kind="output",
            requirement_code=None,
            filename=received.filename,
            size=received.size,
            content_type=received.content_type,
            sha256=received.sha256,
            blob_key=key,
            created_at=_now(),
        )
    else:
        raw = await request.body()
        try:
            body = ActionRequest.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            raise _invalid(exc) from None
    try:
        view = await services.act_on_application(
            repo=repo,
            events=events,
            principal=principal,
            application_id=application_id,
            action=body.as_action,
            note=body.note,
            internal_note=body.internal_note,
            stage=body.stage,
            expected_version=body.version,
            output=output,
            now=_now(),
        )
        if output is not None:
            # Committed here: a failed commit must take the stored output file with it.
            await commit_or_problem(session)
    except BaseException:
        if output is not None:
            await discard_blob(store, output.blob_key)
        raise
    return JSONResponse(
        ApplicationRead.of(view, now=_now()).model_dump(mode="json"), headers=NO_STORE
    )


def _action_from_query(request: Request) -> ActionRequest:
    values: dict[str, Any] = {"action": Action.COMPLETE.value}
    for name in ("note", "internal_note", "version"):
        if name in request.query_params:
            values[name] = request.query_params[name]
    try:
        return ActionRequest.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc, where="query") from None


def _invalid(exc: ValidationError, *, where: str = "body") -> Problem:
    return Problem(
        "The request is not valid.",
        status=422,
        code="validation_error",
        errors=[
            {"loc": [where, *error.get("loc", ())], "msg": str(error.get("msg", ""))}
            for error in exc.errors()
        ],
    )
