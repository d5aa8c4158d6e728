"""``/api/v1/agency/applications`` at the counter: an officer files for a resident, and prints
the receipt."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from application.api.deps import AppRuntime, Repository
from application.api.receipt import render_receipt
from application.api.schemas import ApplicationRead
from application.db.counter_filing import SqlCounterFilings
from application.domain import counter_filing
from mpp_shared.auth import CurrentPrincipal
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import IdempotencyKey, idempotent, request_fingerprint
from mpp_shared.openapi import problems

router = APIRouter(prefix="/api/v1/agency/applications", tags=["agency"])

NO_STORE = {"Cache-Control": "no-store"}


class CounterApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: uuid.UUID
    nik: str = Field(
        pattern=r"^[0-9]{16}$",
        description="The resident's NIK, checked in person; looked up in the registry through "
        "identity-service and never kept here.",
    )
    form_data: dict[str, Any] = Field(default_factory=dict)
    prefill_from_registry: bool = Field(
        False, description="Fill the fields the service names from the registry's record."
    )


class CounterApplicationRead(ApplicationRead):
    channel: str = "counter"
    filed_by: uuid.UUID
    nik_masked: str
    owner_linked: bool = Field(
        description="The resident has an account and the application is theirs; otherwise it "
        "waits and becomes theirs when they register with this NIK."
    )
    resident_assurance_level: int | None = None


@router.post(
    "",
    status_code=201,
    response_model=CounterApplicationRead,
    responses=problems(403, 404, 502, 503),
)
async def file_at_counter(
    request: Request,
    body: CounterApplicationCreate,
    principal: CurrentPrincipal,
    repo: Repository,
    runtime: AppRuntime,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Assisted filing (officer or agency admin of the service's agency; others 403): a draft
    with ``channel: counter`` for the resident of ``nik``, theirs if they have an account.
    The officer then uploads the documents and submits through the application's own
    endpoints. 422 ``unknown_resident`` for a NIK the registry does not have; 403
    ``service_not_at_counter``; honours ``Idempotency-Key``."""
    settings = request.app.state.settings

    async def create() -> tuple[int, Any]:
        now = datetime.now(UTC)
        filed = await counter_filing.file_at_counter(
            repo=repo,
            filings=SqlCounterFilings(session),
            registry=runtime.resident_registry(),
            principal=principal,
            service_id=body.service_id,
            nik=body.nik,
            form_data=body.form_data,
            prefill_from_registry=body.prefill_from_registry,
            link_secret=settings.resident_link_key.get_secret_value(),
            now=now,
        )
        read = CounterApplicationRead(
            **ApplicationRead.of(filed.view, now=now).model_dump(),
            filed_by=uuid.UUID(principal.subject),
            nik_masked=filed.resident.nik_masked,
            owner_linked=filed.resident.account_id is not None,
            resident_assurance_level=filed.resident.assurance_level,
        )
        return 201, read.model_dump(mode="json")

    response = await idempotent(
        session=session,
        scope=f"POST {request.url.path} {principal.subject}",
        key=idempotency_key,
        fingerprint=request_fingerprint(body.model_dump(mode="json")),
        create=create,
    )
    response.headers.update(NO_STORE)
    return response


@router.get(
    "/{application_id}/receipt",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The receipt to print."},
        **problems(403, 404, 409),
    },
)
async def counter_receipt(
    request: Request,
    application_id: uuid.UUID,
    principal: CurrentPrincipal,
    repo: Repository,
    session: SessionDep,
) -> Response:
    """The printable receipt (PDF) of an application filed at a counter, once submitted: the
    registration number, the tracking code, the service, the date, the officer, and how to
    follow it on the public tracking page. 409 ``not_submitted`` before the submission."""
    receipt = await counter_filing.receipt_of(
        repo=repo,
        filings=SqlCounterFilings(session),
        principal=principal,
        application_id=application_id,
    )
    pdf = render_receipt(receipt, public_url=request.app.state.settings.public_url)
    number = str(receipt.application.registration_number).replace("/", "-")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            **NO_STORE,
            "Content-Disposition": f'inline; filename="tanda-terima-{number}.pdf"',
            "X-Content-Type-Options": "nosniff",
        },
    )
