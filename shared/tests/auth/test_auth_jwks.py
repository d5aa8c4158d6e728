"""JwksClient: caching, refresh on kid rotation, refresh rate limit, coalescing, failures."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from mpp_shared.auth import JwksClient, KeySetUnavailable, UnknownKey, parse_jwks

JWKS_URL = "http://identity.test/oauth2/jwks"


def client_for(server: Any, clock: Any, **options: Any) -> JwksClient:
    return JwksClient(JWKS_URL, http=server.client(), clock=clock, **options)


async def test_keys_are_fetched_once_and_served_from_the_cache(jwks_server, clock, rsa_key, ec_key):
    jwks = client_for(jwks_server, clock)

    first = await jwks.get_key(rsa_key.kid)
    clock.advance(299)
    again = await jwks.get_key(rsa_key.kid)
    other = await jwks.get_key(ec_key.kid)

    assert first["kty"] == "RSA"
    assert first["n"] == rsa_key.public_jwk["n"]
    assert again == first
    assert other["crv"] == "P-256"
    assert jwks_server.fetches == 1


async def test_an_expired_cache_is_fetched_again(jwks_server, clock, rsa_key):
    jwks = client_for(jwks_server, clock, cache_seconds=300)
    await jwks.get_key(rsa_key.kid)

    clock.advance(301)
    await jwks.get_key(rsa_key.kid)

    assert jwks_server.fetches == 2


async def test_an_unknown_kid_refreshes_the_set_to_find_a_rotated_key(
    jwks_server, clock, rsa_key, rsa_key_next
):
    jwks = client_for(jwks_server, clock)
    await jwks.get_key(rsa_key.kid)
    jwks_server.keys = [rsa_key.public_jwk, rsa_key_next.public_jwk]
    clock.advance(11)

    key = await jwks.get_key(rsa_key_next.kid)

    assert key["n"] == rsa_key_next.public_jwk["n"]
    assert jwks_server.fetches == 2


async def test_unknown_kids_refresh_at_most_once_per_interval(jwks_server, clock, rsa_key):
    jwks = client_for(jwks_server, clock, min_refresh_interval=10)
    await jwks.get_key(rsa_key.kid)  # fetch 1
    clock.advance(10)

    for _ in range(20):
        with pytest.raises(UnknownKey):
            await jwks.get_key(str(uuid.uuid4()))  # only the first may fetch
        clock.advance(0.1)
    assert jwks_server.fetches == 2

    clock.advance(10)
    with pytest.raises(UnknownKey):
        await jwks.get_key("still-unknown")
    assert jwks_server.fetches == 3


async def test_a_flood_of_random_kids_makes_one_fetch(jwks_server, clock, rsa_key):
    jwks = client_for(jwks_server, clock)
    await jwks.get_key(rsa_key.kid)
    clock.advance(60)
    jwks_server.delay = 0.02

    results = await asyncio.gather(
        *(jwks.get_key(str(uuid.uuid4())) for _ in range(50)), return_exceptions=True
    )

    assert all(isinstance(result, UnknownKey) for result in results)
    assert jwks_server.fetches == 2


async def test_concurrent_first_lookups_share_one_fetch(jwks_server, clock, rsa_key):
    jwks = client_for(jwks_server, clock)
    jwks_server.delay = 0.02

    keys = await asyncio.gather(*(jwks.get_key(rsa_key.kid) for _ in range(20)))

    assert {key["n"] for key in keys} == {rsa_key.public_jwk["n"]}
    assert jwks_server.fetches == 1


async def test_a_failed_refresh_keeps_the_cached_keys(jwks_server, clock, rsa_key):
    jwks = client_for(jwks_server, clock)
    await jwks.get_key(rsa_key.kid)
    jwks_server.fail = True
    clock.advance(301)

    key = await jwks.get_key(rsa_key.kid)

    assert key["n"] == rsa_key.public_jwk["n"]
    assert jwks_server.fetches == 2


async def test_a_garbage_answer_keeps_the_cached_keys(jwks_server, clock, rsa_key):
    jwks = client_for(jwks_server, clock)
    await jwks.get_key(rsa_key.kid)
    jwks_server.body = "<html>maintenance</html>"
    clock.advance(301)

    key = await jwks.get_key(rsa_key.kid)

    assert key["n"] == rsa_key.public_jwk["n"]
    assert jwks_server.fetches == 2


async def test_without_any_key_a_failed_fetch_is_retried_after_a_short_backoff(
    jwks_server, clock, rsa_key
):
    jwks_server.fail = True
    # Binary fractions, so the fake clock's sums are exact.
    jwks = client_for(jwks_server, clock, min_refresh_interval=10, retry_initial=0.25, retry_max=2)

    with pytest.raises(KeySetUnavailable) as first:
        await jwks.get_key(rsa_key.kid)
    with pytest.raises(KeySetUnavailable):
        await jwks.get_key(rsa_key.kid)  # within the backoff: no second fetch
    assert jwks_server.fetches == 1
    assert first.value.status == 503
    assert not jwks.ready

    for expected_delay in (0.25, 0.5, 1.0, 2.0, 2.0):  # doubling, capped at retry_max
        clock.advance(expected_delay - 0.125)
        with pytest.raises(KeySetUnavailable):
            await jwks.get_key(rsa_key.kid)
        fetches = jwks_server.fetches
        clock.advance(0.125)
        with pytest.raises(KeySetUnavailable):
            await jwks.get_key(rsa_key.kid)
        assert jwks_server.fetches == fetches + 1

    jwks_server.fail = False
    clock.advance(2)
    key = await jwks.get_key(rsa_key.kid)
    assert key["kid"] == rsa_key.kid
    assert jwks.ready


async def test_once_keys_are_known_unknown_kids_wait_the_full_interval_again(
    jwks_server, clock, rsa_key
):
    jwks_server.fail = True
    jwks = client_for(jwks_server, clock, min_refresh_interval=10, retry_initial=0.2)
    with pytest.raises(KeySetUnavailable):
        await jwks.get_key(rsa_key.kid)
    jwks_server.fail = False
    clock.advance(0.2)
    await jwks.get_key(rsa_key.kid)
    fetches = jwks_server.fetches

    clock.advance(1)
    with pytest.raises(UnknownKey):
        await jwks.get_key("made-up")

    assert jwks_server.fetches == fetches


async def test_fetch_until_ready_retries_until_the_issuer_answers(jwks_server, rsa_key):
    jwks_server.fail = True
    jwks = JwksClient(JWKS_URL, http=jwks_server.client(), retry_initial=0.01, retry_max=0.02)
    waiting = asyncio.create_task(jwks.fetch_until_ready())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert jwks_server.fetches >= 3

    jwks_server.fail = False
    await asyncio.wait_for(waiting, 1)

    assert jwks.ready
    assert rsa_key.kid in jwks.kids


async def test_refresh_fetches_even_with_a_fresh_cache(jwks_server, clock, rsa_key):
    jwks = client_for(jwks_server, clock)
    await jwks.get_key(rsa_key.kid)

    assert await jwks.refresh() is True
    jwks_server.fail = True
    assert await jwks.refresh() is False

    assert jwks_server.fetches == 3
    assert jwks.kids == {rsa_key.kid, "ec-2024"}


async def test_the_client_closes_only_the_http_client_it_made(jwks_server):
    given = jwks_server.client()
    borrowed = JwksClient(JWKS_URL, http=given)
    owned = JwksClient(JWKS_URL)

    await borrowed.aclose()
    await owned.aclose()

    assert not given.is_closed
    assert owned._http.is_closed


def test_encryption_symmetric_and_unusable_keys_are_ignored(rsa_key, ec_key):
    private_rsa = {**rsa_key.public_jwk, "kid": "leaked", "d": "c2VjcmV0", "p": "cA", "q": "cQ"}
    document = {
        "keys": [
            rsa_key.public_jwk,
            {**ec_key.public_jwk, "use": "enc"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "use": "sig"},
            {k: v for k, v in rsa_key.public_jwk.items() if k != "kid"},
            {**rsa_key.public_jwk, "kid": "small", "n": "AQAB"},  # far below 2048 bits
            {**ec_key.public_jwk, "kid": "odd-curve", "crv": "secp256k1"},
            {**ec_key.public_jwk, "kid": "encrypt-only", "key_ops": ["encrypt"]},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"},
            private_rsa,
            "not a key",
        ]
    }

    keys = parse_jwks(document)

    assert set(keys) == {rsa_key.kid, "leaked"}
    assert "d" not in keys["leaked"]
    assert "p" not in keys["leaked"]
    assert keys[rsa_key.kid]["alg"] == "RS256"


@pytest.mark.parametrize("document", [[], {"keys": "all"}, {"kid": "x"}, "keys"])
def test_a_document_that_is_no_key_set_is_refused(document):
    with pytest.raises(ValueError, match="JSON Web Key Set"):
        parse_jwks(document)


async def test_a_key_source_serves_the_issuers_own_keys_with_the_same_caching(
    clock, rsa_key, rsa_key_next
):
    published = [rsa_key.public_jwk]
    loads = 0
    failing = False

    async def key_store() -> dict[str, Any]:
        nonlocal loads
        loads += 1
        if failing:
            raise ConnectionError("database away")
        return {"keys": list(published)}

    jwks = JwksClient("local:keys", source=key_store, clock=clock, min_refresh_interval=0)
    assert (await jwks.get_key(rsa_key.kid))["n"] == rsa_key.public_jwk["n"]
    await jwks.get_key(rsa_key.kid)
    assert loads == 1

    published.append(rsa_key_next.public_jwk)  # rotation: found at the first unknown kid
    assert (await jwks.get_key(rsa_key_next.kid))["n"] == rsa_key_next.public_jwk["n"]
    assert loads == 2

    failing = True
    with pytest.raises(UnknownKey):
        await jwks.get_key("not-a-key")
    assert (await jwks.get_key(rsa_key.kid))["kty"] == "RSA"  # a failing source keeps the cache
    await jwks.aclose()
