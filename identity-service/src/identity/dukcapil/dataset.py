"""Reads the extra residents of ``DUKCAPIL_MOCK_DATASET``: a CSV with API.md's header.

``nik,kk_number,full_name,birth_place,birth_date,gender,blood_type,religion,marital_status,
occupation,street,rt,rw,village,district,regency,province,region_code,photo``

Rules, checked row by row (a bad row stops the load with its line number, since a half-loaded
demo is worse than a start that says what is wrong):
- ``nik`` is a valid NIK whose birth date and gender agree with ``birth_date`` and ``gender``;
  no NIK appears twice; ``kk_number`` has 16 digits;
- ``region_code`` is a real village code; ``village``/``district``/``regency``/``province``,
  when empty, are filled in from it;
- ``rt``/``rw`` are numbers, zero-padded to three digits; an empty ``blood_type`` is ``-``;
- ``photo`` is a JPEG or PNG file relative to the CSV, read into the database (so that every
  replica sees it), or empty: such a resident has no registered photo, and face comparison
  answers "not matched" with score 0.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from identity.dukcapil import faces
from identity.dukcapil.nik import InvalidNik, parse_nik
from identity.dukcapil.registry import InvalidImage, Resident
from mpp_shared.reference.regions import Region, get_region, iter_regions, level_of

DATASET_COLUMNS = (
    "nik", "kk_number", "full_name", "birth_place", "birth_date", "gender", "blood_type",
    "religion", "marital_status", "occupation", "street", "rt", "rw", "village", "district",
    "regency", "province", "region_code", "photo",
)  # fmt: skip
MAX_PHOTO_BYTES = 5 * 1024 * 1024
_REQUIRED = ("full_name", "birth_place", "religion", "marital_status", "occupation", "street")


class DatasetError(ValueError):
    """The dataset cannot be loaded; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class DatasetResident:
    resident: Resident
    photo: bytes | None


def read_dataset(path: Path, *, today: date | None = None) -> list[DatasetResident]:
    """Read and check every row of the dataset at ``path``; raise ``DatasetError`` on the first
    bad one."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in DATASET_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing columns {', '.join(missing)}")
        villages = _villages_named(reader)
        handle.seek(0)
        reader = csv.DictReader(handle)
        residents: list[DatasetResident] = []
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            try:
                entry = _read_row(row, base=path.parent, today=today, villages=villages)
            except (ValueError, InvalidImage) as exc:
                raise DatasetError(f"{path}, line {line}: {exc}") from exc
            nik = entry.resident.nik
            if nik in seen:
                raise DatasetError(f"{path}, line {line}: NIK repeats line {seen[nik]}")
            seen[nik] = line
            residents.append(entry)
    return residents


def _villages_named(reader: csv.DictReader[str]) -> dict[str, Region]:
    """The villages the rows' ``region_code`` name, found in one pass over the village list.

    Only these are kept: an index of all some 80,000 villages (``get_region``'s) would stay in
    the service's memory for good, some 20 MiB, for a lookup made only while a dataset loads.
    A row the CSV reader cannot parse ends the pass; the reading of the rows then meets it.
    """
    codes = set()
    with contextlib.suppress(csv.Error):
        for row in reader:
            code = (row.get("region_code") or "").strip()
            if level_of(code) == "village":
                codes.add(code)
    if not codes:
        return {}
    return {region.code: region for region in iter_regions("village") if region.code in codes}


def _read_row(
    row: dict[str, str | None],
    *,
    base: Path,
    today: date | None,
    villages: Mapping[str, Region],
) -> DatasetResident:
    value = {column: (row.get(column) or "").strip() for column in DATASET_COLUMNS}
    try:
        parsed = parse_nik(value["nik"], today=today)
    except InvalidNik as exc:
        raise ValueError(f"nik: {exc.reason}") from None
    try:
        birth_date = date.fromisoformat(value["birth_date"])
    except ValueError:
        raise ValueError("birth_date: not a YYYY-MM-DD date") from None
    gender = value["gender"].upper()
    if gender not in ("L", "P"):
        raise ValueError("gender: L or P")
    if gender != parsed.gender:
        raise ValueError("gender: the NIK says otherwise (women have day + 40)")
    if (birth_date.day, birth_date.month, birth_date.year % 100) != (
        parsed.birth_date.day,
        parsed.birth_date.month,
        parsed.birth_date.year % 100,
    ):
        raise ValueError("birth_date: the NIK's DDMMYY says otherwise")
    kk = value["kk_number"]
    if len(kk) != 16 or not (kk.isascii() and kk.isdigit()):
        raise ValueError("kk_number: 16 digits")
    for column in _REQUIRED:
        if not value[column]:
            raise ValueError(f"{column}: empty")
    village = villages.get(value["region_code"])
    if village is None:
        raise ValueError("region_code: not a village (kelurahan/desa) code like 64.09.01.2001")
    district = get_region(value["region_code"][:8])
    regency = get_region(value["region_code"][:5])
    province = get_region(value["region_code"][:2])
    assert district is not None
    assert regency is not None
    assert province is not None
    resident = Resident(
        nik=parsed.nik,
        kk_number=kk,
        full_name=" ".join(value["full_name"].split()),
        birth_place=value["birth_place"],
        birth_date=birth_date,
        gender=parsed.gender,
        blood_type=value["blood_type"] or "-",
        religion=value["religion"],
        marital_status=value["marital_status"],
        occupation=value["occupation"],
        street=value["street"],
        rt=_three_digits(value["rt"], "rt"),
        rw=_three_digits(value["rw"], "rw"),
        village=value["village"] or village.name.upper(),
        district=value["district"] or district.name.upper(),
        regency=value["regency"] or regency.name.upper(),
        province=value["province"] or province.name.upper(),
        region_code=village.code,
    )
    return DatasetResident(resident=resident, photo=_read_photo(value["photo"], base=base))


def _three_digits(text: str, column: str) -> str:
    if not (text.isascii() and text.isdigit()) or len(text) > 3:
        raise ValueError(f"{column}: a number of at most three digits")
    return f"{int(text):03d}"


def _read_photo(relative: str, *, base: Path) -> bytes | None:
    if not relative:
        return None
    if Path(relative).is_absolute():
        raise ValueError("photo: a path relative to the CSV")
    path = base / relative
    try:
        size = path.stat().st_size
        if size > MAX_PHOTO_BYTES:
            raise ValueError(f"photo: {relative} is larger than {MAX_PHOTO_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"photo: {relative} cannot be read ({exc.strerror})") from None
    try:
        faces.fingerprint(data)
    except InvalidImage as exc:
        raise ValueError(f"photo: {relative}: {exc}") from None
    return data
