"""Masks personal numbers (NIK, KK, phone) in text bound for logs (UU 27/2022 PDP)."""

from __future__ import annotations

import re

# 16 digits not part of a longer number: a NIK or a KK number.
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{2})(?!\d)")
# Indonesian mobile and fixed numbers: +62 / 62 / 0, then 8-12 more digits, with optional
# separators. Group 1 keeps the prefix, group 2 the last two digits.
_PHONE = re.compile(r"(?<![\w+])((?:\+62|62|0)[\s-]?8?)(?:[\s-]?\d){6,10}?([\s-]?\d{2})(?!\d)")


def mask_nik(nik: str) -> str:
    """``3573014101900001`` → ``3573**********01`` (the API's masked form)."""
    if len(nik) != 16:
        return "*" * len(nik)
    return f"{nik[:4]}{'*' * 10}{nik[-2:]}"


def mask_phone(phone: str) -> str:
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 6:
        return "*" * len(phone)
    return "".join(digits[:4]) + "*" * (len(digits) - 6) + "".join(digits[-2:])


def mask_personal_data(text: str) -> str:
    text = _SIXTEEN_DIGITS.sub(lambda m: f"{m.group(1)}{'*' * 10}{m.group(2)}", text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
