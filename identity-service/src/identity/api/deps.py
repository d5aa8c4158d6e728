"""FastAPI dependencies of the identity service: components, repositories, caller, client IP."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from identity.components import Components
from identity.db.repositories import (
    AccessLogRepository,
    AccountRepository,
    AgencyRepository,
    ClientRepository,
    ConsentRepository,
    OutboxEventRecorder,
    SigningKeyRepository,
    ThrottleRepository,
    TokenRepository,
    read_account,
)
from identity.domain.accounts import Actor
from identity.domain.exceptions import IdentityError
from identity.domain.models import Account
from identity.domain.tokens import TokenService
from identity.dukcapil.registry import RegistryError
from mpp_shared.auth import CurrentPrincipal, EnrolmentPrincipal, Forbidden, Principal, Unauthorized
from mpp_shared.auth.deps import principal_of, requires_principal
from mpp_shared.db.commit import commit_or_problem
from mpp_shared.deps import RuntimeDep, SessionDep, read_connection


# The dependencies are async although they await nothing: FastAPI runs a plain def
# dependency in a worker thread, a hop per dependency per request.
async def get_components(runtime: RuntimeDep) -> Components:
    return runtime.state_as(Components)


ComponentsDep = Annotated[Components, Depends(get_components)]


@dataclass(frozen=True)
class Repositories:
    accounts: AccountRepository
    clients: ClientRepository
    agencies: AgencyRepository
    tokens: TokenRepository
    keys: SigningKeyRepository
    consents: ConsentRepository
    access_log: AccessLogRepository
    throttle: ThrottleRepository
    events: OutboxEventRecorder

    @classmethod
    def of(cls, session: AsyncSession) -> Repositories:
        return cls(
            accounts=AccountRepository(session),
            clients=ClientRepository(session),
            agencies=AgencyRepository(session),
            tokens=TokenRepository(session),
            keys=SigningKeyRepository(session),
            consents=ConsentRepository(session),
            access_log=AccessLogRepository(session),
            throttle=ThrottleRepository(session),
            events=OutboxEventRecorder(session),
        )


async def get_repositories(session: SessionDep) -> Repositories:
    return Repositories.of(session)


ReposDep = Annotated[Repositories, Depends(get_repositories)]


def token_service(components: Components, repos: Repositories) -> TokenService:
    return TokenService(
        issuer=components.issuer,
        keys=repos.keys,
        key_cache=components.key_cache,
        tokens=repos.tokens,
        accounts=repos.accounts,
        events=repos.events,
    )


async def get_token_service(components: ComponentsDep, repos: ReposDep) -> TokenService:
    return token_service(components, repos)


TokenServiceDep = Annotated[TokenService, Depends(get_token_service)]


async def client_ip(request: Request, components: ComponentsDep) -> str:
    """The caller's address: X-Forwarded-For is believed only from a trusted proxy (the
    gateway), reading from the right past every trusted hop."""
    peer = request.client.host if request.client else "0.0.0.0"  # noqa: S104 - unknown peer
    if not _trusted(peer, components):
        return peer
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded:
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, components):
            return hop
    return hops[0] if hops else peer


def _trusted(address: str, components: Components) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in components.trusted_proxies)


ClientIpDep = Annotated[str, Depends(client_ip)]


def _account_id(principal: Principal) -> uuid.UUID:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        # A client_credentials token: an agency system has no profile.
        raise Forbidden("This endpoint is for accounts, not client systems.") from None


def _usable(account: Account | None) -> Account:
    if account is None or account.disabled:
        raise Unauthorized("The account of this token no longer exists.")
    return account


async def _account_of(principal: Principal, repos: Repositories) -> Account:
    return _usable(await repos.accounts.get(_account_id(principal)))


@requires_principal
async def get_account_read_only(request: Request) -> Account:
    """The caller's account for a route that only reads it: one statement on a connection in
    autocommit, no session or transaction (a disabled account is refused the same). The
    connection is back in the pool before the endpoint runs, and the principal is resolved
    by a plain call: one dependency for FastAPI to solve on GET /api/v1/me, where depending
    on CurrentPrincipal and ReadConnectionDep made six."""
    account_id = _account_id(await principal_of(request))
    async with read_connection(request.app.state.runtime, autocommit=False) as connection:
        account = await read_account(connection, account_id)
    return _usable(account)


async def get_current_account(principal: CurrentPrincipal, repos: ReposDep) -> Account:
    return await _account_of(principal, repos)


async def get_enrolling_account(principal: EnrolmentPrincipal, repos: ReposDep) -> Account:
    return await _account_of(principal, repos)


CurrentAccount = Annotated[Account, Depends(get_current_account)]
CurrentAccountReadOnly = Annotated[Account, Depends(get_account_read_only)]
EnrollingAccount = Annotated[Account, Depends(get_enrolling_account)]


def actor_of(principal: Principal) -> Actor:
    return Actor(
        account_id=uuid.UUID(principal.subject),
        roles=principal.roles,
        agency_id=principal.agency_id,
    )


@asynccontextmanager
async def keeping_counters(session: AsyncSession) -> AsyncIterator[None]:
    """Commit what was written before a domain error, then let the error answer.

    Throttle counters, a revoked token family: refusing the request must not roll back the
    record of why it was refused. If that commit fails, the request is answered with the
    commit's problem (409/503/500) instead: a refusal whose record was lost is not final.
    """
    try:
        yield
    except (IdentityError, RegistryError):
        await commit_or_problem(session)
        raise
