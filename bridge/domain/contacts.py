"""Contacts: a customer's WhatsApp number, as an agent types it and as WhatsApp knows it."""

from __future__ import annotations

from typing import Final

import phonenumbers

__all__ = ["language_of", "normalize_phone"]

# The language most of a country's customers write in, for ranking templates; a guess only
# where nothing better is known (the language of the last template the contact received).
_LANGUAGES = {
    **dict.fromkeys(("DE", "AT", "LI"), "de"),
    **dict.fromkeys(("FR", "MC", "SN", "CI"), "fr"),
    **dict.fromkeys(("ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "UY", "PY", "BO"), "es"),
    **dict.fromkeys(("PT", "BR", "AO", "MZ"), "pt"),
    **dict.fromkeys(("IT", "SM"), "it"),
    **dict.fromkeys(("NL", "SR"), "nl"),
    **dict.fromkeys(("GB", "US", "IE", "AU", "NZ", "CA", "IN", "ZA", "NG", "KE", "PH", "SG"), "en"),
    "TR": "tr",
    "PL": "pl",
    "ID": "id",
    "SA": "ar",
    "AE": "ar",
    "EG": "ar",
    "RU": "ru",
}


#: Lengths of a national number that parses whatever its digits.
_PARSES: Final = range(4, 16)
#: ``_by_calling_code`` cannot tell: parse the number.
_PARSE: Final = "parse"


def _by_calling_code(wa_id: str) -> str | None:
    """The language where the calling code alone decides it, as ``phonenumbers`` would (a
    code of one country, or of none): parsing is most of a window scan's time otherwise."""
    if not (wa_id.isascii() and wa_id.isdigit()) or wa_id.startswith("0"):
        return _PARSE
    for size in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(wa_id[:size]))
        if regions:
            break
    else:
        return None  # no such calling code: the number does not parse
    if len(regions) > 1:
        return _PARSE  # +1, +7, +44...: the region depends on the number
    language = _LANGUAGES.get(regions[0])
    if language is None or len(wa_id) - size in _PARSES:
        return language
    return _PARSE


def language_of(wa_id: str) -> str | None:
    """The language a contact most likely writes in, from their number's country."""
    language = _by_calling_code(wa_id)
    if language is not _PARSE:
        return language
    try:
        number = phonenumbers.parse("+" + wa_id, None)
    except phonenumbers.NumberParseException:
        return None
    return _LANGUAGES.get(phonenumbers.region_code_for_number(number) or "")


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
