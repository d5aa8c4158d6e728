"""Building blocks of the demo services' application forms (JSON Schema draft 2020-12)."""

from __future__ import annotations

from typing import Any

SCHEMA = "https://json-schema.org/draft/2020-12/schema"

NIK = {"type": "string", "pattern": "^[0-9]{16}$", "title": "NIK"}
KK_NUMBER = {"type": "string", "pattern": "^[0-9]{16}$", "title": "Nomor Kartu Keluarga"}
PHONE = {"type": "string", "pattern": "^\\+?[0-9]{8,15}$", "title": "Nomor telepon"}
EMAIL = {"type": "string", "format": "email", "title": "Email"}
DATE = {"type": "string", "format": "date"}
GENDER = {"type": "string", "enum": ["L", "P"], "title": "Jenis kelamin"}
ADDRESS = {
    "type": "object",
    "title": "Alamat",
    "required": ["street", "village", "district"],
    "properties": {
        "street": {"type": "string", "maxLength": 200, "title": "Jalan"},
        "rt": {"type": "string", "pattern": "^[0-9]{1,3}$", "title": "RT"},
        "rw": {"type": "string", "pattern": "^[0-9]{1,3}$", "title": "RW"},
        "village": {"type": "string", "title": "Kelurahan/Desa"},
        "district": {"type": "string", "title": "Kecamatan"},
        "region_code": {"type": "string", "title": "Kode wilayah"},
    },
}

# The applicant's identity, prefilled from the citizen's profile (GET /api/v1/me).
APPLICANT: dict[str, Any] = {
    "nik": NIK,
    "full_name": {"type": "string", "minLength": 2, "maxLength": 100, "title": "Nama lengkap"},
    "birth_date": {**DATE, "title": "Tanggal lahir"},
    "gender": GENDER,
    "address": ADDRESS,
    "phone": PHONE,
}
APPLICANT_PREFILL: dict[str, str] = {
    "nik": "nik",
    "full_name": "full_name",
    "birth_date": "birth_date",
    "gender": "gender",
    "address.street": "address.street",
    "address.rt": "address.rt",
    "address.rw": "address.rw",
    "address.village": "address.village",
    "address.district": "address.district",
    "address.region_code": "address.region_code",
    "phone": "phone",
}
CONTACT: dict[str, Any] = {
    "nik": NIK,
    "full_name": APPLICANT["full_name"],
    "phone": PHONE,
    "email": EMAIL,
}
CONTACT_PREFILL = {"nik": "nik", "full_name": "full_name", "phone": "phone", "email": "email"}


def form(
    properties: dict[str, Any], required: list[str], *, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An object schema: the base fields (the applicant by default) plus the service's own."""
    all_properties = {**(APPLICANT if base is None else base), **properties}
    return {
        "$schema": SCHEMA,
        "type": "object",
        "required": required,
        "properties": all_properties,
        "additionalProperties": False,
    }


def choice(title: str, options: list[str]) -> dict[str, Any]:
    return {"type": "string", "title": title, "enum": options}


def text(title: str, max_length: int = 200) -> dict[str, Any]:
    return {"type": "string", "title": title, "maxLength": max_length}
