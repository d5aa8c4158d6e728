"""Rules about Kemendagri region codes: ancestry, time zones, and matching services to a region."""

from __future__ import annotations

from collections.abc import Iterable

from mpp_shared.contracts.catalog.v1 import TimeZoneName
from mpp_shared.reference.regions import level_of

# Provinces on WITA (UTC+8) and WIT (UTC+9); every other province is on WIB (UTC+7).
_WITA_PROVINCES = frozenset(
    {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
)
_WIT_PROVINCES = frozenset({"81", "82", "91", "92", "93", "94", "95", "96"})

# Search keys stored with every listed service (see region_keys_for_service).
NATIONWIDE_KEY = "nationwide"


def is_region_code(code: str) -> bool:
    return level_of(code) is not None


def ancestors_and_self(code: str) -> list[str]:
    """``64.09.01`` → ``["64", "64.09", "64.09.01"]``."""
    parts = code.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def timezone_of(region_code: str) -> TimeZoneName:
    province = region_code[:2]
    if province in _WIT_PROVINCES:
        return "Asia/Jayapura"
    if province in _WITA_PROVINCES:
        return "Asia/Makassar"
    return "Asia/Jakarta"


def region_keys_for_service(region_codes: Iterable[str]) -> list[str]:
    """The keys a service is found under by a region filter.

    ``at:<code>`` for each region the service is offered in, and ``in:<ancestor>`` for that
    region and each of its ancestors. No region means nationwide.
    """
    keys: set[str] = set()
    codes = list(region_codes)
    for code in codes:
        keys.add(f"at:{code}")
        keys.update(f"in:{ancestor}" for ancestor in ancestors_and_self(code))
    if not codes:
        keys.add(NATIONWIDE_KEY)
    return sorted(keys)


def region_keys_for_filter(region_code: str) -> list[str]:
    """Keys matching the services a citizen of ``region_code`` can use.

    Those offered in the region or anywhere below it (``in:<code>``), those offered in a
    region above it — a province-wide service for a regency filter — (``at:<ancestor>``), and
    the nationwide ones.
    """
    keys = [f"in:{region_code}"]
    keys.extend(f"at:{ancestor}" for ancestor in ancestors_and_self(region_code))
    keys.append(NATIONWIDE_KEY)
    return keys
