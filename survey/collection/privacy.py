"""Screening of free text for direct identifiers, and receipt codes (DOMAIN.md §6)."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

# Digits may be separated by spaces, dashes, dots or brackets when people write numbers down.
_SEP = r"[\s\-.()]*"
# An IIN is written as 12 digits, sometimes split after the birth date (6 + 6).
IIN_PATTERN = re.compile(r"(?<![\d\-])\d{6}[\s\-.]{0,2}\d{6}(?![\d\-]?\d)")
PHONE_PATTERN = re.compile(
    r"(?<![\w+])(?:\+\s*7|8|7)"
    + _SEP
    + r"\(?\d{3}\)?"
    + _SEP
    + r"\d{3}"
    + _SEP
    + r"\d{2}"
    + _SEP
    + r"\d{2}(?!"
    + _SEP
    + r"\d)"
)
EMAIL_PATTERN = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G: a respondent reads the code back over a bad phone line.
RECEIPT_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"
RECEIPT_LENGTH = 8


@dataclass(frozen=True)
class IdentifierFound:
    """A direct identifier found in a text: its kind ('iin', 'phone', 'email') and position."""

    kind: str
    start: int
    end: int


def find_identifiers(text: str) -> list[IdentifierFound]:
    """Every IIN, phone number and e-mail address in a text, in order of appearance."""
    # NFKC turns full-width and other Unicode digits into ASCII ones before matching.
    normalized = unicodedata.normalize("NFKC", text)
    found: list[IdentifierFound] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in (("email", EMAIL_PATTERN), ("iin", IIN_PATTERN), ("phone", PHONE_PATTERN)):
        for match in pattern.finditer(normalized):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            found.append(IdentifierFound(kind, *span))
    return sorted(found, key=lambda f: f.start)


def new_receipt_code() -> str:
    """A random code like 'K7RA-3MXP' for the respondent to keep."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


# Codes issued on a device while offline cannot be checked against the server's: they are
# longer (12 characters, about 54 bits), so that a million of them collide with a chance of
# about 1 in 40,000; the server keeps the code it can derive itself from the instanceID.
DEVICE_RECEIPT_LENGTH = 12


def device_receipt_code(instance_id: str) -> str:
    """The receipt code a device issues for an interview: 12 characters from the SHA-256 of its
    instanceID (static/js/offline.js derives the same), like 'K7RA-3MXP-9QWE'."""
    number = int.from_bytes(hashlib.sha256(instance_id.encode("utf-8")).digest(), "big")
    letters = []
    for _ in range(DEVICE_RECEIPT_LENGTH):
        number, index = divmod(number, len(RECEIPT_ALPHABET))
        letters.append(RECEIPT_ALPHABET[index])
    raw = "".join(letters)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_receipt_code(text: str) -> str:
    """A typed receipt code in canonical form (upper case, dashes every four), for look-ups."""
    raw = re.sub(r"[\s\-]", "", text.upper())
    if len(raw) in (RECEIPT_LENGTH, DEVICE_RECEIPT_LENGTH):
        return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))
    return raw
