"""Contacts: a customer's WhatsApp number, as an agent types it and as WhatsApp knows it."""

from __future__ import annotations

import phonenumbers

__all__ = ["normalize_phone"]


def normalize_phone(text: str) -> str:
    """The WhatsApp id (country code and number, digits only) of a number an agent typed:
    ``+49 151 1234 5678``, ``0049 151 12345678`` or ``4915112345678``.

    ``ValueError`` says what is wrong when it is not a valid number with its country code.
    """
    raw = text.strip()
    digits = raw.lstrip("+")
    if raw.startswith("00"):
        digits = raw[2:]
    candidate = "+" + digits.lstrip("+")
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"{raw!r} is not a phone number; write it with its country code, e.g. +49 151 12345678"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(
            f"{raw!r} is not a valid phone number; write it with its country code, "
            "e.g. +49 151 12345678"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
