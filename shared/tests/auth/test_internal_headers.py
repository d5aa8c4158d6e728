"""The gateway's signed principal headers: round trip, forgery, replay and the production secret."""

from __future__ import annotations

import uuid

import pytest

from mpp_shared.auth.internal import (
    DEVELOPMENT_INTERNAL_SECRET,
    PRINCIPAL_HEADER,
    SIGNATURE_HEADER,
    VouchedPrincipals,
    check_internal_secret,
    decode_principal_headers,
    encode_principal_headers,
    is_internal_header,
    principal_payload,
    sign_principal_payload,
)
from mpp_shared.auth.principal import Principal

SECRET = "s" * 40
NOW = 1_800_000_000.0


def _officer() -> Principal:
    return Principal.from_claims(
        {
            "sub": "3f0a1c2e-0000-4000-8000-000000000001",
            "roles": ["officer"],
            "scope": "openid applications:process",
            "agency_id": "6d1c4a3e-9b7f-4e55-8a44-2f4f5e6a7b8c",
            "ial": 2,
            "azp": "mpp-app",
            "exp": 1_800_000_300,
            "jti": "token-1",
        }
    )


def test_round_trip_gives_an_equal_principal_with_the_tokens_claims() -> None:
    principal = _officer()
    headers = encode_principal_headers(principal, SECRET, now=NOW)

    decoded = decode_principal_headers(headers, SECRET, max_age=30, now=NOW + 5)

    assert decoded == principal
    assert decoded is not None
    assert decoded.agency_id == uuid.UUID("6d1c4a3e-9b7f-4e55-8a44-2f4f5e6a7b8c")
    assert decoded.client_id == "mpp-app"
    assert decoded.claims["jti"] == "token-1"
    assert decoded.claims["exp"] == 1_800_000_300


def test_a_principal_built_without_claims_round_trips() -> None:
    principal = Principal(subject="client:agency-system", scopes=frozenset({"webhooks:write"}))
    headers = encode_principal_headers(principal, SECRET, now=NOW)

    assert decode_principal_headers(headers, SECRET, now=NOW) == principal


def test_header_names_are_matched_in_any_case_and_as_pairs() -> None:
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)
    lowered = [(name.lower(), value) for name, value in headers.items()]

    assert decode_principal_headers(lowered, SECRET, now=NOW) == _officer()


def test_another_secret_is_refused() -> None:
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)

    assert decode_principal_headers(headers, "x" * 40, now=NOW) is None


def test_a_payload_changed_after_signing_is_refused() -> None:
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)
    forged = principal_payload(
        Principal(subject="someone-else", roles=frozenset({"platform_admin"}))
    )
    headers[PRINCIPAL_HEADER] = forged

    assert decode_principal_headers(headers, SECRET, now=NOW) is None


def test_a_signature_moved_to_another_time_is_refused() -> None:
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)
    mac = headers[SIGNATURE_HEADER].split("v1=")[1]
    headers[SIGNATURE_HEADER] = f"t={int(NOW) + 20},v1={mac}"

    assert decode_principal_headers(headers, SECRET, now=NOW + 20) is None


@pytest.mark.parametrize("offset", [31.0, -31.0])
def test_old_or_future_headers_are_refused(offset: float) -> None:
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)

    assert decode_principal_headers(headers, SECRET, max_age=30, now=NOW + offset) is None
    assert decode_principal_headers(headers, SECRET, max_age=30, now=NOW + offset / 2) is not None


@pytest.mark.parametrize(
    "signature",
    ["", "garbage", "t=abc,v1=00", "v1=00", f"t={int(NOW)}", f"t=-{int(NOW)},v1=00", "t=١٢٣,v1=00"],
)
def test_malformed_signatures_are_refused(signature: str) -> None:
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)
    headers[SIGNATURE_HEADER] = signature

    assert decode_principal_headers(headers, SECRET, now=NOW) is None


def test_a_correctly_signed_payload_that_is_no_principal_is_refused() -> None:
    for payload in ["bm90IGpzb24", "WzEsMl0", "e30"]:  # "not json", "[1,2]", "{}"
        headers = {
            PRINCIPAL_HEADER: payload,
            SIGNATURE_HEADER: sign_principal_payload(payload, SECRET, int(NOW)),
        }
        assert decode_principal_headers(headers, SECRET, now=NOW) is None


def test_missing_headers_mean_no_principal() -> None:
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)

    assert decode_principal_headers({}, SECRET, now=NOW) is None
    assert decode_principal_headers({PRINCIPAL_HEADER: headers[PRINCIPAL_HEADER]}, SECRET) is None


def test_production_refuses_a_missing_default_or_short_secret() -> None:
    for secret in (None, "", DEVELOPMENT_INTERNAL_SECRET, "too-short"):
        with pytest.raises(ValueError, match="internal secret"):
            check_internal_secret(secret, environment="production")
    assert check_internal_secret(SECRET, environment="production") == SECRET


def test_development_falls_back_to_the_default_secret() -> None:
    assert check_internal_secret(None, environment="development") == DEVELOPMENT_INTERNAL_SECRET
    assert check_internal_secret("mine", environment="test") == "mine"


def test_internal_header_names() -> None:
    assert is_internal_header("X-MPP-Principal")
    assert is_internal_header(b"x-mpp-anything")
    assert not is_internal_header("X-Request-ID")


# ---- VouchedPrincipals: the services' check, remembering genuine header values -------------


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"svc")] + [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def test_vouched_principals_answers_as_decode_and_remembers_a_genuine_pair() -> None:
    clock = _Clock(NOW)
    vouched = VouchedPrincipals(SECRET, max_age=30, clock=clock)
    headers = _raw(encode_principal_headers(_officer(), SECRET, now=NOW))

    first = vouched.verify(headers)
    assert first == _officer()
    # The same values again: the remembered principal, not a second decoding.
    assert vouched.verify(headers) is first
    assert len(vouched._cache) == 1


def test_a_remembered_pair_goes_stale_as_checking_it_again_would() -> None:
    clock = _Clock(NOW)
    vouched = VouchedPrincipals(SECRET, max_age=30, clock=clock)
    headers = _raw(encode_principal_headers(_officer(), SECRET, now=NOW))
    assert vouched.verify(headers) is not None

    clock.now = NOW + 30
    assert vouched.verify(headers) is not None
    clock.now = NOW + 31
    assert vouched.verify(headers) is None
    assert (
        decode_principal_headers(
            {k.decode(): v.decode() for k, v in headers}, SECRET, 30, now=NOW + 31
        )
        is None
    )
    # Forgotten once stale: still refused afterwards.
    assert vouched.verify(headers) is None
    assert not vouched._cache


@pytest.mark.parametrize(
    "forgery",
    [
        "other secret",
        "other payload",
        "no signature",
        "no principal",
    ],
)
def test_vouched_principals_refuses_and_does_not_remember_what_is_not_genuine(
    forgery: str,
) -> None:
    vouched = VouchedPrincipals(SECRET, max_age=30, clock=_Clock(NOW))
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)
    if forgery == "other secret":
        headers = encode_principal_headers(_officer(), "x" * 40, now=NOW)
    elif forgery == "other payload":
        other = Principal(subject="someone-else", roles=frozenset({"platform_admin"}))
        headers[PRINCIPAL_HEADER] = principal_payload(other)
    elif forgery == "no signature":
        del headers[SIGNATURE_HEADER]
    else:
        del headers[PRINCIPAL_HEADER]

    assert vouched.verify(_raw(headers)) is None
    assert vouched.verify(_raw(headers)) is None
    assert not vouched._cache


def test_a_genuine_pair_does_not_vouch_for_a_tampered_copy() -> None:
    vouched = VouchedPrincipals(SECRET, max_age=30, clock=_Clock(NOW))
    headers = encode_principal_headers(_officer(), SECRET, now=NOW)
    assert vouched.verify(_raw(headers)) is not None
    other = Principal(subject="someone-else", roles=frozenset({"platform_admin"}))
    tampered = {**headers, PRINCIPAL_HEADER: principal_payload(other)}

    assert vouched.verify(_raw(tampered)) is None


def test_vouched_principals_stays_within_its_size() -> None:
    clock = _Clock(NOW)
    vouched = VouchedPrincipals(SECRET, max_age=30, cache_size=3, clock=clock)
    for second in range(6):
        clock.now = NOW + second
        headers = encode_principal_headers(_officer(), SECRET, now=NOW + second)
        assert vouched.verify(_raw(headers)) is not None
    assert len(vouched._cache) == 3
