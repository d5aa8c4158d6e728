"""Masking of personal numbers in text bound for logs."""

import pytest

from mpp_shared.observability.masking import mask_nik, mask_personal_data


def test_nik_is_masked_like_the_api_does() -> None:
    assert mask_nik("3573014101900001") == "3573**********01"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nik=3573014101900001", "nik=3573**********01"),
        ("kk 6409011203080005 end", "kk 6409**********05 end"),
        ("hp +6281234567890", "hp 6281*******90"),
        ("hp 0812-3456-7890", "hp 0812******90"),
        ("order 12345", "order 12345"),
        ("uuid 3f2b8c1e-0000-4000-8000-000000000000", "uuid 3f2b8c1e-0000-4000-8000-000000000000"),
        ("seventeen 35730141019000012", "seventeen 35730141019000012"),
    ],
)
def test_personal_numbers_are_masked_and_other_numbers_kept(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected
