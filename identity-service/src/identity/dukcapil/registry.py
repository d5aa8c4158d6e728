"""The population registry (Dukcapil) as the identity service sees it: records, answers, errors.

A real adapter to Dukcapil's web services would implement ``PopulationRegistry`` as the mock
(``identity.dukcapil.mock.MockDukcapil``) does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Literal, Protocol

Gender = Literal["L", "P"]
FieldCheck = Literal["Sesuai", "Tidak Sesuai"]

SESUAI: FieldCheck = "Sesuai"
TIDAK_SESUAI: FieldCheck = "Tidak Sesuai"


@dataclass(frozen=True, slots=True)
class Resident:
    """One person's record, as the registry holds it (text in capitals, as on the KTP)."""

    nik: str
    kk_number: str
    full_name: str
    birth_place: str
    birth_date: date
    gender: Gender
    blood_type: str  # "A", "B", "AB", "O" or "-" (unknown)
    religion: str
    marital_status: str  # "BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"
    occupation: str
    street: str
    rt: str  # three digits, "001"
    rw: str
    village: str
    district: str
    regency: str
    province: str
    region_code: str  # the village's dotted Kemendagri code


# The names ``verify`` accepts: every field of the record.
RESIDENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Resident))


@dataclass(frozen=True, slots=True)
class FaceComparison:
    score: float  # in [0, 1]; 1 is the same picture
    matched: bool


class PopulationRegistry(Protocol):
    """What the identity service asks the registry. Every call counts against ``caller``'s
    daily quota and raises ``RegistryQuotaExceeded`` once it is spent."""

    async def lookup(self, nik: str, *, caller: str) -> Resident | None:
        """The record of ``nik``; ``None`` when there is none (or the NIK is malformed)."""
        ...

    async def verify(
        self, nik: str, fields: Mapping[str, str], *, caller: str
    ) -> dict[str, FieldCheck]:
        """``Sesuai`` / ``Tidak Sesuai`` per field; an unknown NIK answers ``Tidak Sesuai``
        everywhere, so that the answer never tells whether a NIK exists."""
        ...

    async def compare_face(self, nik: str, selfie: bytes, *, caller: str) -> FaceComparison:
        """Compare a JPEG/PNG selfie with the registered photo."""
        ...


class RegistryError(Exception):
    """The registry did not answer the question."""


class RegistryQuotaExceeded(RegistryError):
    """The caller has spent its daily quota; it is renewed at midnight Asia/Jakarta."""

    def __init__(
        self,
        message: str | None = None,
        *,
        caller: str | None = None,
        limit: int | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        self.caller = caller
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message or f"daily registry quota of {limit} spent by {caller!r}")


class InvalidImage(RegistryError):
    """The selfie is not a JPEG or PNG image that can be decoded."""


class ImageTooLarge(RegistryError):
    """The selfie is larger than the registry accepts."""

    def __init__(
        self, message: str | None = None, *, size: int | None = None, limit: int | None = None
    ) -> None:
        self.size = size
        self.limit = limit
        super().__init__(message or f"image of {size} bytes exceeds the limit of {limit} bytes")


class ResidentNotFound(RegistryError):
    """No resident has this NIK (raised only where the caller may know it, not by ``verify``)."""


class UnknownRegistryField(RegistryError, ValueError):
    """``verify`` was asked about a field the registry does not have (a programming error)."""
