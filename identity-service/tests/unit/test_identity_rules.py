"""Input rules: emails, Indonesian phone numbers, redirect URIs, profile fields, contracts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from identity.config import IdentitySettings
from identity.domain.accounts import normalise_email, normalise_phone
from identity.domain.clients import check_redirect_uri
from identity.domain.models import Account, Address, CitizenProfile
from identity.domain.profile import select_fields, unknown_fields
from mpp_shared.contracts.identity import v1 as contracts


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("081234567890", "+6281234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
    ],
)
def test_indonesian_mobile_numbers_are_kept_as_plus_62(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["+1 555 0100", "0212345678", "08123", "0812345678901234567"])
def test_other_numbers_are_refused(raw):
    with pytest.raises(ValueError, match="mobile"):
        normalise_phone(raw)


def test_emails_are_lowercased_and_checked():
    assert normalise_email(" Siti@Warga.Test ") == "siti@warga.test"
    for bad in ("siti", "siti@", "@warga.test", "siti@warga", "si ti@warga.test"):
        with pytest.raises(ValueError, match="email"):
            normalise_email(bad)


@pytest.mark.parametrize(
    ("uri", "allow_http", "ok"),
    [
        ("https://portal.dinas.go.id/callback", False, True),
        ("https://portal.dinas.go.id/callback#frag", False, False),
        ("http://portal.dinas.go.id/callback", False, False),
        ("http://portal.dinas.go.id/callback", True, True),
        ("http://127.0.0.1:8000/cb", False, True),
        ("https://user:pw@portal.dinas.go.id/cb", False, False),
        ("/relative/callback", True, False),
        ("javascript:alert(1)", True, False),
    ],
)
def test_redirect_uris_are_absolute_and_https(uri, allow_http, ok):
    assert check_redirect_uri(uri, allow_http=allow_http) is ok


def _citizen() -> Account:
    return Account(
        id=uuid.uuid4(),
        role="citizen",
        email="siti@warga.test",
        full_name="SITI RAHAYU",
        password_hash="x",
        phone="+6281234567890",
        assurance_level=1,
        profile=CitizenProfile(
            nik="3573014101700100",
            full_name="SITI RAHAYU",
            birth_place="MALANG",
            birth_date=date(1970, 1, 1),
            gender="P",
            religion="ISLAM",
            marital_status="KAWIN",
            occupation="KARYAWAN SWASTA",
            address=Address(
                "JL. MAWAR 1",
                "001",
                "002",
                "BALEARJOSARI",
                "BLIMBING",
                "KOTA MALANG",
                "JAWA TIMUR",
                "35.73.01.1001",
            ),
        ),
    )


def test_prefill_gives_exactly_the_fields_asked_for():
    values = select_fields(_citizen(), ["full_name", "address.village", "birth_date"])

    assert values == {
        "full_name": "SITI RAHAYU",
        "address.village": "BALEARJOSARI",
        "birth_date": "1970-01-01",
    }
    assert unknown_fields(["full_name", "password_hash", "address.planet"]) == [
        "password_hash",
        "address.planet",
    ]


def test_identity_events_have_no_room_for_a_nik():
    for model in (contracts.CitizenRegistered, contracts.CitizenVerified, contracts.StaffCreated):
        assert not {"nik", "full_name", "birth_date"} & set(model.model_fields)
    event = contracts.CitizenRegistered(
        account_id=uuid.uuid4(), assurance_level=1, registered_at=datetime.now(UTC)
    )
    assert "nik" not in event.model_dump_json()


def test_a_prefill_reply_is_either_fields_or_an_error():
    fields = contracts.parse_prefill_reply(b'{"fields": {"full_name": "SITI"}}')
    error = contracts.parse_prefill_reply(b'{"error": "no_consent"}')

    assert isinstance(fields, contracts.PrefillResponse)
    assert fields.fields["full_name"] == "SITI"
    assert isinstance(error, contracts.RpcError)
    assert error.error == "no_consent"


def _production_secrets(monkeypatch, **secrets: str) -> None:
    """Every secret production requires set, but those of ``secrets`` (variable: value, or ""
    to leave it out)."""
    wanted = {
        "MPP_INTERNAL_SECRET": "i" * 40,
        "MPP_IDENTITY_NATS_USER": "identity",
        "MPP_IDENTITY_NATS_PASSWORD": "n" * 40,
        "MPP_IDENTITY_KEY_ENCRYPTION_SECRET": "k" * 40,
        "MPP_RESIDENT_LINK_KEY": "r" * 40,
        **secrets,
    }
    for variable, value in wanted.items():
        if value:
            monkeypatch.setenv(variable, value)
        else:
            monkeypatch.delenv(variable, raising=False)


def test_production_refuses_the_development_key_encryption_secret(monkeypatch):
    _production_secrets(monkeypatch, MPP_IDENTITY_KEY_ENCRYPTION_SECRET="")
    with pytest.raises(ValidationError, match="KEY_ENCRYPTION_SECRET"):
        IdentitySettings(environment="production")
    settings = IdentitySettings(environment="production", key_encryption_secret="k" * 40)
    assert settings.key_encryption_secret.get_secret_value() == "k" * 40


def test_production_refuses_the_development_resident_link_key(monkeypatch):
    _production_secrets(monkeypatch, MPP_RESIDENT_LINK_KEY="")
    with pytest.raises(ValidationError, match="MPP_RESIDENT_LINK_KEY"):
        IdentitySettings(environment="production")
    monkeypatch.setenv("MPP_RESIDENT_LINK_KEY", "r" * 40)
    settings = IdentitySettings(environment="production")
    assert settings.resident_link_key.get_secret_value() == "r" * 40


def test_the_bootstrap_admin_comes_from_unprefixed_variables(monkeypatch):
    monkeypatch.setenv("MPP_BOOTSTRAP_ADMIN_EMAIL", "root@mpp.test")
    monkeypatch.setenv("MPP_BOOTSTRAP_ADMIN_PASSWORD", "Sangat#Rahasia2026")

    settings = IdentitySettings()

    assert settings.bootstrap_admin_email == "root@mpp.test"
    assert settings.bootstrap_admin_password is not None


def test_a_password_may_not_contain_the_nik_or_the_emails_name():
    from identity.domain.accounts import check_password_policy
    from identity.domain.exceptions import InvalidInput

    with pytest.raises(InvalidInput):
        check_password_policy("x3573014101700100y", min_length=10, personal=("3573014101700100",))
    with pytest.raises(InvalidInput):
        check_password_policy("Siti.Rahayu#2026", min_length=10, personal=("siti.rahayu",))
    with pytest.raises(InvalidInput):
        check_password_policy("pendek", min_length=10)
    # A one-letter email name forbids nothing.
    check_password_policy("a-long-passphrase", min_length=10, personal=("a",))


def test_a_citizen_token_never_carries_an_agency_clients_processing_scope():
    from identity.domain.scopes import scopes_for_role

    requested = ["openid", "profile", "applications:process", "applications:read"]

    assert scopes_for_role("citizen", requested) == ("openid", "profile")
    assert scopes_for_role("officer", requested) == tuple(requested)
    assert scopes_for_role("agency_admin", requested) == (
        "openid",
        "profile",
        "applications:read",
    )
    assert scopes_for_role("platform_admin", ["mfa:enroll", "applications:read"]) == ("mfa:enroll",)
    assert scopes_for_role("stranger", requested) == ()


def test_each_scope_releases_only_its_own_userinfo_claims():
    from identity.domain.claims import userinfo_claims

    account = _citizen()

    bare = userinfo_claims(account, {"openid"})
    profile = userinfo_claims(account, {"openid", "profile"})
    everything = userinfo_claims(account, {"openid", "profile", "email", "phone", "address"})

    assert set(bare.claims) == {"sub", "roles", "ial"}
    assert bare.registry_fields == []
    assert profile.claims["name"] == "SITI RAHAYU"
    assert profile.claims["birthdate"] == "1970-01-01"
    assert profile.claims["gender"] == "female"
    assert "email" not in profile.claims
    assert "address" not in profile.claims
    assert profile.registry_fields == ["full_name", "birth_date", "gender"]
    assert everything.claims["email"] == "siti@warga.test"
    assert everything.claims["phone_number"] == "+6281234567890"
    assert everything.claims["address"]["region_code"] == "35.73.01.1001"
    assert everything.registry_fields == ["full_name", "birth_date", "gender", "address"]
    assert "3573014101700100" not in str(everything.claims)  # the NIK is never a claim
