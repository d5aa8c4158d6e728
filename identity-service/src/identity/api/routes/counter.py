"""``/api/v1/counter``: identity checked in person by an agency's staff at a counter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from identity.api.deps import ComponentsDep, ReposDep
from identity.api.schemas import masked
from identity.db.repositories import CounterVerificationRepository
from identity.domain.counter import verify_at_counter
from identity.domain.exceptions import NotAllowed
from mpp_shared.auth import Principal, Role, require_roles
from mpp_shared.deps import SessionDep
from mpp_shared.openapi import problems

router = APIRouter(prefix="/api/v1/counter", tags=["counter"])

CounterStaff = Annotated[Principal, Depends(require_roles(Role.OFFICER, Role.AGENCY_ADMIN))]


class CounterVerificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nik: str = Field(pattern=r"^[0-9]{16}$")
    method: Literal["ktp_el_reader", "document_check"] = Field(
        description="How the officer checked the resident: the KTP-el read by a card reader, "
        "or the identity documents examined by hand."
    )


class CounterVerificationRead(BaseModel):
    account_id: uuid.UUID
    nik_masked: str
    assurance_level: int
    method: str
    verified_by: uuid.UUID
    verified_at: datetime


@router.post("/verifications", response_model=CounterVerificationRead, responses=problems(403, 404))
async def verify_in_person(
    body: CounterVerificationCreate,
    principal: CounterStaff,
    session: SessionDep,
    repos: ReposDep,
    components: ComponentsDep,
) -> CounterVerificationRead:
    """An officer or agency admin saw the resident with their KTP-el and raises the account's
    assurance level to 2 (the fallback when the face check fails). The check is kept with the
    officer, the method and the time, and the resident's access log shows it. 404
    ``unknown_resident`` for a NIK the registry does not have, 404 ``no_account`` when the
    resident has not registered yet (the detail tells the officer to have them register, at
    the counter's device or on their phone, and to verify again; nothing is kept for an
    account to come) or the account with the NIK is disabled."""
    if principal.agency_id is None:
        raise NotAllowed("Only an agency's staff verify residents at its counters.")
    verified = await verify_at_counter(
        nik=body.nik,
        method=body.method,
        officer_id=uuid.UUID(principal.subject),
        agency_id=principal.agency_id,
        accounts=repos.accounts,
        verifications=CounterVerificationRepository(session),
        access_log=repos.access_log,
        registry=components.population_registry(),
        events=repos.events,
        now=datetime.now(UTC),
    )
    return CounterVerificationRead(
        account_id=verified.account.id,
        nik_masked=masked(body.nik),
        assurance_level=verified.assurance_level,
        method=verified.verification.method,
        verified_by=verified.verification.officer_account_id,
        verified_at=verified.verification.verified_at,
    )
