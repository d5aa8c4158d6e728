"""Public tracking by registration number and tracking code: the check and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mpp_shared.contracts.application.v1 import tracking_code_hash


def given_code_hash(*, registration_number: str, code: str | None) -> str | None:
    """The hash the stored one is compared with (in the database, hash against hash, so how
    much of it matched says nothing of the code); None for a missing or empty code, which
    matches nothing."""
    if not code:
        return None
    return tracking_code_hash(registration_number, code)


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
