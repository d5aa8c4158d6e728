"""``/api/v1/clients``: platform admins register agency systems (OAuth clients)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from identity.api.deps import ComponentsDep, ReposDep
from identity.api.idempotency import idempotent
from identity.api.paging import PageDep, next_cursor, page_request
from identity.api.schemas import ClientCreate, ClientCreated, ClientRead
from identity.domain.clients import NewClient, register_client
from identity.domain.clients import disable_client as disable_agency_client
from mpp_shared.auth import Principal, Role, require_roles
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import IdempotencyKey
from mpp_shared.pagination import Page

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])

PlatformAdmin = Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClientCreated)
async def add_client(
    body: ClientCreate,
    principal: PlatformAdmin,
    session: SessionDep,
    repos: ReposDep,
    components: ComponentsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register an agency system. ``client_secret`` is shown here once and stored hashed
    (a retry with the same ``Idempotency-Key`` within 24 h gets the same answer)."""

    async def create() -> ClientCreated:
        client, secret = await register_client(
            new=NewClient(
                name=body.name,
                agency_id=body.agency_id,
                scopes=body.scopes,
                redirect_uris=body.redirect_uris,
                grant_types=body.grant_types,
            ),
            allow_http_redirects=components.settings.environment != "production",
            clients=repos.clients,
            agencies=repos.agencies,
            created_by=uuid.UUID(principal.subject),
        )
        return ClientCreated(**ClientRead.of(client).model_dump(), client_secret=secret)

    response = await idempotent(
        session=session,
        components=components,
        key=idempotency_key,
        scope=f"POST /api/v1/clients {principal.subject}",
        payload=body,
        status_code=status.HTTP_201_CREATED,
        create=create,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("", response_model=Page[ClientRead])
async def list_clients(_: PlatformAdmin, repos: ReposDep, page: PageDep) -> Page[ClientRead]:
    """Every client, oldest first (the built-in ``mpp-app`` too)."""
    clients = await repos.clients.list(page=page_request(page, uuid_ids=False))
    return Page(
        items=[ClientRead.of(c) for c in clients],
        next_cursor=next_cursor(
            clients, limit=page.limit, key=lambda c: (c.created_at, c.client_id)
        ),
    )


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
async def disable_client(
    client_id: str, _: PlatformAdmin, repos: ReposDep, components: ComponentsDep
) -> Response:
    """Disable an agency system: its secret stops working and the gateways refuse the tokens
    it was issued (``mpp.identity.access.revoked``)."""
    await disable_agency_client(
        client_id=client_id,
        clients=repos.clients,
        events=repos.events,
        access_lifetime=components.issuer.lifetimes.access,
        now=datetime.now(UTC),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
