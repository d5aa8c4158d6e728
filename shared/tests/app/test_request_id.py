"""Which X-Request-ID values a service keeps, and which it replaces with one of its own."""

from __future__ import annotations

import uuid

import pytest

from mpp_shared.observability.context import accept_request_id


@pytest.mark.parametrize(
    "value",
    ["req-123", "a", "A.b_c-9", "x" * 64, "550e8400-e29b-41d4-a716-446655440000"],
)
def test_a_short_token_is_kept(value: str) -> None:
    assert accept_request_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "3573014101900001",  # a NIK: the id is logged unmasked on every line
        "nik-3573014101900001",
        "081234567890",  # a phone number
        "+6281234567890",
        "warga@example.test",
        "x" * 65,
        "two words",
        "a:b",
        "req-1\n",
        "",
        None,
    ],
    ids=[
        "nik",
        "nik-inside",
        "phone",
        "phone-intl",
        "email",
        "too-long",
        "space",
        "colon",
        "newline",
        "empty",
        "none",
    ],
)
def test_anything_else_is_replaced_by_a_new_id(value: str | None) -> None:
    accepted = accept_request_id(value)

    assert accepted != value
    assert uuid.UUID(accepted)
