"""Registration numbers read out at a counter and the tracking codes given to the owner."""

from __future__ import annotations

import secrets

# Crockford's base32: no I, L, O or U, so nothing is misread or misheard.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_CODE_LENGTH = 10  # 50 bits


def registration_number(*, region_code: str, year: int, serial: int) -> str:
    """``64.09-2026-000123``: the agency's region, the year, a per-(region, year) serial."""
    return f"{region_code}-{year:04d}-{serial:06d}"


def new_tracking_code() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(TRACKING_CODE_LENGTH))
