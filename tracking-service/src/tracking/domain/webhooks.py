"""Agency webhooks: which events a subscription wants, where it may point, signing and retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

from mpp_shared.auth.principal import Principal, Role

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SIGNATURE_HEADER = "X-MPP-Signature"
EVENT_ID_HEADER = "X-MPP-Event-Id"
DELIVERY_ID_HEADER = "X-MPP-Delivery-Id"

MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 256
MAX_URL_LENGTH = 2048
MAX_EVENT_PATTERNS = 20

# An exact CloudEvent type (mpp.<service>.<entity>.<verb>) or a prefix of whole tokens ending
# in "*": "mpp.application.*", "mpp.application.application.*", "mpp.*".
_TOKEN = r"[a-z][a-z0-9_-]*"  # noqa: S105 - a subject token, not a secret
_EVENT_PATTERN = re.compile(rf"^mpp(?:\.{_TOKEN}){{0,3}}\.\*$|^mpp(?:\.{_TOKEN}){{3}}$")

# Cloud metadata endpoints: refused even when private addresses are allowed for local
# receivers (AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba).
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class WebhookError(Exception):
    """Base of the webhook rules' errors."""


class InvalidWebhook(WebhookError):
    """A subscription that cannot be registered (422); ``field`` names the body field."""

    def __init__(self, field: str, message: str, *, code: str = "invalid_webhook") -> None:
        self.field = field
        self.code = code
        super().__init__(message)


class ForbiddenAddress(WebhookError):
    """The receiver's host resolves to an address webhooks may not reach (SSRF guard)."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"{host} resolves to a {reason} address")


class UnresolvableHost(WebhookError):
    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(f"{host} does not resolve")


class WebhookNotFound(WebhookError):
    """No such subscription, or one of another agency (404, never 403)."""


class DeliveryNotFound(WebhookError):
    pass


class RedeliveryRefused(WebhookError):
    """A redelivery that makes no sense now (409): still pending, or the webhook disabled."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class NotWebhookManager(WebhookError):
    """The caller is neither an agency admin nor an agency's own system (403)."""


class Resolver(Protocol):
    """Turns a host name into the addresses it resolves to (DNS, or a test's answers)."""

    async def resolve(self, host: str) -> list[IPAddress]: ...


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    scheme: str
    host: str
    port: int


def validate_event_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    """The patterns once each, in order; raises :class:`InvalidWebhook` for a bad one."""
    if not patterns:
        raise InvalidWebhook("events", "Name at least one event type.")
    if len(patterns) > MAX_EVENT_PATTERNS:
        raise InvalidWebhook("events", f"At most {MAX_EVENT_PATTERNS} event types.")
    for pattern in patterns:
        if not _EVENT_PATTERN.match(pattern):
            raise InvalidWebhook(
                "events",
                f"{pattern[:80]!r} is neither an event type (mpp.<service>.<entity>.<verb>) "
                "nor a prefix ending in '*'.",
            )
    return tuple(dict.fromkeys(patterns))


def pattern_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def wants(patterns: Iterable[str], event_type: str) -> bool:
    return any(pattern_matches(p, event_type) for p in patterns)


def validate_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise InvalidWebhook("secret", f"The secret needs at least {MIN_SECRET_LENGTH} characters.")
    if len(secret) > MAX_SECRET_LENGTH:
        raise InvalidWebhook("secret", f"The secret has at most {MAX_SECRET_LENGTH} characters.")
    return secret


def parse_target(url: str) -> WebhookTarget:
    """An absolute http(s) URL without credentials or fragment."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhook("url", f"The URL has at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise InvalidWebhook("url", "The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhook("url", "The URL is not a valid absolute URL.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidWebhook("url", "Webhook URLs use http or https.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebhook("url", "The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhook("url", "Credentials do not belong in the URL; use the secret.")
    if parts.fragment:
        raise InvalidWebhook("url", "The URL may not have a fragment.")
    return WebhookTarget(
        url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80)
    )


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why webhooks may not reach ``address`` (None: a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address in IPv6 clothing is judged as the IPv4 address it reaches.
        embedded = address.ipv4_mapped or _sixtofour_or_nat64(address)
        if embedded is not None:
            return forbidden_reason(embedded)
    if address in _METADATA:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared (CGNAT)"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


def _sixtofour_or_nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def vet_addresses(host: str, addresses: Sequence[IPAddress], *, allow_private: bool) -> IPAddress:
    """The address to connect to; every answer must pass, so a mixed answer is refused too.

    Metadata endpoints stay refused when private addresses are allowed for local receivers.
    """
    if not addresses:
        raise UnresolvableHost(host)
    for address in addresses:
        reason = forbidden_reason(address)
        if reason == "cloud metadata" or (reason is not None and not allow_private):
            raise ForbiddenAddress(host, reason)
    return addresses[0]


async def resolve_and_vet(resolver: Resolver, host: str, *, allow_private: bool) -> IPAddress:
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await resolver.resolve(host)
    return vet_addresses(host, addresses, allow_private=allow_private)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (and the tests): recompute and compare in constant time."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: ``base·2^(n-1)`` after the n-th failure, capped,
    times a random factor in ``[1-jitter, 1+jitter]``; dead-lettered after ``max_attempts``.

    The defaults (30 s doubling to 6 h, 15 attempts) keep trying for about 31 hours, and at
    least 24 hours even when every jitter draw is the lowest.
    """

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)
    max_attempts: int = 15
    jitter: float = 0.2

    def nominal_delay(self, failed_attempts: int) -> timedelta:
        exponent = min(max(failed_attempts - 1, 0), 32)
        delay: timedelta = self.base * (1 << exponent)
        return min(self.cap, delay)

    def delay_after(self, failed_attempts: int, draw: float) -> timedelta | None:
        """When to try again after ``failed_attempts`` failures (None: dead-letter now).

        ``draw`` is a random number in [0, 1)."""
        if failed_attempts >= self.max_attempts:
            return None
        factor = 1 - self.jitter + 2 * self.jitter * draw
        return self.nominal_delay(failed_attempts) * factor

    def shortest_span(self) -> timedelta:
        """The least time between the first attempt and the dead letter."""
        return sum(
            (self.nominal_delay(n) * (1 - self.jitter) for n in range(1, self.max_attempts)),
            timedelta(),
        )


@dataclass(frozen=True, slots=True)
class DisablePolicy:
    """A subscription is disabled after ``failures`` failed attempts in a row that have gone
    on for at least ``span`` (one bad hour does not disable a receiver that works again)."""

    failures: int = 50
    span: timedelta = timedelta(hours=24)

    def should_disable(
        self, *, consecutive_failures: int, failing_since: datetime | None, now: datetime
    ) -> bool:
        if consecutive_failures < self.failures or failing_since is None:
            return False
        return now - failing_since >= self.span


@dataclass(frozen=True, slots=True)
class Subscription:
    id: uuid.UUID
    agency_id: uuid.UUID
    url: str
    events: tuple[str, ...]
    enabled: bool
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    consecutive_failures: int


DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_DEAD = "dead"


def managing_agency(principal: Principal) -> uuid.UUID:
    """The agency whose webhooks the caller manages: an agency admin's, or an agency system's
    (a client token carries its agency and no user role)."""
    if principal.agency_id is None:
        raise NotWebhookManager("Webhooks belong to an agency; this token names none.")
    if principal.has_role(Role.AGENCY_ADMIN):
        return principal.agency_id
    if not principal.roles and principal.client_id is not None:
        return principal.agency_id
    raise NotWebhookManager("Webhooks are managed by agency admins and agency systems.")


class SecretBox:
    """Encrypts the signing secrets at rest (Fernet: AES-128-CBC with an HMAC-SHA256 tag).

    The key is derived from the service's ``webhook_secret_key`` setting, so a copy of the
    database alone does not reveal the secrets."""

    def __init__(self, key: str) -> None:
        derived = hashlib.sha256(b"mpp-tracking-webhook-secrets:" + key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as exc:
            raise WebhookError("the secret was sealed with another key") from exc
