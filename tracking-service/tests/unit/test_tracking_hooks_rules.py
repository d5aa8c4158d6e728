"""Pure rules of webhooks, SKM and service-level reports."""

from __future__ import annotations

import ipaddress
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from mpp_shared.calendar import default_calendar
from tracking.domain.reports import LocalWorkingDays, percentile
from tracking.domain.surveys import ELEMENTS, ElementTotals, satisfaction
from tracking.domain.webhooks import (
    ForbiddenAddress,
    InvalidWebhook,
    RetryPolicy,
    signature,
    validate_event_patterns,
    verify_signature,
    vet_addresses,
    wants,
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "240.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(ForbiddenAddress):
        vet_addresses("h", [ipaddress.ip_address(address)], allow_private=False)


def test_public_address_passes_and_metadata_stays_refused_when_private_allowed() -> None:
    public = ipaddress.ip_address("93.184.216.34")
    assert vet_addresses("h", [public], allow_private=False) == public
    with pytest.raises(ForbiddenAddress):
        vet_addresses("h", [ipaddress.ip_address("169.254.169.254")], allow_private=True)
    with pytest.raises(ForbiddenAddress):  # one bad answer among good ones
        vet_addresses("h", [public, ipaddress.ip_address("10.0.0.1")], allow_private=False)


def test_event_patterns() -> None:
    assert wants(["mpp.application.*"], "mpp.application.application.submitted")
    assert not wants(
        ["mpp.application.application.completed"], "mpp.application.application.submitted"
    )
    with pytest.raises(InvalidWebhook):
        validate_event_patterns(["application.*"])
    with pytest.raises(InvalidWebhook):
        validate_event_patterns([])


def test_signature_verifies_with_the_secret_only() -> None:
    header = signature("s" * 20, 1700000000, b'{"a":1}')
    assert verify_signature("s" * 20, header, b'{"a":1}')
    assert not verify_signature("t" * 20, header, b'{"a":1}')


def test_backoff_spans_at_least_a_day_then_dead_letters() -> None:
    policy = RetryPolicy()
    assert policy.shortest_span() >= timedelta(hours=24)
    assert policy.delay_after(1, 0.5) == timedelta(seconds=30)
    assert policy.delay_after(2, 0.5) == timedelta(seconds=60)
    assert policy.delay_after(14, 0.0) == timedelta(hours=6) * 0.8
    assert policy.delay_after(15, 0.5) is None


def test_ikm_matches_a_hand_computed_example() -> None:
    # Two answers: all 4s, and all 3s except u9 = 1. Averages 3.5 (u1..u8), 2.5 (u9);
    # mean = (8 * 3.5 + 2.5) / 9 = 30.5 / 9 = 3.38889; x 25 = 84.72 -> grade B.
    sums = {e: 7 for e in ELEMENTS} | {"u9": 5}
    result = satisfaction(ElementTotals(responses=2, sums=sums))
    assert result.ikm == Decimal("84.72")
    assert result.grade == "B"
    assert result.elements["u9"] == Decimal("2.5000")


def test_percentiles_from_a_histogram_match_statistics() -> None:
    values = [1, 1, 2, 3, 3, 3, 5, 8, 13, 21]
    histogram = {v: values.count(v) for v in set(values)}
    assert percentile(histogram, 0.5) == statistics.median(values)
    assert percentile(histogram, 0.9) == pytest.approx(
        statistics.quantiles(values, n=10, method="inclusive")[8]
    )
    assert percentile({}, 0.5) is None


def test_processing_days_skip_weekends_and_national_holidays() -> None:
    days = LocalWorkingDays(default_calendar(), ZoneInfo("Asia/Jakarta"))
    friday = datetime(2026, 3, 6, 3, tzinfo=UTC)
    assert days.working_days_between(friday, friday + timedelta(days=3)) == 1
    assert days.working_days_between(friday, friday) == 0
    # Friday 14 August 2026 to Tuesday the 18th: Monday the 17th is Independence Day.
    before = datetime(2026, 8, 14, 3, tzinfo=UTC)
    assert days.working_days_between(before, before + timedelta(days=4)) == 1
