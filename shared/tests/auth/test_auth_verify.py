"""TokenVerifier: what a valid token yields and every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from jose import jws

from mpp_shared.auth import (
    ASYMMETRIC_ALGORITHMS,
    InvalidToken,
    JwksClient,
    KeySetUnavailable,
    Principal,
    TokenVerifier,
)

ISSUER = "https://mpp.test"
AUDIENCE = "mpp"
JWKS_URL = "http://identity.test/oauth2/jwks"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(
    header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes] | None = None
) -> str:
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = sign(signing_input.encode()) if sign is not None else b""
    return signing_input + "." + b64(signature)


def make_verifier(server: Any, **options: Any) -> TokenVerifier:
    jwks = JwksClient(JWKS_URL, http=server.client())
    return TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, **options)


@pytest.fixture
def verifier(jwks_server) -> TokenVerifier:
    return make_verifier(jwks_server)


async def refused(verifier: TokenVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    problem = caught.value
    assert problem.status == 401
    assert problem.code == "invalid_token"
    assert problem.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    assert problem.detail
    if token:
        # Never echo the token, nor any of its segments, back.
        for part in [token, *[segment for segment in token.split(".") if len(segment) > 8]]:
            assert part not in problem.detail
            assert part not in str(problem)
    return problem


# --- accepted ---------------------------------------------------------------------------


async def test_a_valid_rsa_token_gives_its_principal(verifier, rsa_key, make_claims):
    agency = uuid.uuid4()
    claims = make_claims(
        sub="officer-7",
        roles=["officer"],
        scope="openid applications:process",
        agency_id=str(agency),
        ial=2,
        client_id="agency-portal",
    )

    principal = await verifier.verify(rsa_key.sign(claims))

    assert principal == Principal(
        subject="officer-7",
        roles=frozenset({"officer"}),
        scopes=frozenset({"openid", "applications:process"}),
        agency_id=agency,
        assurance_level=2,
        client_id="agency-portal",
    )
    assert principal.claims["iss"] == ISSUER
    assert principal.is_staff
    assert not principal.is_citizen


async def test_a_valid_ec_token_is_accepted(verifier, ec_key, make_claims):
    principal = await verifier.verify(ec_key.sign(make_claims(sub="citizen-1")))

    assert principal.subject == "citizen-1"
    assert principal.is_citizen
    assert principal.client_id == "mpp-app"  # from azp


async def test_an_audience_list_that_names_us_is_accepted(verifier, rsa_key, make_claims):
    token = rsa_key.sign(make_claims(aud=["gateway", AUDIENCE]))

    assert (await verifier.verify(token)).subject


async def test_expiry_and_not_before_are_judged_with_the_leeway(jwks_server, rsa_key, make_claims):
    verifier = make_verifier(jwks_server, leeway_seconds=30)
    now = int(time.time())

    just_expired = rsa_key.sign(make_claims(exp=now - 10))
    almost_valid = rsa_key.sign(make_claims(nbf=now + 10, iat=now + 10))

    assert (await verifier.verify(just_expired)).subject
    assert (await verifier.verify(almost_valid)).subject


async def test_a_rotated_key_is_picked_up_from_the_key_set(
    jwks_server, clock, rsa_key, rsa_key_next, make_claims
):
    jwks = JwksClient(JWKS_URL, http=jwks_server.client(), clock=clock, min_refresh_interval=10)
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    await verifier.verify(rsa_key.sign(make_claims()))
    jwks_server.keys = [rsa_key.public_jwk, rsa_key_next.public_jwk]
    clock.advance(10)

    principal = await verifier.verify(rsa_key_next.sign(make_claims(sub="after-rotation")))

    assert principal.subject == "after-rotation"
    assert jwks_server.fetches == 2


# --- refused: the token's shape -----------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "e30.e30",
        b64(b"not json") + "." + b64(b"{}") + ".c2ln",
        b64(b"[1, 2]") + "." + b64(b"{}") + ".c2ln",
        "x" * 9000,
    ],
)
async def test_a_malformed_token_is_refused(verifier, token):
    problem = await refused(verifier, token)

    assert problem.detail == "malformed token"


async def test_a_signed_payload_that_is_not_a_json_object_is_refused(
    verifier, rsa_key, jwks_server
):
    token = jws.sign(
        b"[1, 2, 3]", rsa_key.private_pem, headers={"kid": rsa_key.kid}, algorithm="RS256"
    )

    problem = await refused(verifier, token)

    assert problem.detail == "malformed token"


async def test_a_token_without_kid_is_refused(verifier, rsa_key, make_claims):
    token = jws.sign(make_claims(), rsa_key.private_pem, algorithm="RS256")

    problem = await refused(verifier, token)

    assert problem.detail == "token has no key id"


async def test_a_token_without_alg_is_refused(verifier, rsa_key, make_claims):
    problem = await refused(verifier, hand_made({"kid": rsa_key.kid}, make_claims()))

    assert problem.detail == "token names no algorithm"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_token_is_refused(verifier, rsa_key, make_claims, alg):
    token = hand_made(
        {"alg": alg, "kid": rsa_key.kid, "typ": "JWT"}, make_claims(roles=["platform_admin"])
    )

    problem = await refused(verifier, token)

    assert problem.detail == "unsigned tokens are not accepted"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret_form", ["pem", "jwk_json", "modulus"])
async def test_a_token_hmac_signed_with_the_public_key_is_refused(
    verifier, jwks_server, rsa_key, make_claims, alg, secret_form
):
    """Key confusion: the public key is public, so an HMAC made with it proves nothing."""
    secret = {
        "pem": rsa_key.public_pem.encode(),
        "jwk_json": json.dumps(rsa_key.public_jwk).encode(),
        "modulus": rsa_key.public_jwk["n"].encode(),
    }[secret_form]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    token = hand_made(
        {"alg": alg, "kid": rsa_key.kid},
        make_claims(roles=["platform_admin"]),
        sign=lambda data: hmac.new(secret, data, digest).digest(),
    )

    problem = await refused(verifier, token)

    assert problem.detail == "symmetric algorithms are not accepted"


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "HS256"), ("none",), ()])
def test_a_verifier_cannot_be_configured_with_symmetric_or_no_algorithms(jwks_server, algorithms):
    with pytest.raises(ValueError, match="asymmetric"):
        make_verifier(jwks_server, algorithms=algorithms)


async def test_an_algorithm_outside_the_allow_list_is_refused(jwks_server, ec_key, make_claims):
    verifier = make_verifier(jwks_server, algorithms=("RS256",))

    problem = await refused(verifier, ec_key.sign(make_claims()))

    assert problem.detail == "algorithm not allowed"


@pytest.mark.parametrize("alg", ["PS256", "EdDSA", "RSA-OAEP", "dir"])
async def test_algorithms_we_do_not_verify_are_refused(verifier, rsa_key, make_claims, alg):
    token = hand_made({"alg": alg, "kid": rsa_key.kid}, make_claims(), sign=lambda data: b"sig")

    problem = await refused(verifier, token)

    assert problem.detail == "algorithm not allowed"


async def test_an_algorithm_other_than_the_keys_own_is_refused(verifier, rsa_key, make_claims):
    # Published as RS256; signed (validly) with RS384 by the same private key.
    token = jws.sign(
        make_claims(), rsa_key.private_pem, headers={"kid": rsa_key.kid}, algorithm="RS384"
    )

    problem = await refused(verifier, token)

    assert problem.detail == "algorithm does not match the signing key"


@pytest.mark.parametrize(
    ("alg", "use_key"),
    [("RS256", "ec"), ("ES256", "rsa"), ("ES384", "ec"), ("ES512", "ec")],
)
async def test_an_algorithm_unfit_for_the_key_type_or_curve_is_refused(
    jwks_server, rsa_key, ec_key, make_claims, alg, use_key
):
    # Without an "alg" member the key type and curve alone must decide.
    jwks_server.keys = [
        {k: v for k, v in key.public_jwk.items() if k != "alg"} for key in (rsa_key, ec_key)
    ]
    verifier = make_verifier(jwks_server)
    kid = {"ec": ec_key.kid, "rsa": rsa_key.kid}[use_key]
    token = hand_made({"alg": alg, "kid": kid}, make_claims(), sign=lambda data: b"\x00" * 64)

    problem = await refused(verifier, token)

    assert problem.detail == "algorithm does not match the signing key"


async def test_a_critical_header_extension_is_refused(verifier, rsa_key, make_claims):
    token = rsa_key.sign(make_claims(), headers={"crit": ["exp"], "exp": 1})

    problem = await refused(verifier, token)

    assert problem.detail == "unsupported critical header"


# --- refused: the signature -----------------------------------------------------------------


async def test_a_token_signed_by_an_unpublished_key_is_refused(verifier, intruder_key, make_claims):
    problem = await refused(verifier, intruder_key.sign(make_claims(roles=["platform_admin"])))

    assert problem.detail == "bad signature"


async def test_a_tampered_payload_is_refused(verifier, rsa_key, make_claims):
    header, _, signature = rsa_key.sign(make_claims(roles=["citizen"])).split(".")
    forged_claims = b64(json.dumps(make_claims(roles=["platform_admin"])).encode())

    problem = await refused(verifier, f"{header}.{forged_claims}.{signature}")

    assert problem.detail == "bad signature"


async def test_a_token_with_an_unknown_kid_is_refused(verifier, jwks_server, rsa_key, make_claims):
    token = rsa_key.sign(make_claims(), headers={"kid": "never-published"})

    problem = await refused(verifier, token)

    assert problem.detail == "unknown signing key"
    assert jwks_server.fetches == 1


async def test_no_reachable_key_set_is_a_503_not_a_401(jwks_server, rsa_key, make_claims):
    jwks_server.fail = True
    verifier = make_verifier(jwks_server)

    with pytest.raises(KeySetUnavailable) as caught:
        await verifier.verify(rsa_key.sign(make_claims()))

    assert caught.value.status == 503
    assert caught.value.code == "auth_unavailable"


# --- refused: the claims --------------------------------------------------------------------


class FromNow(int):
    """A time claim given relative to when the test runs, not when it was collected."""


def resolve(overrides: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {k: now + v if isinstance(v, FromNow) else v for k, v in overrides.items()}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.test"}, "wrong issuer"),
        ({"iss": ISSUER + "/"}, "wrong issuer"),
        ({"iss": None}, "wrong issuer"),
        ({"aud": "other-api"}, "wrong audience"),
        ({"aud": ["other-api", "gateway"]}, "wrong audience"),
        ({"aud": None}, "wrong audience"),
        ({"aud": {"mpp": True}}, "wrong audience"),
        ({"exp": None}, "token has no expiry"),
        ({"exp": "tomorrow"}, "token has no expiry"),
        ({"exp": True}, "token has no expiry"),
        ({"exp": FromNow(-31)}, "token has expired"),
        ({"exp": FromNow(-3600), "iat": FromNow(-7200)}, "token has expired"),
        ({"nbf": FromNow(120)}, "token is not valid yet"),
        ({"nbf": "now"}, "malformed nbf claim"),
        ({"iat": FromNow(600)}, "token is issued in the future"),
        ({"sub": None}, "token has no subject"),
        ({"sub": ""}, "token has no subject"),
        ({"agency_id": "dinas-7"}, "agency_id claim is not a UUID"),
        ({"ial": "2"}, "ial claim is not a level"),
        ({"roles": [1, 2]}, "roles claim is not a list of names"),
        ({"scope": {"a": 1}}, "scope claim is not a list of names"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_a_token_with_bad_claims_is_refused(
    verifier, rsa_key, make_claims, overrides, reason
):
    problem = await refused(verifier, rsa_key.sign(make_claims(**resolve(overrides))))

    assert problem.detail == reason


async def test_a_nan_expiry_is_refused(verifier, rsa_key, make_claims):
    claims = json.dumps({**make_claims(), "exp": float("nan")})  # Python writes NaN

    problem = await refused(
        verifier,
        jws.sign(
            claims.encode(), rsa_key.private_pem, headers={"kid": rsa_key.kid}, algorithm="RS256"
        ),
    )

    assert problem.detail == "token has no expiry"


# --- the verification cache ---------------------------------------------------------------


class CountingVerify:
    def __init__(self) -> None:
        self.calls = 0
        self.real = jws.verify

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real(*args, **kwargs)


@pytest.fixture
def signature_checks(monkeypatch) -> CountingVerify:
    counting = CountingVerify()
    monkeypatch.setattr(jws, "verify", counting)
    return counting


async def test_a_verified_token_is_not_checked_again(
    verifier, rsa_key, make_claims, signature_checks
):
    token = rsa_key.sign(make_claims())

    first = await verifier.verify(token)
    second = await verifier.verify(token)

    assert second == first
    assert signature_checks.calls == 1


async def test_a_cached_token_still_expires(
    jwks_server, rsa_key, make_claims, clock, signature_checks
):
    clock.now = time.time()
    verifier = make_verifier(jwks_server, clock=clock, leeway_seconds=30)
    token = rsa_key.sign(make_claims(exp=int(clock.now) + 100))
    await verifier.verify(token)

    clock.advance(50)
    await verifier.verify(token)
    assert signature_checks.calls == 1

    clock.advance(200)
    problem = await refused(verifier, token)
    assert problem.detail == "token has expired"


async def test_the_cache_is_bounded(jwks_server, rsa_key, make_claims, signature_checks):
    verifier = make_verifier(jwks_server, cache_size=2)
    tokens = [rsa_key.sign(make_claims(sub=f"user-{n}")) for n in range(3)]
    for token in tokens:
        await verifier.verify(token)

    await verifier.verify(tokens[2])  # still cached
    assert signature_checks.calls == 3
    await verifier.verify(tokens[0])  # pushed out by the third
    assert signature_checks.calls == 4


async def test_a_refused_token_is_not_cached(verifier, intruder_key, make_claims, signature_checks):
    token = intruder_key.sign(make_claims())

    await refused(verifier, token)
    await refused(verifier, token)

    assert signature_checks.calls == 2


def test_only_asymmetric_algorithms_are_allowed_by_default():
    assert all(alg[:2] in {"RS", "ES"} for alg in ASYMMETRIC_ALGORITHMS)
