"""Screening of free text for direct identifiers, and receipt codes (DOMAIN.md §6).

People who want an identifier kept (or who type fast) write it in many ways: digits split by
spaces, dashes, dots or slashes, grouped 4-4-4 or 6-3-3, with invisible characters between them,
the letter O for a zero, "a.b (at) mail (dot) kz". The text is therefore normalised first
(Unicode NFKC, zero-width characters and soft hyphens removed, look-alike letters next to digits
read as digits, obfuscated '@' and '.' restored), then screened:
- IIN: 12 digits. Written as one number (or 6 + 6) it is refused whatever its check digit; in
  any other grouping it is refused when its check digit is right (so that three years in a row,
  '1949 1965 1966', are not mistaken for one).
- phone numbers: the `phonenumbers` library (Google's libphonenumber data) finds numbers valid
  for the configured regions (Kazakhstan and Russia by default: SCREENING_PHONE_REGIONS), with or
  without a country prefix, plus any +7/8 number of 11 digits whatever its operator code.
- e-mail addresses, also with '(at)', '[at]', '(dot)' and the like.
Positions in the result refer to the normalised text.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

DEFAULT_PHONE_REGIONS = ("KZ", "RU")

# Characters that show nothing: zero-width space/joiners, word joiner, BOM, soft hyphen, and
# the invisible separators some keyboards insert.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"),
    None,
)
# Letters read as digits when they stand among digits: O for 0, l and I for 1 (Latin and
# Cyrillic look-alikes). Only letters that are not part of a word: 'Oil' and 'is' stay words.
_LOOKALIKES = {"O": "0", "o": "0", "О": "0", "о": "0", "l": "1", "I": "1", "|": "1", "І": "1"}
_SEPARATORS = r"[\s\-‐‑‒–—.,/\\_()\[\]{}:;'\"*+~=#]"
_LOOK = "[" + "".join(_LOOKALIKES) + "]"
_WORD_LETTER = rf"(?:(?!{_LOOK})[^\W\d_])"
_LOOKALIKE_NEAR_DIGIT = re.compile(
    rf"(?<=\d)({_SEPARATORS}{{0,3}})({_LOOK})(?!{_WORD_LETTER})"
    rf"|(?<!{_WORD_LETTER})({_LOOK})(?={_SEPARATORS}{{0,3}}\d)"
)
_AT = re.compile(
    r"\s*(?:[\(\[\{<]\s*(?:at|@|собака|эт)\s*[\)\]\}>]|\s(?:at|собака)\s(?=\S+\s*"
    r"(?:[\(\[\{<]\s*(?:dot|точка)\s*[\)\]\}>]|\.)))\s*",
    re.IGNORECASE,
)
_DOT = re.compile(r"\s*[\(\[\{<]\s*(?:dot|точка|\.)\s*[\)\]\}>]\s*", re.IGNORECASE)
# "a. @ b.kz": a local part may end in any character an address allows, a dot included
_SPACED_AT = re.compile(r"(?<=[\w.+\-])\s*@\s*(?=\w)")

# A run of digits, each separated from the next by at most 3 separator characters.
_DIGIT_RUN = re.compile(rf"\d(?:{_SEPARATORS}{{0,3}}\d)*")
_GROUP = re.compile(r"\d+")
# An IIN written the usual ways: 12 digits, or 6 + 6 with a space, dash or dot.
_PLAIN_IIN = re.compile(r"\d{12}|\d{6}[\s\-.]{1,2}\d{6}")
_RU_KZ_PHONE = re.compile(
    rf"(?<![\d])(?:\+{_SEPARATORS}*7|8|7)(?:{_SEPARATORS}{{0,3}}\d){{10}}(?!{_SEPARATORS}{{0,2}}\d)"
)
# A version-4 UUID, as uuid() writes one into an answer (ODK's and the page's): a random key of
# the record, not of a person, whose digit groups can read as a phone number by chance.
_UUID4 = re.compile(
    r"(?<![0-9a-f-])[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}(?![0-9a-f-])",
    re.IGNORECASE,
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


def normalize_for_screening(text: str, lookalikes: bool = True) -> str:
    """The text as screened: NFKC, invisible characters gone, obfuscated '@' and '.' restored,
    and (lookalikes) letters touching digits read as digits."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = _AT.sub("@", text)
    text = _DOT.sub(".", text)
    text = _SPACED_AT.sub("@", text)
    previous = None
    while lookalikes and previous != text:  # a run like '7OO1' needs a pass per letter
        previous = text
        text = _LOOKALIKE_NEAR_DIGIT.sub(_digit_for_lookalike, text)
    return text


def _digit_for_lookalike(match: re.Match[str]) -> str:
    if match.group(2) is not None:
        return match.group(1) + _LOOKALIKES[match.group(2)]
    return _LOOKALIKES[match.group(3)]


def iin_checksum_ok(digits: str) -> bool:
    """Whether 12 digits carry a correct IIN/BIN check digit (the two-pass mod-11 rule)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    values = [int(d) for d in digits]
    check = sum(v * w for v, w in zip(values[:11], range(1, 12), strict=True)) % 11
    if check == 10:
        weights = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        check = sum(v * w for v, w in zip(values[:11], weights, strict=True)) % 11
        if check == 10:
            return False
    return check == values[11]


def _iins(text: str) -> Iterable[tuple[int, int]]:
    for match in _PLAIN_IIN.finditer(text):
        before = text[match.start() - 1 : match.start()]
        after = text[match.end() : match.end() + 1]
        if not (before.isdigit() or after.isdigit()):
            yield match.span()
    for run in _DIGIT_RUN.finditer(text):
        groups = list(_GROUP.finditer(run.group()))
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last].group()
                if len(digits) == 12 and iin_checksum_ok(digits):
                    yield run.start() + groups[first].start(), run.start() + groups[last].end()
                if len(digits) >= 12:
                    break


def _phones(text: str, regions: Iterable[str]) -> Iterable[tuple[int, int]]:
    regions = tuple(regions)
    for match in _RU_KZ_PHONE.finditer(text):
        yield match.span()
    # Digits in any grouping: consecutive groups holding 10 or 11 digits that make a valid number.
    for run in _DIGIT_RUN.finditer(text):
        groups = list(_GROUP.finditer(run.group()))
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last].group()
                if len(digits) in {10, 11} and _valid_phone(digits, regions):
                    yield run.start() + groups[first].start(), run.start() + groups[last].end()
                if len(digits) >= 11:
                    break
    for region in regions:
        for found in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.VALID
        ):
            yield found.start, found.end


def _valid_phone(digits: str, regions: tuple[str, ...]) -> bool:
    for region in regions:
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def find_identifiers(
    text: str, phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS
) -> list[IdentifierFound]:
    """Every IIN, phone number and e-mail address in a text (normalised), in order.

    The text is screened as written and with look-alike letters read as digits: reading a
    letter as a digit can also break a number apart ('8 701 123 45 67 о встрече'). A
    version-4 UUID (what uuid() writes) is not read for digits.
    """
    text = _UUID4.sub(lambda match: "x" * len(match.group()), text)
    plain = _find(normalize_for_screening(text, lookalikes=False), phone_regions)
    read_as_digits = _find(normalize_for_screening(text), phone_regions)
    if not read_as_digits or {f.kind for f in read_as_digits} <= {f.kind for f in plain}:
        return plain
    # Where the two readings overlap, the text as written wins: a letter read as a digit next
    # to a phone number ('+7 … O') must not make a second, different identifier of its digits.
    extra = [f for f in read_as_digits if not any(_overlap(f, other) for other in plain)]
    return sorted({*plain, *extra}, key=_position)


def _overlap(one: IdentifierFound, other: IdentifierFound) -> bool:
    return one.start < other.end and other.start < one.end


def _position(found: IdentifierFound) -> tuple[int, int]:
    return found.start, found.end


def _find(normalized: str, phone_regions: Iterable[str]) -> list[IdentifierFound]:
    candidates: list[tuple[str, int, int]] = [
        ("email", *m.span()) for m in EMAIL_PATTERN.finditer(normalized)
    ]
    candidates += [("iin", *span) for span in _iins(normalized)]
    candidates += [("phone", *span) for span in _phones(normalized, tuple(phone_regions))]
    found: list[IdentifierFound] = []
    for kind, start, end in candidates:  # e-mail first, then IIN, then phone: first claim wins
        candidate = IdentifierFound(kind, start, end)
        if not any(_overlap(candidate, other) for other in found):
            found.append(candidate)
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


# A device code another interview already holds is kept, scoped: "K7RA-3MXP-9QWE/2" is the
# second interview whose respondent holds "K7RA-3MXP-9QWE" (fits String(16)).
SCOPE_SEPARATOR = "/"


def held_code(receipt_code: str) -> str:
    """The code the respondent holds, without the scope a shared device code gets."""
    return receipt_code.split(SCOPE_SEPARATOR, 1)[0]


def normalize_receipt_code(text: str) -> str:
    """A typed receipt code in canonical form (upper case, dashes every four), for look-ups.

    A scope typed after the code (`k7ra3mxp9qwe / 2`, copied from the review queue) is kept,
    as `K7RA-3MXP-9QWE/2`: the dashes are put back in the code before it."""
    code, separator, scope = text.partition(SCOPE_SEPARATOR)
    raw = re.sub(r"[\s\-]", "", code.upper())
    if len(raw) in (RECEIPT_LENGTH, DEVICE_RECEIPT_LENGTH):
        raw = "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))
    return raw + separator + re.sub(r"\s", "", scope)
