"""Kemendagri region codes (province → regency/city → district → village).

The data is the ``idn-area-data`` package's, vendored gzipped under ``data/`` by
``scripts/update-region-data.sh``; codes are dotted: ``64``, ``64.09``, ``64.09.01``,
``64.09.01.2001``.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

RegionLevel = Literal["province", "regency", "district", "village"]
LEVELS: tuple[RegionLevel, ...] = ("province", "regency", "district", "village")
_FILES: dict[RegionLevel, tuple[str, str | None]] = {
    "province": ("provinces.csv.gz", None),
    "regency": ("regencies.csv.gz", "province_code"),
    "district": ("districts.csv.gz", "regency_code"),
    "village": ("villages.csv.gz", "district_code"),
}


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    level: RegionLevel
    parent_code: str | None


def level_of(code: str) -> RegionLevel | None:
    """The level a well-formed code belongs to, from its shape alone."""
    parts = code.split(".")
    shapes = ((2,), (2, 2), (2, 2, 2), (2, 2, 2, 4))
    for level, shape in zip(LEVELS, shapes, strict=True):
        if len(parts) == len(shape) and all(
            len(p) == n and p.isdigit() for p, n in zip(parts, shape, strict=True)
        ):
            return level
    return None


def iter_regions(level: RegionLevel) -> Iterator[Region]:
    filename, parent_column = _FILES[level]
    raw = resources.files("mpp_shared.reference").joinpath("data", filename).read_bytes()
    with io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw)), encoding="utf-8") as text:
        for row in csv.DictReader(text):
            yield Region(
                code=row["code"],
                name=row["name"],
                level=level,
                parent_code=row[parent_column] if parent_column else None,
            )


@cache
def _index(level: RegionLevel) -> dict[str, Region]:
    return {region.code: region for region in iter_regions(level)}


def get_region(code: str) -> Region | None:
    level = level_of(code)
    if level is None:
        return None
    return _index(level).get(code)


def district_for_nik_prefix(prefix: str) -> Region | None:
    """The district a NIK's first six digits name (``640901`` → ``64.09.01``), if it exists."""
    if len(prefix) != 6 or not prefix.isdigit():
        return None
    return get_region(f"{prefix[:2]}.{prefix[2:4]}.{prefix[4:6]}")
