"""The gateway's verified-token cache: one verification per token, never past its expiry."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.auth import EdgeAuthenticator, bearer_token
from mpp_shared.auth.internal import decode_principal_headers
from mpp_shared.auth.principal import Principal
from mpp_shared.auth.revocation import RevocationList, TokenRevoked
from mpp_shared.auth.verify import InvalidToken

SECRET = "c" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingVerifier:
    def __init__(self, exp: float) -> None:
        self.exp = exp
        self.calls = 0

    async def verify(self, token: str) -> Principal:
        self.calls += 1
        if token == "bad":
            raise InvalidToken("bad signature")
        return Principal.from_claims({"sub": token, "roles": ["citizen"], "exp": self.exp})

    def forget_cached(self) -> None:
        pass


def _authenticator(clock: Clock, exp: float) -> tuple[EdgeAuthenticator, CountingVerifier]:
    verifier = CountingVerifier(exp)
    edge = EdgeAuthenticator(verifier, SECRET, cache_seconds=300, clock=clock)  # type: ignore[arg-type]
    return edge, verifier


async def test_a_token_is_verified_once_while_it_is_valid() -> None:
    clock = Clock()
    edge, verifier = _authenticator(clock, exp=clock.now + 60)

    first = await edge.authenticate("token-a")
    clock.now += 59
    again = await edge.authenticate("token-a")
    clock.now += 2  # past exp: verified again (and the verifier says whether it still holds)
    await edge.authenticate("token-a")

    assert first is again
    assert verifier.calls == 2


async def test_a_rejected_token_is_not_cached() -> None:
    clock = Clock()
    edge, verifier = _authenticator(clock, exp=clock.now + 60)

    for _ in range(2):
        with pytest.raises(InvalidToken):
            await edge.authenticate("bad")

    assert verifier.calls == 2


async def test_the_internal_headers_carry_the_principal_and_a_fresh_timestamp() -> None:
    clock = Clock()
    edge, _ = _authenticator(clock, exp=clock.now + 600)
    caller = await edge.authenticate("citizen-7")

    headers: dict[str, Any] = {k.decode(): v.decode() for k, v in edge.headers(caller)}
    clock.now += 100
    later = {k.decode(): v.decode() for k, v in edge.headers(caller)}

    decoded = decode_principal_headers(headers, SECRET, max_age=30, now=clock.now - 100)
    assert decoded is not None
    assert decoded.subject == "citizen-7"
    assert decode_principal_headers(headers, SECRET, max_age=30, now=clock.now) is None
    assert decode_principal_headers(later, SECRET, max_age=30, now=clock.now) == decoded


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (b"Bearer abc.def.ghi", "abc.def.ghi"),
        (b"bearer  abc", "abc"),
        (b"Bearer ", ""),
        (b"Basic dXNlcjpwYXNz", None),
        (b"Bearer \xff\xfe", ""),
    ],
)
def test_bearer_tokens_are_read_from_the_authorization_header(
    header: bytes, token: str | None
) -> None:
    assert bearer_token(header) == token


async def test_a_cached_token_is_refused_once_its_session_is_revoked() -> None:
    clock = Clock()
    revocations = RevocationList(clock=clock)
    verifier = CountingVerifier(exp=clock.now + 600)
    edge = EdgeAuthenticator(verifier, SECRET, revocations=revocations, clock=clock)  # type: ignore[arg-type]
    await edge.authenticate("citizen-8")
    assert edge.cached("citizen-8") is not None

    revocations.add(kind="account", id="citizen-8", revoked_at=clock.now, until=clock.now + 900)

    with pytest.raises(TokenRevoked):
        edge.cached("citizen-8")
    with pytest.raises(TokenRevoked):
        await edge.authenticate("citizen-8")  # verified again, and refused again
    assert verifier.calls == 2


async def test_other_cached_tokens_survive_a_revocation() -> None:
    clock = Clock()
    revocations = RevocationList(clock=clock)
    edge = EdgeAuthenticator(
        CountingVerifier(exp=clock.now + 600),  # type: ignore[arg-type]
        SECRET,
        revocations=revocations,
        clock=clock,
    )
    caller = await edge.authenticate("citizen-9")

    revocations.add(kind="account", id="someone-else", revoked_at=clock.now, until=clock.now + 900)

    assert edge.cached("citizen-9") is caller
    assert caller.checked_revision == revocations.revision
