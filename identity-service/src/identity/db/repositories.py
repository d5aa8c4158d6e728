"""Repositories: the only code that queries the identity database. They never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    AccessLogRow,
    AccountRow,
    AuthorizationCodeRow,
    CitizenProfileRow,
    ConsentRow,
    KnownAgencyRow,
    OAuthClientRow,
    RefreshTokenRow,
    SigningKeyRow,
    ThrottleCounterRow,
    TokenFamilyRow,
)
from identity.domain.exceptions import AlreadyRegistered, EmailInUse
from identity.domain.keys import StoredSigningKey
from identity.domain.models import (
    AccessLogEntry,
    Account,
    Client,
    Consent,
    PageRequest,
)
from identity.domain.ports import (
    AuthorizationCodeRecord,
    RefreshTokenRecord,
    TotpState,
)
from identity.domain.profile import citizen_profile
from identity.domain.throttle import Counter
from mpp_shared.auth import Role
from mpp_shared.events import CloudEvent, record_event
from mpp_shared.idempotency import purge_expired as purge_expired_idempotency_keys


def _account(row: AccountRow, profile: CitizenProfileRow | None) -> Account:
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


# Built once: SQLAlchemy computes the cache key of a statement built per call again, which cost
# about a quarter of a millisecond, a fifth of GET /api/v1/me, on every request by an account.
_ACCOUNT_BY_ID = (
    select(AccountRow, CitizenProfileRow)
    .outerjoin(CitizenProfileRow, CitizenProfileRow.account_id == AccountRow.id)
    .where(AccountRow.id == bindparam("account_id"))
)


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
        row = (await self._session.execute(_ACCOUNT_BY_ID, {"account_id": account_id})).first()
        return _account(row[0], row[1]) if row is not None else None

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


def _client(row: OAuthClientRow) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        scopes=frozenset(row.scopes),
        grant_types=frozenset(row.grant_types),
        redirect_uris=tuple(row.redirect_uris),
        agency_id=row.agency_id,
        secret_hash=row.secret_hash,
        first_party=row.first_party,
        disabled=row.disabled_at is not None,
        created_at=row.created_at,
    )


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, client_id: str) -> Client | None:
        row = await self._session.get(OAuthClientRow, client_id)
        return _client(row) if row is not None else None

    async def add(self, client: Client, *, created_by: uuid.UUID | None = None) -> bool:
        result = await self._session.execute(
            pg_insert(OAuthClientRow)
            .values(
                client_id=client.client_id,
                name=client.name,
                agency_id=client.agency_id,
                secret_hash=client.secret_hash,
                scopes=sorted(client.scopes),
                redirect_uris=list(client.redirect_uris),
                grant_types=sorted(client.grant_types),
                first_party=client.first_party,
                created_by=created_by,
            )
            .on_conflict_do_nothing()
            .returning(OAuthClientRow.client_id)
        )
        return result.first() is not None

    async def list(self, *, page: PageRequest) -> list[Client]:
        statement = select(OAuthClientRow)
        if page.after is not None:
            at, last_id = page.after
            statement = statement.where(
                or_(
                    OAuthClientRow.created_at > at,
                    and_(
                        OAuthClientRow.created_at == at,
                        OAuthClientRow.client_id > last_id,
                    ),
                )
            )
        statement = statement.order_by(OAuthClientRow.created_at, OAuthClientRow.client_id)
        rows = (await self._session.execute(statement.limit(page.limit))).scalars().all()
        return [_client(row) for row in rows]

    async def disable(self, client_id: str) -> bool:
        result = await self._session.execute(
            update(OAuthClientRow)
            .where(OAuthClientRow.client_id == client_id, OAuthClientRow.first_party.is_(False))
            .values(disabled_at=func.coalesce(OAuthClientRow.disabled_at, func.now()))
            .returning(OAuthClientRow.client_id)
        )
        return result.first() is not None


class AgencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def known(self, agency_id: uuid.UUID) -> bool:
        return await self._session.get(KnownAgencyRow, agency_id) is not None

    async def remember(
        self, *, agency_id: uuid.UUID, name: str, kind: str, region_code: str, revision: int
    ) -> None:
        statement = pg_insert(KnownAgencyRow).values(
            agency_id=agency_id, name=name, kind=kind, region_code=region_code, revision=revision
        )
        # Events may arrive out of order: an older revision never overwrites a newer one.
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[KnownAgencyRow.agency_id],
                set_={
                    "name": statement.excluded.name,
                    "kind": statement.excluded.kind,
                    "region_code": statement.excluded.region_code,
                    "revision": statement.excluded.revision,
                    "updated_at": func.now(),
                },
                where=KnownAgencyRow.revision < statement.excluded.revision,
            )
        )


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_code(self, record: AuthorizationCodeRecord) -> None:
        self._session.add(
            AuthorizationCodeRow(
                code_hash=record.code_hash,
                client_id=record.client_id,
                account_id=record.account_id,
                redirect_uri=record.redirect_uri,
                scope=list(record.scope),
                code_challenge=record.code_challenge,
                nonce=record.nonce,
                auth_time=record.auth_time,
                expires_at=record.expires_at,
            )
        )
        await self._session.flush()

    async def code_for_update(self, code_hash: str) -> AuthorizationCodeRecord | None:
        row = (
            await self._session.execute(
                select(AuthorizationCodeRow)
                .where(AuthorizationCodeRow.code_hash == code_hash)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        return AuthorizationCodeRecord(
            code_hash=row.code_hash,
            client_id=row.client_id,
            account_id=row.account_id,
            redirect_uri=row.redirect_uri,
            scope=tuple(row.scope),
            code_challenge=row.code_challenge,
            nonce=row.nonce,
            auth_time=row.auth_time,
            expires_at=row.expires_at,
            used_at=row.used_at,
            family_id=row.family_id,
        )

    async def mark_code_used(self, code_hash: str, *, family_id: uuid.UUID | None) -> None:
        await self._session.execute(
            update(AuthorizationCodeRow)
            .where(AuthorizationCodeRow.code_hash == code_hash)
            .values(used_at=func.now(), family_id=family_id)
        )

    async def create_family(
        self,
        *,
        account_id: uuid.UUID,
        client_id: str,
        scope: Sequence[str],
        auth_time: datetime,
    ) -> uuid.UUID:
        family_id = uuid.uuid4()
        self._session.add(
            TokenFamilyRow(
                id=family_id,
                account_id=account_id,
                client_id=client_id,
                scope=list(scope),
                auth_time=auth_time,
            )
        )
        await self._session.flush()
        return family_id

    async def add_refresh_token(
        self, *, token_hash: str, family_id: uuid.UUID, expires_at: datetime
    ) -> None:
        self._session.add(
            RefreshTokenRow(token_hash=token_hash, family_id=family_id, expires_at=expires_at)
        )
        await self._session.flush()

    async def refresh_token_for_update(self, token_hash: str) -> RefreshTokenRecord | None:
        row = (
            await self._session.execute(
                select(RefreshTokenRow, TokenFamilyRow)
                .join(TokenFamilyRow, TokenFamilyRow.id == RefreshTokenRow.family_id)
                .where(RefreshTokenRow.token_hash == token_hash)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        token, family = row[0], row[1]
        return RefreshTokenRecord(
            token_hash=token.token_hash,
            family_id=family.id,
            account_id=family.account_id,
            client_id=family.client_id,
            scope=tuple(family.scope),
            auth_time=family.auth_time,
            expires_at=token.expires_at,
            used_at=token.used_at,
            family_revoked_at=family.revoked_at,
        )

    async def mark_refresh_token_used(self, token_hash: str) -> None:
        await self._session.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.token_hash == token_hash)
            .values(used_at=func.now())
        )

    async def revoke_family(self, family_id: uuid.UUID, *, reason: str) -> bool:
        result = await self._session.execute(
            update(TokenFamilyRow)
            .where(TokenFamilyRow.id == family_id, TokenFamilyRow.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
            .returning(TokenFamilyRow.id)
        )
        return result.first() is not None

    async def revoke_families(self, account_id: uuid.UUID, *, scope: str, reason: str) -> int:
        result = await self._session.execute(
            update(TokenFamilyRow)
            .where(
                TokenFamilyRow.account_id == account_id,
                TokenFamilyRow.revoked_at.is_(None),
                TokenFamilyRow.scope.contains([scope]),
            )
            .values(revoked_at=func.now(), revoked_reason=reason)
            .returning(TokenFamilyRow.id)
        )
        return len(result.all())

    async def family_owner(self, family_id: uuid.UUID) -> uuid.UUID | None:
        row = await self._session.get(TokenFamilyRow, family_id)
        return row.account_id if row is not None else None


def _stored_key(row: SigningKeyRow) -> StoredSigningKey:
    return StoredSigningKey(
        kid=row.kid,
        algorithm=row.algorithm,
        public_jwk=dict(row.public_jwk),
        sealed_private_key=row.private_key_sealed,
        active=row.status == "active",
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active(self) -> StoredSigningKey | None:
        row = (
            await self._session.execute(
                select(SigningKeyRow).where(SigningKeyRow.status == "active")
            )
        ).scalar_one_or_none()
        return _stored_key(row) if row is not None else None

    async def lock_active(self) -> StoredSigningKey | None:
        row = (
            await self._session.execute(
                select(SigningKeyRow).where(SigningKeyRow.status == "active").with_for_update()
            )
        ).scalar_one_or_none()
        return _stored_key(row) if row is not None else None

    async def published(self, *, retired_since: datetime) -> list[StoredSigningKey]:
        rows = (
            await self._session.execute(
                select(SigningKeyRow)
                .where(
                    or_(
                        SigningKeyRow.status == "active",
                        SigningKeyRow.retired_at > retired_since,
                    )
                )
                .order_by(SigningKeyRow.created_at.desc())
            )
        ).scalars()
        return [_stored_key(row) for row in rows]

    async def add_active(self, key: StoredSigningKey) -> bool:
        result = await self._session.execute(
            pg_insert(SigningKeyRow)
            .values(
                kid=key.kid,
                algorithm=key.algorithm,
                public_jwk=key.public_jwk,
                private_key_sealed=key.sealed_private_key,
                status="active",
                created_at=key.created_at,
            )
            # Another replica made the first key at the same moment: keep theirs.
            .on_conflict_do_nothing()
            .returning(SigningKeyRow.kid)
        )
        return result.first() is not None

    async def retire(self, kid: str, *, at: datetime) -> None:
        await self._session.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.kid == kid)
            .values(status="retired", retired_at=at)
        )

    async def all(self) -> list[StoredSigningKey]:
        rows = (
            await self._session.execute(
                select(SigningKeyRow).order_by(SigningKeyRow.created_at.desc())
            )
        ).scalars()
        return [_stored_key(row) for row in rows]


def _consent(row: ConsentRow) -> Consent:
    return Consent(
        id=row.id,
        account_id=row.account_id,
        service_id=row.service_id,
        fields=tuple(row.fields),
        purpose=row.purpose,
        granted_at=row.granted_at,
        granted_via=row.granted_via,
        revoked_at=row.revoked_at,
    )


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active_for(self, account_id: uuid.UUID, service_id: uuid.UUID) -> Consent | None:
        row = (
            await self._session.execute(
                select(ConsentRow).where(
                    ConsentRow.account_id == account_id,
                    ConsentRow.service_id == service_id,
                    ConsentRow.revoked_at.is_(None),
                )
            )
        ).scalar_one_or_none()
        return _consent(row) if row is not None else None

    async def add(self, consent: Consent) -> None:
        self._session.add(
            ConsentRow(
                id=consent.id,
                account_id=consent.account_id,
                service_id=consent.service_id,
                fields=list(consent.fields),
                purpose=consent.purpose,
                granted_via=consent.granted_via,
                granted_at=consent.granted_at,
            )
        )
        await self._session.flush()

    async def replace_fields(
        self, consent_id: uuid.UUID, *, fields: Sequence[str], purpose: str, at: datetime
    ) -> None:
        await self._session.execute(
            update(ConsentRow)
            .where(ConsentRow.id == consent_id)
            .values(fields=list(fields), purpose=purpose, granted_at=at)
        )

    async def get(self, account_id: uuid.UUID, consent_id: uuid.UUID) -> Consent | None:
        row = (
            await self._session.execute(
                select(ConsentRow).where(
                    ConsentRow.id == consent_id, ConsentRow.account_id == account_id
                )
            )
        ).scalar_one_or_none()
        return _consent(row) if row is not None else None

    async def revoke(self, consent_id: uuid.UUID, *, at: datetime) -> None:
        await self._session.execute(
            update(ConsentRow)
            .where(ConsentRow.id == consent_id, ConsentRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def list(self, account_id: uuid.UUID, *, page: PageRequest) -> list[Consent]:
        statement = select(ConsentRow).where(ConsentRow.account_id == account_id)
        if page.after is not None:
            at, last_id = page.after
            statement = statement.where(
                or_(
                    ConsentRow.granted_at < at,
                    and_(ConsentRow.granted_at == at, ConsentRow.id < uuid.UUID(last_id)),
                )
            )
        statement = statement.order_by(ConsentRow.granted_at.desc(), ConsentRow.id.desc())
        rows = (await self._session.execute(statement.limit(page.limit))).scalars().all()
        return [_consent(row) for row in rows]


class AccessLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entry: AccessLogEntry) -> None:
        self._session.add(
            AccessLogRow(
                id=entry.id,
                account_id=entry.account_id,
                accessed_at=entry.accessed_at,
                accessor=entry.accessor,
                accessor_kind=entry.accessor_kind,
                purpose=entry.purpose,
                fields=list(entry.fields),
                service_id=entry.service_id,
                consent_id=entry.consent_id,
            )
        )
        await self._session.flush()

    async def list(self, account_id: uuid.UUID, *, page: PageRequest) -> list[AccessLogEntry]:
        statement = select(AccessLogRow).where(AccessLogRow.account_id == account_id)
        if page.after is not None:
            at, last_id = page.after
            statement = statement.where(
                or_(
                    AccessLogRow.accessed_at < at,
                    and_(AccessLogRow.accessed_at == at, AccessLogRow.id < uuid.UUID(last_id)),
                )
            )
        statement = statement.order_by(AccessLogRow.accessed_at.desc(), AccessLogRow.id.desc())
        rows = (await self._session.execute(statement.limit(page.limit))).scalars().all()
        return [
            AccessLogEntry(
                id=row.id,
                account_id=row.account_id,
                accessed_at=row.accessed_at,
                accessor=row.accessor,
                accessor_kind=row.accessor_kind,
                purpose=row.purpose,
                fields=tuple(row.fields),
                service_id=row.service_id,
                consent_id=row.consent_id,
            )
            for row in rows
        ]


class ThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> Counter | None:
        row = await self._session.get(ThrottleCounterRow, key)
        if row is None:
            return None
        return Counter(
            count=row.count,
            window_started_at=row.window_started_at,
            blocked_until=row.blocked_until,
        )

    async def count(self, key: str, *, window: timedelta, now: datetime) -> Counter:
        statement = pg_insert(ThrottleCounterRow).values(
            key=key, count=1, window_started_at=now, expires_at=now + window
        )
        expired = ThrottleCounterRow.window_started_at <= now - window
        # One statement: replicas counting the same key at once each add one.
        row = (
            await self._session.execute(
                statement.on_conflict_do_update(
                    index_elements=[ThrottleCounterRow.key],
                    set_={
                        "count": case((expired, 1), else_=ThrottleCounterRow.count + 1),
                        "window_started_at": case(
                            (expired, now), else_=ThrottleCounterRow.window_started_at
                        ),
                        "expires_at": func.greatest(
                            ThrottleCounterRow.expires_at, statement.excluded.expires_at
                        ),
                    },
                ).returning(
                    ThrottleCounterRow.count,
                    ThrottleCounterRow.window_started_at,
                    ThrottleCounterRow.blocked_until,
                )
            )
        ).one()
        return Counter(count=row[0], window_started_at=row[1], blocked_until=row[2])

    async def block(self, key: str, *, until: datetime) -> None:
        await self._session.execute(
            update(ThrottleCounterRow)
            .where(ThrottleCounterRow.key == key)
            .values(
                blocked_until=until,
                expires_at=func.greatest(ThrottleCounterRow.expires_at, until),
            )
        )

    async def reset(self, key: str) -> None:
        await self._session.execute(
            update(ThrottleCounterRow)
            .where(ThrottleCounterRow.key == key)
            .values(count=0, blocked_until=None)
        )


class OutboxEventRecorder:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, event: CloudEvent) -> None:
        await record_event(self._session, event)


class Housekeeping:
    """Deletes what has expired; harmless when replicas do it at the same time."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def purge(self, *, now: datetime, keep_used_for: timedelta) -> int:
        removed = 0
        for statement in (
            delete(AuthorizationCodeRow).where(
                AuthorizationCodeRow.expires_at < now - keep_used_for
            ),
            delete(RefreshTokenRow).where(RefreshTokenRow.expires_at < now),
            delete(ThrottleCounterRow).where(ThrottleCounterRow.expires_at < now),
        ):
            result = await self._session.execute(statement)
            removed += getattr(result, "rowcount", 0) or 0
        return removed + await purge_expired_idempotency_keys(self._session, now=now)
