"""Masks personal data in text bound for logs (NIK, KK, phone numbers) and in text people
wrote, shown where anyone with a link or code may read it (also landlines and e-mail
addresses) (UU 27/2022 PDP)."""

from __future__ import annotations

import re

# 16 digits not part of a longer number: a NIK or a KK number.
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{2})(?!\d)")
# Indonesian mobile numbers: +62 8…, 62 8… or 08…, 10 to 14 digits in all, with optional
# spaces or dashes; never the middle of an identifier, a UUID or a longer number.
_PHONE = re.compile(r"(?<![\w\-+])(?:\+?62|0)8[\d -]{7,16}\d(?![\w-])")
# Any Indonesian phone number as people write it: mobile or landline, +62 or 0 first, with
# spaces, dashes or the area code in brackets: (0541) 741234, +62 812 3456 7890; never after
# a dot, a dash or a slash (a registration number such as 64.09-2026-000042, a date, a path).
_WRITTEN_PHONE = re.compile(
    r"(?<![\w.\-+/])(?:\+62|\(?0)[ -]?[2-9](?:\d|[ -](?=\d)|\)[ -]?(?=\d)){6,17}(?![\w-])"
)
# An e-mail address as people write it in a message.
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[^\W_](?:[\w-]*\.)+[^\W\d_]{2,}(?![\w-])")


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


def mask_email(address: str) -> str:
    """``budi.santoso@mail.example.co.id`` → ``b***@m***.id``: enough to recognise one's own."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain[:1]}***.{domain.rsplit('.', 1)[-1]}"


def mask_personal_text(text: str) -> str:
    """Text a person wrote (a complaint's thread), for a view that is not theirs nor the
    staff's: NIK and KK numbers, mobile and landline numbers and e-mail addresses masked."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    text = mask_personal_data(text)
    return _WRITTEN_PHONE.sub(_mask_written_phone_match, text)


def _mask_written_phone_match(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return mask_phone(match.group(0)) if 9 <= digits <= 14 else match.group(0)
