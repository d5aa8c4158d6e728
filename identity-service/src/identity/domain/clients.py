"""OAuth clients: agency systems registered by platform admins, and client authentication."""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from identity.domain.crypto import sha256_hex
from identity.domain.exceptions import InvalidInput, NotFound, OAuthError, UnknownAgency
from identity.domain.models import OIDC_SCOPES, AuthorizationRequest, Client, GrantType
from identity.domain.pkce import valid_challenge
from identity.domain.ports import AgencyRepository, ClientRepository, EventRecorder
from identity.domain.revocation import record_access_revoked
from mpp_shared.auth import MFA_ENROLL_SCOPE

_SCOPE = re.compile(r"^[a-z][a-z0-9_.:\-]{0,99}$")
# Scopes only the identity service hands out.
RESERVED_SCOPES: frozenset[str] = frozenset({MFA_ENROLL_SCOPE})
REGISTRABLE_GRANTS: frozenset[str] = frozenset(
    {GrantType.CLIENT_CREDENTIALS, GrantType.AUTHORIZATION_CODE}
)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class NewClient:
    name: str
    agency_id: uuid.UUID
    scopes: Sequence[str]
    redirect_uris: Sequence[str]
    grant_types: Sequence[str]


def check_redirect_uri(uri: str, *, allow_http: bool) -> bool:
    """Absolute https (http only for loopback outside production), no fragment (RFC 6749)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.fragment or not parts.netloc or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (allow_http or parts.hostname in _LOOPBACK_HOSTS)


async def register_client(
    *,
    new: NewClient,
    allow_http_redirects: bool,
    clients: ClientRepository,
    agencies: AgencyRepository,
    created_by: uuid.UUID,
) -> tuple[Client, str]:
    """Register an agency system; returns it and its secret (stored only as a hash)."""
    grants = set(new.grant_types or [GrantType.CLIENT_CREDENTIALS])
    if not grants <= REGISTRABLE_GRANTS:
        raise InvalidInput(
            "grant_types may be client_credentials and authorization_code",
            loc=["body", "grant_types"],
        )
    for index, scope in enumerate(new.scopes):
        if not _SCOPE.match(scope) or scope in RESERVED_SCOPES:
            raise InvalidInput(
                f"{scope!r} is not a scope a client may hold", loc=["body", "scopes", index]
            )
    for index, uri in enumerate(new.redirect_uris):
        if not check_redirect_uri(uri, allow_http=allow_http_redirects):
            raise InvalidInput(
                "redirect URIs are absolute https URLs without a fragment",
                loc=["body", "redirect_uris", index],
            )
    if GrantType.AUTHORIZATION_CODE in grants:
        if not new.redirect_uris:
            raise InvalidInput(
                "authorization_code needs redirect_uris", loc=["body", "redirect_uris"]
            )
        grants.add(GrantType.REFRESH_TOKEN)
    if not await agencies.known(new.agency_id):
        raise UnknownAgency()
    secret = secrets.token_urlsafe(32)
    client = Client(
        client_id="agency-" + secrets.token_hex(8),
        name=" ".join(new.name.split()),
        scopes=frozenset(new.scopes),
        grant_types=frozenset(grants),
        redirect_uris=tuple(dict.fromkeys(new.redirect_uris)),
        agency_id=new.agency_id,
        secret_hash=sha256_hex(secret),
    )
    await clients.add(client, created_by=created_by)
    return client, secret


async def disable_client(
    *,
    client_id: str,
    clients: ClientRepository,
    events: EventRecorder,
    access_lifetime: timedelta,
    now: datetime,
) -> None:
    """An agency system's secret stops working, and the gateways refuse its tokens (those
    of the system itself and those it got for people) from now on."""
    if not await clients.disable(client_id):
        raise NotFound("client not found")
    await record_access_revoked(
        events,
        kind="client",
        id=client_id,
        reason="client_disabled",
        access_lifetime=access_lifetime,
        now=now,
    )


async def authenticate_client(
    *, clients: ClientRepository, client_id: str | None, client_secret: str | None
) -> Client:
    """The client making a token request: public clients name themselves, confidential ones
    prove it with their secret."""
    if not client_id:
        raise OAuthError("invalid_client", "Client authentication is required.", status=401)
    client = await clients.get(client_id)
    if client is None or client.disabled:
        raise OAuthError("invalid_client", "Unknown client.", status=401)
    if client.secret_hash is None:
        return client
    if not client_secret or not hmac.compare_digest(sha256_hex(client_secret), client.secret_hash):
        raise OAuthError("invalid_client", "Client authentication failed.", status=401)
    return client


class RedirectableError(Exception):
    """An authorization request error reported back to the client's redirect URI."""

    def __init__(
        self, error: str, description: str, *, redirect_uri: str, state: str | None
    ) -> None:
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state
        super().__init__(description)


class UnredirectableError(Exception):
    """An unknown client or a redirect URI it did not register: shown to the user, never
    redirected (the URI could be an attacker's)."""


async def validate_authorization_request(
    *, params: dict[str, str], clients: ClientRepository
) -> tuple[AuthorizationRequest, Client]:
    client_id = params.get("client_id", "")
    client = await clients.get(client_id) if client_id else None
    if client is None or client.disabled:
        raise UnredirectableError("Aplikasi tidak dikenal.")
    redirect_uri = params.get("redirect_uri", "")
    # Exact string match, no prefix or normalisation: RFC 9700 §4.1.3.
    if not redirect_uri or redirect_uri not in client.redirect_uris:
        raise UnredirectableError("Alamat pengalihan (redirect_uri) tidak terdaftar.")
    state = params.get("state") or None

    def fail(error: str, description: str) -> RedirectableError:
        return RedirectableError(error, description, redirect_uri=redirect_uri, state=state)

    if GrantType.AUTHORIZATION_CODE not in client.grant_types:
        raise fail("unauthorized_client", "The client may not use the authorization code flow.")
    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    if not state:
        raise fail("invalid_request", "state is required.")
    challenge = params.get("code_challenge", "")
    if not challenge:
        raise fail("invalid_request", "PKCE is required: code_challenge is missing.")
    if params.get("code_challenge_method") != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256.")
    if not valid_challenge(challenge):
        raise fail("invalid_request", "code_challenge is not a base64url SHA-256.")
    scope = tuple(dict.fromkeys((params.get("scope") or "openid").split()))
    if not set(scope) <= OIDC_SCOPES | client.scopes:
        raise fail("invalid_scope", "The client may not ask for these scopes.")
    nonce = params.get("nonce") or None
    if nonce is not None and len(nonce) > 255:
        raise fail("invalid_request", "nonce is too long.")
    if len(state) > 1024:
        raise fail("invalid_request", "state is too long.")
    return (
        AuthorizationRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            code_challenge=challenge,
            nonce=nonce,
        ),
        client,
    )
