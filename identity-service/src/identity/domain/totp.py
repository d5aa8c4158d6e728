"""TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s; this step and the previous one)."""

from __future__ import annotations

import hmac
import time

import pyotp

ISSUER_NAME = "MPP Digital"
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER_NAME)


def matching_step(secret: str, otp: str, *, now: float | None = None) -> int | None:
    """The time step whose code ``otp`` is (the current one or the one before), or None.

    The caller accepts a step only once, which is what makes each code single-use.
    """
    code = otp.strip()
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current, current - 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None
