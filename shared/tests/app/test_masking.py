"""Masking of personal data in text bound for logs and for public views."""

import pytest

from mpp_shared.observability.masking import mask_nik, mask_personal_data, mask_personal_text


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "NIK saya 3573014101900001, hubungi 0812-3456-7890 atau budi.santoso@example.com.",
            "NIK saya 3573**********01, hubungi 0812******90 atau b***@e***.com.",
        ),
        ("surel Budi_S+mpp@mail.example.co.id", "surel B***@m***.id"),
        ("telepon (0541) 741234 / 021-5551234", "telepon 0541****34 / 0215****34"),
        ("kantor +62 21 5551234", "kantor 6221*****34"),
        ("hp +62 812 3456 7890", "hp 6281*******90"),
        # Numbers that are no one's: registration and case numbers, dates, times, amounts.
        ("permohonan 64.09-2026-000042", "permohonan 64.09-2026-000042"),
        ("pengaduan ADU-64.72-2026-000007", "pengaduan ADU-64.72-2026-000007"),
        ("tanggal 03-12-2026 pukul 09.30-12.00", "tanggal 03-12-2026 pukul 09.30-12.00"),
        ("biaya Rp 150.000 untuk 2 lembar", "biaya Rp 150.000 untuk 2 lembar"),
        ("jam 0800-1600", "jam 0800-1600"),
        ("bukan surel: @petugas atau a@b", "bukan surel: @petugas atau a@b"),
    ],
)
def test_personal_text_masks_nik_phones_and_email_and_keeps_other_numbers(
    text: str, expected: str
) -> None:
    assert mask_personal_text(text) == expected
