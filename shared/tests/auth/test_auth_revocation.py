"""RevocationList: which tokens a revocation refuses, and for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mpp_shared.auth.revocation import RevocationList, TokenRevoked
from mpp_shared.contracts.identity.v1 import AccessRevoked

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "account-1",
        "sid": "session-1",
        "client_id": "mpp-app",
        "jti": "token-1",
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 840,
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("kind", "id"),
    [
        ("session", "session-1"),
        ("account", "account-1"),
        ("client", "mpp-app"),
        ("token", "token-1"),
    ],
)
def test_each_kind_refuses_the_tokens_whose_claim_matches(kind: Any, id: str) -> None:
    revocations = RevocationList(clock=Clock())

    assert revocations.add(kind=kind, id=id, revoked_at=NOW, until=NOW + 900)

    assert revocations.refuses(claims())
    assert not revocations.refuses(
        claims(sub="account-2", sid="session-2", client_id="other", jti="token-2")
    )


def test_a_token_issued_after_the_revocation_is_accepted() -> None:
    revocations = RevocationList(clock=Clock())
    revocations.add(kind="account", id="account-1", revoked_at=NOW, until=NOW + 900)

    assert revocations.refuses(claims(iat=int(NOW)))  # at revoked_at: refused
    assert not revocations.refuses(claims(iat=int(NOW) + 1))  # signed in again afterwards


def test_a_token_without_a_usable_iat_is_refused_when_an_entry_matches() -> None:
    revocations = RevocationList(clock=Clock())
    revocations.add(kind="session", id="session-1", revoked_at=NOW, until=NOW + 900)

    assert revocations.refuses({k: v for k, v in claims().items() if k != "iat"})
    assert revocations.refuses(claims(iat="yesterday"))


def test_an_entry_is_dropped_after_until_plus_the_leeway() -> None:
    clock = Clock()
    revocations = RevocationList(leeway_seconds=30, clock=clock)
    revocations.add(kind="session", id="session-1", revoked_at=NOW, until=NOW + 900)

    clock.now = NOW + 929
    assert revocations.refuses(claims())
    clock.now = NOW + 930
    assert not revocations.refuses(claims())
    assert len(revocations) == 0


def test_purge_drops_only_entries_that_are_over() -> None:
    clock = Clock()
    revocations = RevocationList(leeway_seconds=0, clock=clock)
    revocations.add(kind="session", id="short", revoked_at=NOW, until=NOW + 10)
    revocations.add(kind="session", id="long", revoked_at=NOW, until=NOW + 900)

    clock.now = NOW + 11
    assert revocations.purge() == 1
    assert len(revocations) == 1
    assert revocations.refuses(claims(sid="long"))


def test_a_revocation_that_is_already_over_is_not_recorded() -> None:
    revocations = RevocationList(leeway_seconds=30, clock=Clock())

    assert not revocations.add(kind="token", id="t", revoked_at=NOW - 1000, until=NOW - 31)
    assert len(revocations) == 0
    assert revocations.revision == 0


def test_a_second_revocation_of_the_same_session_widens_the_entry() -> None:
    revocations = RevocationList(clock=Clock())
    revocations.add(kind="session", id="session-1", revoked_at=NOW - 100, until=NOW + 800)
    revocations.add(kind="session", id="session-1", revoked_at=NOW, until=NOW + 900)

    assert revocations.refuses(claims(iat=int(NOW) - 50))
    assert revocations.revision == 2
    assert len(revocations) == 1


def test_the_event_s_datetimes_are_read_as_utc_instants() -> None:
    revoked_at = datetime.fromtimestamp(NOW, UTC)
    event = AccessRevoked(
        kind="session",
        id="session-1",
        reason="logout",
        revoked_at=revoked_at,
        until=revoked_at + timedelta(minutes=15),
    )
    revocations = RevocationList(clock=Clock())

    assert revocations.add_event(event)

    assert revocations.refuses(claims(iat=int(NOW)))
    assert not revocations.refuses(claims(iat=int(NOW) + 1))


def test_token_revoked_is_a_401_with_its_own_code() -> None:
    problem = TokenRevoked()

    assert problem.status == 401
    assert problem.code == "token_revoked"
    assert problem.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
