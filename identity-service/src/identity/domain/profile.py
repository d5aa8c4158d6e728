"""The profile fields of ``GET /api/v1/me``, by name, for prefill and userinfo."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from identity.domain.models import Account, Address, CitizenProfile

ADDRESS_PARTS: tuple[str, ...] = (
    "street",
    "rt",
    "rw",
    "village",
    "district",
    "regency",
    "province",
    "region_code",
)
# Fields the registry vouches for; nobody edits them through the API.
REGISTRY_FIELDS: frozenset[str] = frozenset(
    {
        "nik",
        "full_name",
        "birth_place",
        "birth_date",
        "gender",
        "religion",
        "marital_status",
        "occupation",
        "address",
        *(f"address.{part}" for part in ADDRESS_PARTS),
    }
)
CONTACT_FIELDS: frozenset[str] = frozenset({"email", "phone"})
PROFILE_FIELDS: frozenset[str] = REGISTRY_FIELDS | CONTACT_FIELDS


def profile_values(account: Account) -> dict[str, Any]:
    """Every profile field of a citizen by name (``address`` and ``address.<part>`` both)."""
    values: dict[str, Any] = {"email": account.email, "phone": account.phone}
    if account.profile is not None:
        values.update(registry_values(account.profile))
    return values


def registry_values(profile: CitizenProfile) -> dict[str, Any]:
    """The registry's fields of a profile by name (``address`` and ``address.<part>`` both)."""
    values: dict[str, Any] = {}
    address = {part: getattr(profile.address, part) for part in ADDRESS_PARTS}
    values.update(
        nik=profile.nik,
        full_name=profile.full_name,
        birth_place=profile.birth_place,
        birth_date=profile.birth_date.isoformat(),
        gender=profile.gender,
        religion=profile.religion,
        marital_status=profile.marital_status,
        occupation=profile.occupation,
        address=address,
    )
    values.update({f"address.{part}": value for part, value in address.items()})
    return values


def unknown_fields(fields: list[str] | tuple[str, ...]) -> list[str]:
    return [name for name in fields if name not in PROFILE_FIELDS]


def select_fields(account: Account, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Only the fields asked for; a field the account has no value for is None."""
    values = profile_values(account)
    return {name: values.get(name) for name in fields}


class RegistryRecord(Protocol):
    """What a registry record holds, flat: a Dukcapil resident or a stored profile row."""

    @property
    def nik(self) -> str: ...
    @property
    def full_name(self) -> str: ...
    @property
    def birth_place(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def gender(self) -> str: ...
    @property
    def religion(self) -> str: ...
    @property
    def marital_status(self) -> str: ...
    @property
    def occupation(self) -> str: ...
    @property
    def street(self) -> str: ...
    @property
    def rt(self) -> str: ...
    @property
    def rw(self) -> str: ...
    @property
    def village(self) -> str: ...
    @property
    def district(self) -> str: ...
    @property
    def regency(self) -> str: ...
    @property
    def province(self) -> str: ...
    @property
    def region_code(self) -> str: ...


def citizen_profile(record: RegistryRecord) -> CitizenProfile:
    """The profile of a registry record (the registry's copy taken at registration)."""
    return CitizenProfile(
        nik=record.nik,
        full_name=record.full_name,
        birth_place=record.birth_place,
        birth_date=record.birth_date,
        gender=record.gender,
        religion=record.religion,
        marital_status=record.marital_status,
        occupation=record.occupation,
        address=Address(**{part: getattr(record, part) for part in ADDRESS_PARTS}),
    )
