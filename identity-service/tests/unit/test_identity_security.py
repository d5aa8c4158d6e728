"""The security building blocks: sealing, form tokens, PKCE, TOTP steps, throttling."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from identity.domain import pkce
from identity.domain.crypto import BadFormToken, DecryptionFailed, FormSigner, SecretBox
from identity.domain.keys import KeyCache, generate_signing_key
from identity.domain.throttle import DelayPolicy, FailurePolicy
from identity.domain.totp import matching_step


def test_a_sealed_secret_opens_only_with_its_secret_and_context():
    box = SecretBox(b"the service secret", purpose="signing-keys/v1")
    sealed = box.seal(b"private key", context="kid-1")

    assert box.open(sealed, context="kid-1") == b"private key"
    assert b"private key" not in sealed
    with pytest.raises(DecryptionFailed):
        box.open(sealed, context="kid-2")
    with pytest.raises(DecryptionFailed):
        SecretBox(b"another secret", purpose="signing-keys/v1").open(sealed, context="kid-1")
    with pytest.raises(DecryptionFailed):
        SecretBox(b"the service secret", purpose="totp/v1").open(sealed, context="kid-1")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        box.open(tampered, context="kid-1")


def test_sealing_twice_gives_different_ciphertexts():
    box = SecretBox(b"s", purpose="p")

    assert box.seal(b"x", context="c") != box.seal(b"x", context="c")


def test_a_form_token_carries_its_payload_until_it_expires():
    signer = FormSigner(b"secret", purpose="login-form/v1")
    token = signer.sign({"q": {"state": "abc"}}, ttl_seconds=60, now=1000)

    assert signer.verify(token, now=1059) == {"q": {"state": "abc"}}
    with pytest.raises(BadFormToken):
        signer.verify(token, now=1061)


def test_a_form_token_that_was_altered_or_signed_elsewhere_is_refused():
    signer = FormSigner(b"secret", purpose="login-form/v1")
    token = signer.sign({"q": {"state": "abc"}}, ttl_seconds=60)
    body, mac = token.split(".")

    with pytest.raises(BadFormToken):
        signer.verify(body + "x." + mac)
    with pytest.raises(BadFormToken):
        FormSigner(b"other", purpose="login-form/v1").verify(token)
    with pytest.raises(BadFormToken):
        signer.verify("no-dot-at-all")


def test_pkce_s256_matches_the_rfc_7636_example():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

    assert pkce.s256(verifier) == challenge
    assert pkce.verifier_matches(verifier, challenge)
    assert not pkce.verifier_matches(verifier[:-1] + "Y", challenge)
    assert not pkce.verifier_matches("short", pkce.s256("short"))
    assert pkce.valid_challenge(challenge)
    assert not pkce.valid_challenge("plain-text-challenge")


def test_totp_accepts_the_current_and_the_previous_step_only():
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    now = time.time()
    step = int(now // 30)

    assert matching_step(secret, totp.at(now), now=now) == step
    assert matching_step(secret, totp.at(now - 30), now=now) == step - 1
    assert matching_step(secret, totp.at(now - 60), now=now) is None
    assert matching_step(secret, totp.at(now + 30), now=now) is None
    assert matching_step(secret, "12345", now=now) is None
    assert matching_step(secret, "abcdef", now=now) is None


def test_failures_first_slow_down_then_lock():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    policy = FailurePolicy(
        window=timedelta(minutes=15),
        slow_after=3,
        lock_after=6,
        base_delay=1.0,
        max_delay=3.0,
        lock=timedelta(minutes=15),
    )

    waits = [policy.blocked_until(failures=n, now=now) for n in range(1, 7)]

    assert waits[:2] == [None, None]
    assert [(w - now).total_seconds() for w in waits[2:5] if w] == [1.0, 2.0, 3.0]
    assert waits[5] == now + timedelta(minutes=15)
    assert policy.is_lockout(6)
    assert not policy.is_lockout(5)


def test_signing_keys_are_sealed_and_named_by_their_thumbprint():
    box = SecretBox(b"secret", purpose="signing-keys/v1")
    kid, jwk, sealed = generate_signing_key(box)

    assert jwk["kid"] == kid
    assert jwk["alg"] == "ES256"
    assert jwk["crv"] == "P-256"
    assert "d" not in jwk
    assert b"PRIVATE KEY" not in sealed
    assert b"PRIVATE KEY" in box.open(sealed, context=kid)
    assert len(kid) == 43
    assert isinstance(KeyCache(box), KeyCache)


def test_failures_from_every_address_only_ever_add_a_bounded_delay():
    policy = DelayPolicy(window=timedelta(minutes=15), slow_after=10, base_delay=1.0, max_delay=30)

    assert policy.delay(9) is None
    assert policy.delay(10) == timedelta(seconds=1)
    assert policy.delay(12) == timedelta(seconds=4)
    # A million guesses from a botnet: still half a minute, never a lockout.
    assert policy.delay(1_000_000) == timedelta(seconds=30)
