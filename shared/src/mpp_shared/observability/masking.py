"""Masks personal numbers (NIK, KK, phone) in text bound for logs (UU 27/2022 PDP)."""

from __future__ import annotations

import re

# 16 digits not part of a longer number: a NIK or a KK number.
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{2})(?!\d)")
# Indonesian mobile numbers: +62 8…, 62 8… or 08…, 10 to 14 digits in all, with optional
# spaces or dashes; never the middle of an identifier, a UUID or a longer number.
_PHONE = re.compile(r"(?<![\w\-+])(?:\+?62|0)8[\d -]{7,16}\d(?![\w-])")


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
    return _PHONE.sub(_mask_phone_match, text)


def _mask_phone_match(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return mask_phone(match.group(0)) if 10 <= digits <= 14 else match.group(0)
