"""Claim release: which OpenID Connect scopes release which userinfo claims of an account."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from identity.domain.models import Account


@dataclass(frozen=True, slots=True)
class ReleasedClaims:
    """The userinfo claims, and the profile fields (``GET /me`` names) they read from the
    registry's data, for the citizen's access log."""

    claims: dict[str, Any]
    registry_fields: list[str]


def userinfo_claims(account: Account, scopes: Set[str]) -> ReleasedClaims:
    """``sub``, roles and assurance level always; ``profile``, ``email``, ``phone`` and
    ``address`` release the claims of their name (OIDC Core §5.4)."""
    claims: dict[str, Any] = {
        "sub": str(account.id),
        "roles": account.roles,
        "ial": account.assurance_level,
    }
    if account.agency_id is not None:
        claims["agency_id"] = str(account.agency_id)
    read: list[str] = []
    profile = account.profile
    if "profile" in scopes:
        claims["name"] = account.full_name
        read.append("full_name")
        if profile is not None:
            claims["birthdate"] = profile.birth_date.isoformat()
            claims["gender"] = "female" if profile.gender == "P" else "male"
            read += ["birth_date", "gender"]
    if "email" in scopes:
        claims["email"] = account.email
        claims["email_verified"] = False
    if "phone" in scopes and account.phone:
        claims["phone_number"] = account.phone
        claims["phone_number_verified"] = False
    if "address" in scopes and profile is not None:
        address = profile.address
        claims["address"] = {
            "street_address": f"{address.street} RT {address.rt}/RW {address.rw}",
            "locality": f"{address.village}, {address.district}",
            "region": f"{address.regency}, {address.province}",
            "country": "ID",
            "region_code": address.region_code,
        }
        read.append("address")
    return ReleasedClaims(claims=claims, registry_fields=read)
