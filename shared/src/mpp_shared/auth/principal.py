"""Who is calling: the verified facts of an access token, with role and scope questions."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

# The scope of a staff token issued before TOTP enrolment: good for enrolling and nothing else.
MFA_ENROLL_SCOPE = "mfa:enroll"


class Role(StrEnum):
    CITIZEN = "citizen"
    OFFICER = "officer"
    AGENCY_ADMIN = "agency_admin"
    PLATFORM_ADMIN = "platform_admin"


STAFF_ROLES: frozenset[str] = frozenset({Role.OFFICER, Role.AGENCY_ADMIN, Role.PLATFORM_ADMIN})
ALL_ROLES: frozenset[str] = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller as a verified token describes it; services authorise objects against it."""

    subject: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    agency_id: uuid.UUID | None = None
    assurance_level: int = 0
    client_id: str | None = None
    # Excluded from repr and equality: claims may hold personal data and are not hashable.
    claims: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def has_role(self, *roles: str) -> bool:
        """True when the principal holds any of ``roles``."""
        return not self.roles.isdisjoint(roles)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_staff(self) -> bool:
        return not self.roles.isdisjoint(STAFF_ROLES)

    @property
    def is_citizen(self) -> bool:
        return Role.CITIZEN in self.roles

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """Build from verified claims; raises ValueError when a claim has the wrong shape."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ValueError("token has no subject")
        agency = claims.get("agency_id")
        try:
            agency_id = uuid.UUID(agency) if agency is not None else None
        except (TypeError, ValueError, AttributeError):
            raise ValueError("agency_id claim is not a UUID") from None
        level = claims.get("ial", 0)
        if not isinstance(level, int) or isinstance(level, bool) or level < 0:
            raise ValueError("ial claim is not a level")
        client_id = claims.get("client_id", claims.get("azp"))
        if client_id is not None and not isinstance(client_id, str):
            raise ValueError("client_id claim is not a string")
        return cls(
            subject=subject,
            roles=_names(claims.get("roles"), "roles"),
            scopes=_names(claims.get("scope"), "scope"),
            agency_id=agency_id,
            assurance_level=level,
            client_id=client_id,
            claims=MappingProxyType(dict(claims)),
        )

    @property
    def needs_mfa_enrolment(self) -> bool:
        """A token restricted to TOTP enrolment; every other endpoint refuses it."""
        return MFA_ENROLL_SCOPE in self.scopes


def _names(value: Any, claim: str) -> frozenset[str]:
    """A claim holding names: a space-separated string (OAuth ``scope``) or a list of strings."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise ValueError(f"{claim} claim is not a list of names")
