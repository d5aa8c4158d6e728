"""Public tracking by registration number and tracking code: the check and its limits."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from mpp_shared.contracts.application.v1 import tracking_code_hash

# Compared when the number is unknown, so that an unknown number costs the same as a wrong code.
_NO_APPLICATION_HASH = "0" * 64


def code_matches(*, registration_number: str, code: str | None, stored_hash: str | None) -> bool:
    """Whether ``code`` is the tracking code of the application; constant time."""
    given = tracking_code_hash(registration_number, code or "")
    expected = stored_hash if stored_hash is not None else _NO_APPLICATION_HASH
    matched = hmac.compare_digest(given.encode(), expected.encode())
    return matched and stored_hash is not None and bool(code)


@dataclass(frozen=True, slots=True)
class FailureLimit:
    """At most ``max_failures`` wrong codes per registration number in ``window``."""

    max_failures: int
    window: timedelta

    def window_start(self, now: datetime) -> datetime:
        return now - self.window

    def retry_after(self, *, oldest_failure: datetime, now: datetime) -> int:
        """Seconds until the oldest failure in the window leaves it (at least 1)."""
        return max(1, int((oldest_failure + self.window - now).total_seconds()) + 1)
