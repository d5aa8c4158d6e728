"""Accounts (citizens and staff) and their citizen profiles."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from identity.db.tables import (
    AccountRow,
    CitizenProfileRow,
)
from identity.domain.exceptions import AlreadyRegistered, EmailInUse
from identity.domain.models import (
    Account,
    PageRequest,
)
from identity.domain.ports import (
    TotpState,
)
from identity.domain.profile import citizen_profile
from mpp_shared.auth import Role
from mpp_shared.db.driver import compile_for_asyncpg, fetch_row


def _account(row: AccountRow | Any, profile: CitizenProfileRow | Any | None) -> Account:
    return Account(
        id=row.id,
        role=row.role,
        email=row.email,
        full_name=row.full_name,
        password_hash=row.password_hash,
        phone=row.phone,
        agency_id=row.agency_id,
        assurance_level=row.assurance_level,
        totp_enabled=row.totp_enabled_at is not None,
        disabled=row.disabled_at is not None,
        created_at=row.created_at,
        profile=citizen_profile(profile) if profile is not None else None,
    )


# An account and its profile in SQLAlchemy Core (``read_account``): no ORM identity map or unit
# of work, the row's columns taken by name. Built once: SQLAlchemy computes the cache key of a
# statement built per call again.
_ACCOUNT_ATTRS = [(a.key, a.columns[0]) for a in inspect(AccountRow).column_attrs]
_PROFILE_ATTRS = [(a.key, a.columns[0]) for a in inspect(CitizenProfileRow).column_attrs]
_ACCOUNT_READ = (
    select(
        *(column.label(f"a_{key}") for key, column in _ACCOUNT_ATTRS),
        *(column.label(f"p_{key}") for key, column in _PROFILE_ATTRS),
    )
    .select_from(AccountRow.__table__)
    .outerjoin(CitizenProfileRow.__table__, CitizenProfileRow.account_id == AccountRow.id)
    .where(AccountRow.id == bindparam("account_id"))
)
_ACCOUNT_KEYS = [(key, f"a_{key}") for key, _ in _ACCOUNT_ATTRS]
_PROFILE_KEYS = [(key, f"p_{key}") for key, _ in _PROFILE_ATTRS]


# And as SQL for asyncpg: GET /api/v1/me runs it with mpp_shared.db.driver.fetch_row.
_ACCOUNT_READ_SQL = compile_for_asyncpg(_ACCOUNT_READ)


async def read_account(connection: AsyncConnection, account_id: uuid.UUID) -> Account | None:
    """The account and its profile, as ``AccountRepository.get``, on a plain connection: one
    statement on asyncpg itself (``fetch_row``), no transaction."""
    values = await fetch_row(connection, _ACCOUNT_READ_SQL, account_id)
    if values is None:
        return None
    account = SimpleNamespace(**{key: values[label] for key, label in _ACCOUNT_KEYS})
    profile = (
        SimpleNamespace(**{key: values[label] for key, label in _PROFILE_KEYS})
        if values["p_account_id"] is not None
        else None
    )
    return _account(account, profile)


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _select(self) -> Select[AccountRow, CitizenProfileRow]:
        return select(AccountRow, CitizenProfileRow).outerjoin(
            CitizenProfileRow, CitizenProfileRow.account_id == AccountRow.id
        )

    async def _one(self, statement: Select[AccountRow, CitizenProfileRow]) -> Account | None:
        row = (await self._session.execute(statement)).first()
        return _account(row[0], row[1]) if row is not None else None

    async def get(self, account_id: uuid.UUID) -> Account | None:
        # On asyncpg itself (``read_account``), in the session's transaction once it began: the
        # ORM's loading of two entities cost the prefill answer as much as the rest of it.
        return await read_account(await self._session.connection(), account_id)

    async def by_email(self, email: str) -> Account | None:
        return await self._one(self._select().where(AccountRow.email == email.lower()))

    async def by_nik(self, nik: str) -> Account | None:
        return await self._one(self._select().where(CitizenProfileRow.nik == nik))

    async def email_taken(self, email: str, *, except_id: uuid.UUID | None = None) -> bool:
        statement = select(AccountRow.id).where(AccountRow.email == email.lower())
        if except_id is not None:
            statement = statement.where(AccountRow.id != except_id)
        return (await self._session.execute(statement.limit(1))).first() is not None

    async def nik_registered(self, nik: str) -> bool:
        statement = select(CitizenProfileRow.account_id).where(CitizenProfileRow.nik == nik)
        return (await self._session.execute(statement)).first() is not None

    async def add(self, account: Account, *, created_by: uuid.UUID | None = None) -> None:
        row = AccountRow(
            id=account.id,
            role=account.role,
            email=account.email.lower(),
            phone=account.phone,
            full_name=account.full_name,
            password_hash=account.password_hash,
            agency_id=account.agency_id,
            assurance_level=account.assurance_level,
            created_by=created_by,
        )
        profile = account.profile
        try:
            # A savepoint: a registration racing this one must not poison the transaction,
            # which still has throttle counters to commit.
            async with self._session.begin_nested():
                self._session.add(row)
                await self._session.flush()
                if profile is not None:
                    self._session.add(
                        CitizenProfileRow(
                            account_id=account.id,
                            nik=profile.nik,
                            full_name=profile.full_name,
                            birth_place=profile.birth_place,
                            birth_date=profile.birth_date,
                            gender=profile.gender,
                            religion=profile.religion,
                            marital_status=profile.marital_status,
                            occupation=profile.occupation,
                            street=profile.address.street,
                            rt=profile.address.rt,
                            rw=profile.address.rw,
                            village=profile.address.village,
                            district=profile.address.district,
                            regency=profile.address.regency,
                            province=profile.address.province,
                            region_code=profile.address.region_code,
                        )
                    )
                    await self._session.flush()
        except IntegrityError as exc:
            if "email" in str(exc.orig):
                raise EmailInUse() from None
            raise AlreadyRegistered() from None

    async def update_contact(self, account_id: uuid.UUID, *, email: str, phone: str | None) -> None:
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    update(AccountRow)
                    .where(AccountRow.id == account_id)
                    .values(email=email.lower(), phone=phone, updated_at=func.now())
                )
        except IntegrityError:
            raise EmailInUse() from None

    async def set_password_hash(self, account_id: uuid.UUID, password_hash: str) -> None:
        await self._session.execute(
            update(AccountRow)
            .where(AccountRow.id == account_id)
            .values(password_hash=password_hash, updated_at=func.now())
        )

    async def raise_assurance_level(self, account_id: uuid.UUID, level: int) -> bool:
        result = await self._session.execute(
            update(AccountRow)
            .where(AccountRow.id == account_id, AccountRow.assurance_level < level)
            .values(assurance_level=level, updated_at=func.now())
            .returning(AccountRow.id)
        )
        raised = result.first() is not None
        if raised:
            await self._session.execute(
                update(CitizenProfileRow)
                .where(CitizenProfileRow.account_id == account_id)
                .values(face_verified_at=func.now())
            )
        return raised

    async def totp_state(self, account_id: uuid.UUID) -> TotpState:
        row = (
            await self._session.execute(
                select(
                    AccountRow.totp_secret,
                    AccountRow.totp_pending_secret,
                    AccountRow.totp_last_step,
                ).where(AccountRow.id == account_id)
            )
        ).one()
        return TotpState(secret=row[0], pending_secret=row[1], last_step=row[2])

    async def set_pending_totp(self, account_id: uuid.UUID, sealed: bytes) -> None:
        await self._session.execute(
            update(AccountRow)
            .where(AccountRow.id == account_id)
            .values(totp_pending_secret=sealed, updated_at=func.now())
        )

    async def enable_totp(self, account_id: uuid.UUID, *, sealed: bytes, step: int) -> None:
        await self._session.execute(
            update(AccountRow)
            .where(AccountRow.id == account_id)
            .values(
                totp_secret=sealed,
                totp_pending_secret=None,
                totp_enabled_at=func.now(),
                totp_last_step=step,
                updated_at=func.now(),
            )
        )

    async def claim_totp_step(self, account_id: uuid.UUID, step: int) -> bool:
        # One statement, so two logins racing with the same code cannot both succeed.
        result = await self._session.execute(
            update(AccountRow)
            .where(
                AccountRow.id == account_id,
                or_(AccountRow.totp_last_step.is_(None), AccountRow.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .returning(AccountRow.id)
        )
        return result.first() is not None

    async def disable(self, account_id: uuid.UUID) -> bool:
        """Disable the account (once: a second time keeps the first moment); False when there
        is no such account."""
        result = await self._session.execute(
            update(AccountRow)
            .where(AccountRow.id == account_id)
            .values(disabled_at=func.coalesce(AccountRow.disabled_at, func.now()))
            .returning(AccountRow.id)
        )
        return result.first() is not None

    async def platform_admin_exists(self) -> bool:
        statement = select(AccountRow.id).where(AccountRow.role == Role.PLATFORM_ADMIN).limit(1)
        return (await self._session.execute(statement)).first() is not None

    async def list_staff(self, *, agency_id: uuid.UUID | None, page: PageRequest) -> list[Account]:
        statement = self._select().where(AccountRow.role != Role.CITIZEN)
        if agency_id is not None:
            statement = statement.where(AccountRow.agency_id == agency_id)
        if page.after is not None:
            at, last_id = page.after
            statement = statement.where(
                or_(
                    AccountRow.created_at > at,
                    and_(AccountRow.created_at == at, AccountRow.id > uuid.UUID(last_id)),
                )
            )
        statement = statement.order_by(AccountRow.created_at, AccountRow.id).limit(page.limit)
        rows = (await self._session.execute(statement)).all()
        return [_account(row[0], row[1]) for row in rows]
