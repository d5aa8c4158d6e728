"""Throttling rules: how failures turn into waiting times and lockouts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """After ``slow_after`` failures within ``window`` every further attempt must wait
    base·2^(n-slow_after) seconds (at most ``max_delay``); ``lock_after`` failures lock the key
    for ``lock``."""

    window: timedelta
    slow_after: int
    lock_after: int
    base_delay: float
    max_delay: float
    lock: timedelta

    def blocked_until(self, *, failures: int, now: datetime) -> datetime | None:
        if failures >= self.lock_after:
            return now + self.lock
        if failures >= self.slow_after:
            delay = min(self.max_delay, self.base_delay * 2 ** (failures - self.slow_after))
            return now + timedelta(seconds=delay)
        return None

    def is_lockout(self, failures: int) -> bool:
        return failures >= self.lock_after


@dataclass(frozen=True, slots=True)
class DelayPolicy:
    """After ``slow_after`` failures within ``window`` every attempt must first wait
    base·2^(n-slow_after) seconds, never more than ``max_delay``; nothing is ever locked."""

    window: timedelta
    slow_after: int
    base_delay: float
    max_delay: float

    def delay(self, failures: int) -> timedelta | None:
        if failures < self.slow_after:
            return None
        exponent = min(failures - self.slow_after, 32)
        return timedelta(seconds=min(self.max_delay, self.base_delay * 2**exponent))


@dataclass(frozen=True, slots=True)
class AttemptPolicy:
    """At most ``limit`` attempts per ``window`` (every attempt counts, good or bad)."""

    window: timedelta
    limit: int


@dataclass(frozen=True, slots=True)
class Counter:
    count: int
    window_started_at: datetime
    blocked_until: datetime | None


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds for a Retry-After header, at least 1."""
    return max(1, math.ceil((moment - now).total_seconds()))
