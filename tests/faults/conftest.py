"""One stack for the fault and replica tests: two replicas of everything, short timeouts.

Started once for the package (a start costs a minute or two on a busy machine); each test
registers its own webhook and makes its own applications, so the tests do not depend on
each other's order.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mpp_shared.devstack import DevStack
from mpp_shared.testing.platform import PublicApi
from mpp_shared.testing.stack import free_stack_env, running_devstack

# Penajam Paser Utara's Dinas Dukcapil and its KTP-el service (catalog-service/DEMO_IDS.md):
# one mandatory document (the family card), the applicant prefilled from the profile.
DUKCAPIL_PPU = "b26d3102-d5ad-557c-84a2-c28f39d6a47a"
KTP_EL = "4ac8479b-c2f0-57d2-85c2-bc59306eb8ec"
KTP_EL_FORM = {"reason": "baru", "kk_number": "6409011203850099"}
KTP_EL_DOCUMENT = "kk"

CITIZEN = ("warga1@mpp.local", "Warga#Dev2026")
ADMIN = ("admin@mpp.local", "Admin#Dev2026")

# Short timers, so that retries and sweeps happen within a test's patience.
FAST = {
    "MPP_WEBHOOK_ALLOW_PRIVATE": "1",
    "MPP_TRACKING_WEBHOOK_POLL_SECONDS": "0.5",
    "MPP_TRACKING_WEBHOOK_TIMEOUT_SECONDS": "2",
    "MPP_TRACKING_WEBHOOK_LEASE_SECONDS": "6",
    "MPP_TRACKING_WEBHOOK_BACKOFF_BASE_SECONDS": "1",
    "MPP_TRACKING_WEBHOOK_BACKOFF_CAP_SECONDS": "4",
    "MPP_APPLICATION_OVERDUE_SWEEP_SECONDS": "1",
    "MPP_GATEWAY_METRICS_PORT": "0",
    "MPP_GATEWAY_UPSTREAM_RETRY_AFTER_SECONDS": "0.5",
    "MPP_DEV_READY_TIMEOUT": "300",
    # One citizen submits as fast as the machine allows: the per-account limit of everyday
    # routes would answer 429 on a quiet machine. Login and registration keep theirs (the
    # rate-limit test counts registrations across the gateways).
    "MPP_GATEWAY_RATE_LIMITS": json.dumps(
        {
            "default": {"per_ip": 1_000_000, "per_account": 1_000_000},
            "tracking": {"per_ip": 1_000_000},
            "token": {"per_ip": 120},
            "login": {"per_ip": 20},
            "registration": {"per_ip": 10},
        }
    ),
}


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack_env = free_stack_env(replicas=2, **FAST)
    with running_devstack(tmp_path_factory.mktemp("replicas"), stack_env) as running:
        yield running


@dataclass
class Platform:
    """The stack seen from outside, with the people and systems the tests need."""

    stack: DevStack
    api: PublicApi
    citizen: str  # a citizen's access token
    agency_system: str  # the Dukcapil agency system's token (client credentials)

    def sql(self, database: str, query: str) -> str:
        return self.stack.postgres.psql(query, database=database)

    def stream_messages(self) -> int:
        """Messages stored in the events stream (NATS monitoring)."""
        url = f"http://127.0.0.1:{self.stack.nats.monitor_port}/jsz?accounts=true&streams=true"
        with urllib.request.urlopen(url, timeout=5) as response:
            report: dict[str, Any] = json.load(response)
        for account in report.get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"] == "MPP":
                    return int(stream["state"]["messages"])
        raise AssertionError("no MPP stream")

    def outbox_rows(self) -> tuple[int, int]:
        """Events recorded by every service, and how many of them are still unpublished."""
        recorded = unpublished = 0
        for database in ("mpp_identity", "mpp_catalog", "mpp_application", "mpp_tracking"):
            line = self.sql(
                database,
                "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM event_outbox",
            )
            total, pending = (int(part) for part in line.split("|"))
            recorded += total
            unpublished += pending
        return recorded, unpublished


@pytest.fixture(scope="package")
async def platform(stack: DevStack) -> AsyncIterator[Platform]:
    api = PublicApi(stack.gateway_url)
    try:
        citizen = await api.login(*CITIZEN)
        admin = await api.staff_login(*ADMIN)
        client_id, secret = await api.agency_system(
            admin, agency_id=DUKCAPIL_PPU, scopes=["applications:read"]
        )
        system = await api.client_token(client_id, secret)
        yield Platform(stack=stack, api=api, citizen=citizen, agency_system=system)
    finally:
        await api.close()
