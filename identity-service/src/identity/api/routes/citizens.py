"""``POST /api/v1/citizens``: registration confirmed by the population registry."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from identity.api.deps import ClientIpDep, ComponentsDep, ReposDep, keeping_counters
from identity.api.idempotency import idempotent
from identity.api.schemas import CitizenCreate, CitizenCreated, masked
from identity.domain.accounts import Registration, register_citizen
from identity.dukcapil.nik import parse_nik
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import IdempotencyKey
from mpp_shared.openapi import problems

router = APIRouter(prefix="/api/v1/citizens", tags=["citizens"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CitizenCreated,
    responses=problems(409, 429),
)
async def register(
    body: CitizenCreate,
    session: SessionDep,
    repos: ReposDep,
    components: ComponentsDep,
    ip: ClientIpDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register with NIK, name and birth date as the registry has them.

    422 ``invalid_nik`` for a malformed NIK; 422 ``registry_mismatch`` when the registry does
    not confirm NIK, name and birth date (never which); 409 ``already_registered``; 429
    ``rate_limited`` after too many attempts per IP or per NIK. Honours ``Idempotency-Key``.
    """
    parse_nik(body.nik)  # InvalidNik: 422 invalid_nik, before anything is counted

    async def create() -> CitizenCreated:
        async with keeping_counters(session):
            account = await register_citizen(
                registration=Registration(
                    nik=body.nik,
                    full_name=body.full_name,
                    birth_date=body.birth_date,
                    email=body.email,
                    phone=body.phone,
                    password=body.password,
                ),
                client_ip=ip,
                limits=components.registration_limits,
                accounts=repos.accounts,
                throttle=repos.throttle,
                registry=components.population_registry(),
                hasher=components.hasher,
                events=repos.events,
                now=datetime.now(UTC),
                resident_link_secret=components.settings.resident_link_key.get_secret_value(),
            )
        assert account.profile is not None
        return CitizenCreated(
            id=account.id,
            nik_masked=masked(account.profile.nik),
            assurance_level=account.assurance_level,
        )

    return await idempotent(
        session=session,
        components=components,
        key=idempotency_key,
        scope="POST /api/v1/citizens",
        payload=body,
        status_code=status.HTTP_201_CREATED,
        create=create,
    )
