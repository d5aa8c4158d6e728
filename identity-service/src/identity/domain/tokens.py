"""Issuing tokens: access tokens (JWT), ID tokens, rotating refresh tokens, authorization codes."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from identity.domain import pkce
from identity.domain.crypto import sha256_hex
from identity.domain.exceptions import AuthorizationCodeReused, OAuthError, RefreshTokenReused
from identity.domain.keys import KeyCache, SigningKey
from identity.domain.models import Account, AuthorizationRequest, Client, GrantType, TokenSet
from identity.domain.ports import (
    AccountRepository,
    AuthorizationCodeRecord,
    EventRecorder,
    SigningKeyRepository,
    TokenRepository,
)
from identity.domain.revocation import record_access_revoked
from identity.domain.scopes import scopes_for_role


@dataclass(frozen=True, slots=True)
class TokenLifetimes:
    access: timedelta
    id_token: timedelta
    refresh: timedelta
    code: timedelta


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who signs, for whom, and for how long."""

    issuer: str
    audience: str
    lifetimes: TokenLifetimes


def _left_half_hash(value: str) -> str:
    """OIDC at_hash: the left half of SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


class TokenService:
    """Issues, refreshes and revokes tokens; signs with the key that is active right now."""

    def __init__(
        self,
        *,
        issuer: Issuer,
        keys: SigningKeyRepository,
        key_cache: KeyCache,
        tokens: TokenRepository,
        accounts: AccountRepository,
        events: EventRecorder,
    ) -> None:
        self._issuer = issuer
        self._keys = keys
        self._key_cache = key_cache
        self._tokens = tokens
        self._accounts = accounts
        self._events = events

    async def signing_key(self) -> SigningKey:
        stored = await self._keys.active()
        if stored is None:
            raise RuntimeError("no active signing key; the startup hook creates one")
        return self._key_cache.unseal(stored)

    # --- access and ID tokens -----------------------------------------------------------------

    def _access_claims(
        self,
        *,
        subject: str,
        client: Client,
        scope: Sequence[str],
        roles: Sequence[str],
        now: datetime,
    ) -> dict[str, Any]:
        """What every access token says, for a person or for an agency system."""
        return {
            "iss": self._issuer.issuer,
            "sub": subject,
            "aud": self._issuer.audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + self._issuer.lifetimes.access).timestamp()),
            "jti": str(uuid.uuid4()),
            "client_id": client.client_id,
            "scope": " ".join(scope),
            "roles": list(roles),
        }

    def _account_claims(
        self,
        *,
        account: Account,
        client: Client,
        scope: Sequence[str],
        family_id: uuid.UUID,
        auth_time: datetime,
        now: datetime,
    ) -> dict[str, Any]:
        """A person's token: always of a session (``sid``, its refresh-token family), so that
        ending the session can revoke it."""
        claims = self._access_claims(
            subject=str(account.id), client=client, scope=scope, roles=account.roles, now=now
        )
        claims["ial"] = account.assurance_level
        claims["auth_time"] = int(auth_time.timestamp())
        claims["sid"] = str(family_id)
        if account.agency_id is not None:
            claims["agency_id"] = str(account.agency_id)
        return claims

    async def access_token_for_account(
        self,
        *,
        account: Account,
        client: Client,
        scope: Sequence[str],
        auth_time: datetime,
        now: datetime,
        family_id: uuid.UUID,
    ) -> str:
        key = await self.signing_key()
        claims = self._account_claims(
            account=account,
            client=client,
            scope=scope,
            family_id=family_id,
            auth_time=auth_time,
            now=now,
        )
        return key.sign(claims, typ="at+jwt")

    async def _id_token(
        self,
        *,
        account: Account,
        client: Client,
        scope: Sequence[str],
        access_token: str,
        nonce: str | None,
        family_id: uuid.UUID,
        auth_time: datetime,
        now: datetime,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self._issuer.issuer,
            "sub": str(account.id),
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": int(now.timestamp()),
            "exp": int((now + self._issuer.lifetimes.id_token).timestamp()),
            "auth_time": int(auth_time.timestamp()),
            "at_hash": _left_half_hash(access_token),
            "sid": str(family_id),
            "acr": f"ial{account.assurance_level}",
        }
        if nonce:
            claims["nonce"] = nonce
        if "profile" in scope:
            claims["name"] = account.full_name
        if "email" in scope:
            claims["email"] = account.email
        key = await self.signing_key()
        return key.sign(claims, typ="JWT")

    async def issue_for_account(
        self,
        *,
        account: Account,
        client: Client,
        scope: Sequence[str],
        auth_time: datetime,
        now: datetime,
        nonce: str | None = None,
        family_id: uuid.UUID | None = None,
    ) -> tuple[TokenSet, uuid.UUID]:
        """An access token, a refresh token (a new family unless ``family_id``) and, for
        ``openid``, an ID token. Returns the tokens and the family.

        The tokens carry the scopes asked for that the account's role may hold, whatever the
        client itself may do."""
        scope = scopes_for_role(account.role, scope)
        if family_id is None:
            family_id = await self._tokens.create_family(
                account_id=account.id, client_id=client.client_id, scope=scope, auth_time=auth_time
            )
        access_token = await self.access_token_for_account(
            account=account,
            client=client,
            scope=scope,
            auth_time=auth_time,
            now=now,
            family_id=family_id,
        )
        refresh_token = secrets.token_urlsafe(32)
        await self._tokens.add_refresh_token(
            token_hash=sha256_hex(refresh_token),
            family_id=family_id,
            expires_at=now + self._issuer.lifetimes.refresh,
        )
        id_token = None
        if "openid" in scope:
            id_token = await self._id_token(
                account=account,
                client=client,
                scope=scope,
                access_token=access_token,
                nonce=nonce,
                family_id=family_id,
                auth_time=auth_time,
                now=now,
            )
        tokens = TokenSet(
            access_token=access_token,
            expires_in=int(self._issuer.lifetimes.access.total_seconds()),
            scope=" ".join(scope),
            refresh_token=refresh_token,
            id_token=id_token,
        )
        return tokens, family_id

    async def client_credentials(
        self, *, client: Client, requested: Sequence[str] | None, now: datetime
    ) -> TokenSet:
        """An access token for an agency system itself: its scopes and its agency, no user."""
        if GrantType.CLIENT_CREDENTIALS not in client.grant_types:
            raise OAuthError("unauthorized_client", "This client may not use client_credentials.")
        scope = sorted(client.scopes) if not requested else list(dict.fromkeys(requested))
        if not set(scope) <= client.scopes:
            raise OAuthError("invalid_scope", "The client may not ask for these scopes.")
        claims = self._access_claims(
            subject=client.client_id, client=client, scope=scope, roles=[], now=now
        )
        if client.agency_id is not None:
            claims["agency_id"] = str(client.agency_id)
        key = await self.signing_key()
        return TokenSet(
            access_token=key.sign(claims, typ="at+jwt"),
            expires_in=int(self._issuer.lifetimes.access.total_seconds()),
            scope=" ".join(scope),
        )

    # --- refresh tokens -----------------------------------------------------------------------

    async def refresh(self, *, refresh_token: str, client: Client, now: datetime) -> TokenSet:
        """Rotate: the presented token is spent and a new one of the same family returned.

        A spent token presented again means it leaked (or the client is broken): the whole
        family is revoked and ``RefreshTokenReused`` raised — the caller must commit that.
        """
        if GrantType.REFRESH_TOKEN not in client.grant_types:
            raise OAuthError("unauthorized_client", "This client may not refresh tokens.")
        record = await self._tokens.refresh_token_for_update(sha256_hex(refresh_token))
        if record is None or record.client_id != client.client_id:
            raise OAuthError("invalid_grant", "The refresh token is not valid.")
        if record.family_revoked_at is not None:
            raise OAuthError("invalid_grant", "The session was ended.")
        if record.used_at is not None:
            await self._revoke_session(record.family_id, reason="refresh_token_reused", now=now)
            raise RefreshTokenReused()
        if record.expires_at <= now:
            raise OAuthError("invalid_grant", "The refresh token has expired.")
        account = await self._accounts.get(record.account_id)
        if account is None or account.disabled:
            await self._revoke_session(record.family_id, reason="account_disabled", now=now)
            raise OAuthError("invalid_grant", "The account is not active.")
        await self._tokens.mark_refresh_token_used(record.token_hash)
        tokens, _ = await self.issue_for_account(
            account=account,
            client=client,
            scope=record.scope,
            auth_time=record.auth_time,
            now=now,
            family_id=record.family_id,
        )
        return tokens

    async def revoke_refresh_token(self, *, token: str, client: Client, now: datetime) -> None:
        """RFC 7009: revoking a refresh token ends its whole session; unknown tokens are fine."""
        record = await self._tokens.refresh_token_for_update(sha256_hex(token))
        if record is not None and record.client_id == client.client_id:
            await self._revoke_session(record.family_id, reason="revoked", now=now)

    async def end_session(
        self,
        *,
        family_id: uuid.UUID,
        account_id: uuid.UUID,
        now: datetime,
        reason: str = "logout",
    ) -> None:
        if await self._tokens.family_owner(family_id) == account_id:
            await self._revoke_session(family_id, reason=reason, now=now)

    async def revoke_access_token(self, *, jti: str, now: datetime) -> None:
        """RFC 7009 for an access token: gateways refuse that one token (its ``jti``)."""
        await record_access_revoked(
            self._events,
            kind="token",
            id=jti,
            reason="revoked",
            access_lifetime=self._issuer.lifetimes.access,
            now=now,
        )

    async def _revoke_session(self, family_id: uuid.UUID, *, reason: str, now: datetime) -> None:
        """End a refresh-token family and, once, tell the gateways to refuse its access tokens
        (they carry the family as ``sid``)."""
        if await self._tokens.revoke_family(family_id, reason=reason):
            await record_access_revoked(
                self._events,
                kind="session",
                id=str(family_id),
                reason=reason,
                access_lifetime=self._issuer.lifetimes.access,
                now=now,
            )

    # --- authorization codes ------------------------------------------------------------------

    async def create_code(
        self, *, request: AuthorizationRequest, account: Account, auth_time: datetime, now: datetime
    ) -> str:
        code = secrets.token_urlsafe(32)
        await self._tokens.add_code(
            AuthorizationCodeRecord(
                code_hash=sha256_hex(code),
                client_id=request.client_id,
                account_id=account.id,
                redirect_uri=request.redirect_uri,
                scope=request.scope,
                code_challenge=request.code_challenge,
                nonce=request.nonce,
                auth_time=auth_time,
                expires_at=now + self._issuer.lifetimes.code,
                used_at=None,
                family_id=None,
            )
        )
        return code

    async def exchange_code(
        self,
        *,
        code: str,
        client: Client,
        redirect_uri: str | None,
        code_verifier: str | None,
        now: datetime,
    ) -> TokenSet:
        if GrantType.AUTHORIZATION_CODE not in client.grant_types:
            raise OAuthError("unauthorized_client", "This client may not use authorization codes.")
        record = await self._tokens.code_for_update(sha256_hex(code))
        if record is None or record.client_id != client.client_id:
            raise OAuthError("invalid_grant", "The authorization code is not valid.")
        if record.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what it gave.
            if record.family_id is not None:
                await self._revoke_session(record.family_id, reason="code_reused", now=now)
            raise AuthorizationCodeReused()
        if record.expires_at <= now:
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        if redirect_uri != record.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization.")
        if not code_verifier:
            raise OAuthError("invalid_grant", "code_verifier is required (PKCE).")
        if not pkce.verifier_matches(code_verifier, record.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")
        account = await self._accounts.get(record.account_id)
        if account is None or account.disabled:
            raise OAuthError("invalid_grant", "The account is not active.")
        tokens, family_id = await self.issue_for_account(
            account=account,
            client=client,
            scope=record.scope,
            auth_time=record.auth_time,
            now=now,
            nonce=record.nonce,
        )
        await self._tokens.mark_code_used(record.code_hash, family_id=family_id)
        return tokens
