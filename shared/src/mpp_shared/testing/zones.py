"""A time zone of Indonesia where the local day has room for a test that books the current slot."""

from __future__ import annotations

from datetime import UTC, datetime

from mpp_shared.calendar import WIB, WIT, WITA


def zone_away_from_midnight(now: datetime | None = None) -> str:
    """The name of a zone (WIB, WITA or WIT) where the local hour of ``now`` is 01:00 to 22:59.

    In a location open 00:00 to 23:59 a slot of up to an hour holds every such instant, and
    the local day does not turn over while the test runs. The zones are one hour apart, so at
    any instant at most two of them (the 23 and the 00 hour) are excluded.
    """
    now = now or datetime.now(UTC)
    for zone in (WIB, WITA, WIT):
        if 1 <= now.astimezone(zone).hour < 23:
            return zone.key
    raise AssertionError("unreachable: three consecutive hours cannot all be 23 or 00")
