"""Which services a region filter finds, and the local time zone of a region."""

from __future__ import annotations

import pytest

from catalog.domain.regions import (
    ancestors_and_self,
    region_keys_for_filter,
    region_keys_for_service,
    timezone_of,
)


def _found(service_regions: list[str], filter_region: str) -> bool:
    return bool(
        set(region_keys_for_service(service_regions)) & set(region_keys_for_filter(filter_region))
    )


def test_ancestors_of_a_village() -> None:
    assert ancestors_and_self("64.72.01.1001") == ["64", "64.72", "64.72.01", "64.72.01.1001"]


@pytest.mark.parametrize(
    ("service_regions", "filter_region", "found"),
    [
        (["64.72"], "64.72", True),  # offered in the regency itself
        (["64"], "64.72", True),  # province-wide service, regency filter
        ([], "64.72", True),  # nationwide
        (["64.72"], "64", True),  # a province filter finds what is offered below it
        (["64.72"], "64.72.01", True),  # a district filter finds its regency's services
        (["64.72.01"], "64.72", True),  # a regency filter finds a district's service
        (["64.09"], "64.72", False),  # a neighbouring regency
        (["64.72.01"], "64.72.02", False),  # a neighbouring district
        (["11.74", "64.72"], "64.72", True),
    ],
)
def test_region_filter(service_regions: list[str], filter_region: str, found: bool) -> None:
    assert _found(service_regions, filter_region) is found


@pytest.mark.parametrize(
    ("region", "zone"),
    [
        ("11.74", "Asia/Jakarta"),  # Aceh: WIB
        ("35.74", "Asia/Jakarta"),
        ("64.72", "Asia/Makassar"),  # Kalimantan Timur: WITA
        ("51.71", "Asia/Makassar"),  # Bali
        ("91.71", "Asia/Jayapura"),  # Papua: WIT
    ],
)
def test_time_zone_follows_the_province(region: str, zone: str) -> None:
    assert timezone_of(region) == zone
