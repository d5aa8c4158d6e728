"""``/api/v1/me``: the caller's profile, face verification, consents and access log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile, status

from identity.api.deps import (
    ComponentsDep,
    CurrentAccount,
    CurrentAccountReadOnly,
    ReposDep,
    keeping_counters,
)
from identity.api.paging import PageDep, next_cursor, page_request
from identity.api.schemas import (
    AccessLogRead,
    ConsentRead,
    FaceVerificationRead,
    MeRead,
    MeUpdate,
)
from identity.api.upload_limit import PayloadTooLarge, SelfieUploadRoute
from identity.domain.accounts import update_contact, verify_face
from identity.domain.consents import revoke_consent
from identity.domain.exceptions import InvalidInput, NotAllowed
from identity.domain.models import Account
from mpp_shared.deps import SessionDep
from mpp_shared.openapi import problems
from mpp_shared.pagination import Page

router = APIRouter(prefix="/api/v1/me", tags=["me"])
selfie_router = APIRouter(prefix="/api/v1/me", tags=["me"], route_class=SelfieUploadRoute)


def _citizen(account: Account) -> Account:
    if not account.is_citizen:
        raise NotAllowed("Only citizens have this.")
    return account


@router.get("", response_model=MeRead)
async def read_me(account: CurrentAccountReadOnly) -> Response:
    """The caller's own profile, with the unmasked NIK."""
    # Serialised by the model itself: FastAPI would validate the model again and encode it
    # through jsonable_encoder first, for the same bytes.
    return Response(MeRead.of(account).model_dump_json(), media_type="application/json")


@router.patch("", response_model=MeRead, responses=problems(409))
async def update_me(body: MeUpdate, account: CurrentAccount, repos: ReposDep) -> MeRead:
    """Contact fields only (``email``, ``phone``); registry fields are read-only."""
    _citizen(account)
    if "email" in body.model_fields_set and body.email is None:
        raise InvalidInput("email cannot be removed", loc=["body", "email"])
    updated = await update_contact(
        account=account,
        email=body.email,
        phone=body.phone,
        phone_given="phone" in body.model_fields_set,
        accounts=repos.accounts,
    )
    return MeRead.of(updated)


@selfie_router.post(
    "/face-verification", response_model=FaceVerificationRead, responses=problems(429)
)
async def face_verification(
    selfie: Annotated[UploadFile, File(description="A JPEG or PNG selfie")],
    account: CurrentAccount,
    session: SessionDep,
    repos: ReposDep,
    components: ComponentsDep,
) -> FaceVerificationRead:
    """Compare a selfie with the registry's photo; a match raises the level to 2.

    A non-match is 200 with ``matched: false``; a file that is not an image is 422.
    """
    _citizen(account)
    limit = components.settings.selfie_max_bytes
    data = await selfie.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The selfie may be at most {limit // (1024 * 1024)} MB.")
    async with keeping_counters(session):
        result = await verify_face(
            account=account,
            selfie=data,
            attempts=components.face_attempts,
            accounts=repos.accounts,
            throttle=repos.throttle,
            registry=components.population_registry(),
            events=repos.events,
            now=datetime.now(UTC),
        )
    return FaceVerificationRead(
        matched=result.matched, score=round(result.score, 4), assurance_level=result.assurance_level
    )


@router.get("/consents", response_model=Page[ConsentRead])
async def list_consents(
    account: CurrentAccount, repos: ReposDep, page: PageDep
) -> Page[ConsentRead]:
    """Prefill consents the citizen gave to services, newest first (revoked ones too)."""
    _citizen(account)
    consents = await repos.consents.list(account.id, page=page_request(page))
    return Page(
        items=[ConsentRead.of(c) for c in consents],
        next_cursor=next_cursor(
            consents, limit=page.limit, key=lambda c: (c.granted_at, str(c.id))
        ),
    )


@router.delete("/consents/{consent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_consent(
    consent_id: uuid.UUID, account: CurrentAccount, repos: ReposDep
) -> Response:
    """Revoke a consent: no more prefill for that service until the citizen allows it again."""
    _citizen(account)
    await revoke_consent(
        account_id=account.id,
        consent_id=consent_id,
        consents=repos.consents,
        now=datetime.now(UTC),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/access-log", response_model=Page[AccessLogRead])
async def access_log(
    account: CurrentAccount, repos: ReposDep, page: PageDep
) -> Page[AccessLogRead]:
    """Who read my personal data, when and why; newest first."""
    _citizen(account)
    entries = await repos.access_log.list(account.id, page=page_request(page))
    return Page(
        items=[AccessLogRead.of(e) for e in entries],
        next_cursor=next_cursor(
            entries, limit=page.limit, key=lambda e: (e.accessed_at, str(e.id))
        ),
    )
