"""Comparing a data point a subject gives with what the system of record holds. Pure.

Tolerant of how people type: case, spacing, punctuation and accents do not matter
("Müller-Straße 5" = "mueller strasse 5" is *not* claimed: "Muller Strasse 5" is), and phone
numbers are compared as E.164 (``+49 30 5550101`` = ``0049-30-555 0101`` = ``030 5550101`` with
the record's country). Never says which point failed: callers see only the count of matches.
"""

from __future__ import annotations

import hmac
import re
import unicodedata

_SPACES = re.compile(r"[\s\-_.,/'’`]+")
# Letters that do not decompose into a base letter and a mark.
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ı": "i"})


def fold_text(value: str) -> str:
    """Lower case, accents removed, runs of spaces and punctuation dropped."""
    v = unicodedata.normalize("NFKD", value.casefold().translate(_FOLD))
    v = "".join(ch for ch in v if not unicodedata.combining(ch))
    return _SPACES.sub("", v)


def e164(value: str, region: str | None = None) -> str | None:
    """The number in E.164, or None when it is not a possible phone number. ``region``: the
    country to read a national number in (the record's country)."""
    # imported when a number is first read (its metadata takes tens of milliseconds), not by
    # every process that imports the identity service (`dsar request show`)
    import phonenumbers

    v = value.strip()
    if v.startswith("00"):
        v = "+" + v[2:]
    try:
        parsed = phonenumbers.parse(v, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# What a phone number on file may be written with before it is parsed: digits, one leading
# plus, spaces and the usual separators. Letters (phonenumbers reads "1-800-FLOWERS" as digits),
# control characters and anything else make it no number to text.
_PHONE_CHARS = re.compile(r"\+?[0-9 ().\-/]{4,32}")


def textable_number(value: str | None, *regions: str | None) -> str | None:
    """The E.164 form of a phone number on file that a text message can go to, or None: a
    *valid* number for phonenumbers (not merely possible), read in the first of ``regions``
    phonenumbers knows (the record's country, then the request's) when it is written
    nationally. Never raises, whatever the value holds."""
    import phonenumbers

    if not isinstance(value, str):
        return None
    v = value.strip()
    if not _PHONE_CHARS.fullmatch(v):
        return None
    if v.startswith("00"):
        v = "+" + v[2:]
    region = next((c.strip().upper() for c in regions if c and c.strip().upper() in phonenumbers.SUPPORTED_REGIONS), None)
    try:
        parsed = phonenumbers.parse(v, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def point_matches(kind: str, given: str, held: str, *, region: str | None = None) -> bool:
    """Whether one given data point equals what is held (compared in constant time)."""
    if not given.strip() or not held.strip():
        return False
    if kind == "phone":
        a, b = e164(given, region), e164(held, region)
        return a is not None and b is not None and _equal(a, b)
    return _equal(fold_text(given), fold_text(held))
