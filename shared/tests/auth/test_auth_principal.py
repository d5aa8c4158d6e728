"""Principal: built from claims, answering role, scope, staff and enrolment questions."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from mpp_shared.auth import MFA_ENROLL_SCOPE, Principal, Role


def test_claims_become_a_principal():
    agency = uuid.uuid4()

    principal = Principal.from_claims(
        {
            "sub": "u-1",
            "roles": ["agency_admin", "officer"],
            "scope": "openid  webhooks:manage ",
            "agency_id": str(agency),
            "ial": 1,
            "azp": "mpp-app",
        }
    )

    assert principal.subject == "u-1"
    assert principal.roles == {"agency_admin", "officer"}
    assert principal.scopes == {"openid", "webhooks:manage"}
    assert principal.agency_id == agency
    assert principal.assurance_level == 1
    assert principal.client_id == "mpp-app"


def test_missing_optional_claims_have_safe_defaults():
    principal = Principal.from_claims({"sub": "u-2"})

    assert principal.roles == frozenset()
    assert principal.scopes == frozenset()
    assert principal.agency_id is None
    assert principal.assurance_level == 0
    assert principal.client_id is None
    assert not principal.is_staff
    assert not principal.is_citizen


def test_client_id_is_preferred_over_azp():
    principal = Principal.from_claims({"sub": "c", "client_id": "bpjs", "azp": "other"})

    assert principal.client_id == "bpjs"


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"sub": 7},
        {"sub": "u", "agency_id": 12},
        {"sub": "u", "agency_id": "not-a-uuid"},
        {"sub": "u", "ial": True},
        {"sub": "u", "ial": -1},
        {"sub": "u", "scope": 5},
        {"sub": "u", "roles": [None]},
        {"sub": "u", "client_id": 3},
    ],
)
def test_malformed_claims_are_refused(claims):
    with pytest.raises(ValueError, match=r"claim|subject"):
        Principal.from_claims(claims)


def test_role_questions():
    officer = Principal(subject="o", roles=frozenset({Role.OFFICER}))
    citizen = Principal(subject="c", roles=frozenset({"citizen"}))
    admin = Principal(subject="a", roles=frozenset({"platform_admin"}))

    assert officer.has_role("officer", "agency_admin")
    assert not officer.has_role("agency_admin")
    assert not officer.has_role()
    assert officer.is_staff
    assert not officer.is_citizen
    assert citizen.is_citizen
    assert not citizen.is_staff
    assert admin.is_staff
    assert admin.has_role(Role.PLATFORM_ADMIN)


def test_scope_questions_and_the_enrolment_restriction():
    enrolling = Principal(
        subject="s", roles=frozenset({"officer"}), scopes=frozenset({MFA_ENROLL_SCOPE})
    )
    enrolled = Principal(subject="s", roles=frozenset({"officer"}), scopes=frozenset({"openid"}))

    assert enrolling.has_scope("mfa:enroll")
    assert enrolling.needs_mfa_enrolment
    assert not enrolled.needs_mfa_enrolment
    assert not enrolled.has_scope("mfa:enroll")


def test_a_principal_is_immutable_and_does_not_print_its_claims():
    principal = Principal.from_claims({"sub": "u", "nik": "3573010101900001"})

    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.subject = "someone else"  # type: ignore[misc]
    with pytest.raises(TypeError):
        principal.claims["sub"] = "x"  # type: ignore[index]
    assert "3573010101900001" not in repr(principal)
    assert principal.claims["nik"] == "3573010101900001"
