"""The identity service's domain errors; ``api.errors`` turns each into problem+json."""

from __future__ import annotations

from collections.abc import Sequence


class IdentityError(Exception):
    """Base of the errors the domain raises on purpose."""

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(detail or type(self).__name__)


class InvalidCredentials(IdentityError):
    """Unknown username or wrong password: one answer for both."""


class MfaRequired(IdentityError):
    """The password was right; a staff login needs its TOTP code too."""


class InvalidOtp(IdentityError):
    """The TOTP code is wrong, too old or already used."""


class AccountDisabled(IdentityError):
    pass


class Throttled(IdentityError):
    """Too many failures: wait ``retry_after`` seconds; ``locked`` when the lockout kicked in."""

    def __init__(self, *, retry_after: int, locked: bool) -> None:
        self.retry_after = retry_after
        self.locked = locked
        super().__init__("locked" if locked else "slow down")


class RateLimited(IdentityError):
    """Too many attempts of something that is limited per window (registration, selfies)."""

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__("rate limited")


class RegistryMismatch(IdentityError):
    """The registry does not confirm the NIK, name and birth date (never says which)."""


class RegistryUnavailable(IdentityError):
    pass


class AlreadyRegistered(IdentityError):
    pass


class EmailInUse(IdentityError):
    pass


class UnknownAgency(IdentityError):
    pass


class NotAllowed(IdentityError):
    """The caller's role does not allow this (403)."""


class NotFound(IdentityError):
    """The object does not exist, or is not the caller's (404)."""


class MfaAlreadyEnabled(IdentityError):
    pass


class MfaNotStarted(IdentityError):
    pass


class InvalidInput(IdentityError):
    """A request that passed schema validation but breaks a rule; ``loc`` points at the field."""

    def __init__(self, detail: str, *, loc: Sequence[str | int]) -> None:
        self.loc = list(loc)
        super().__init__(detail)


class OAuthError(IdentityError):
    """An RFC 6749 error: ``error`` is its code (``invalid_grant``, ``invalid_client`` …)."""

    def __init__(self, error: str, detail: str, *, status: int = 400) -> None:
        self.error = error
        self.status = status
        super().__init__(detail)


class RefreshTokenReused(OAuthError):
    """A rotated refresh token came back: its family is revoked (and that must be committed)."""

    def __init__(self) -> None:
        super().__init__("invalid_grant", "The refresh token was already used; session revoked.")


class AuthorizationCodeReused(OAuthError):
    """A code came back a second time: the tokens it gave are revoked (commit that)."""

    def __init__(self) -> None:
        super().__init__("invalid_grant", "The authorization code was already used.")


class UnknownResident(NotFound):
    """The registry has no resident with this NIK (asked by staff at a counter)."""


class NoCitizenAccount(NotFound):
    """The resident has no citizen account yet (they register, then the officer checks again)."""


class CitizenAccountUnusable(NoCitizenAccount):
    """The account with the resident's NIK is disabled or no citizen's: registering again
    would not help."""
