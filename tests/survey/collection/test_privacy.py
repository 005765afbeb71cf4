"""Direct-identifier screening and receipt codes (property tests with hypothesis)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from survey.collection.privacy import (
    RECEIPT_ALPHABET,
    find_identifiers,
    new_receipt_code,
    normalize_receipt_code,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
separator = st.sampled_from(["", " ", "-", "  ", "."])
# Words without digits or '@' can never contain an identifier.
words = st.text(
    alphabet=st.characters(
        categories=["L", "Zs"], include_characters="әғқңөұүһі,;:!?", exclude_characters="@"
    ),
    max_size=40,
)


@st.composite
def iins(draw: st.DrawFn) -> str:
    number = "".join(draw(digits) for _ in range(12))
    sep = draw(separator)
    return sep.join([number[:6], number[6:]]) if draw(st.booleans()) else number


@st.composite
def phones(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["+7", "8", "+7 ", "8 "]))
    body = "".join(draw(digits) for _ in range(10))
    sep = draw(separator)
    if draw(st.booleans()):
        return f"{prefix}({body[:3]}) {body[3:6]}{sep}{body[6:8]}{sep}{body[8:]}"
    return prefix + sep.join([body[:3], body[3:6], body[6:8], body[8:]])


@given(before=words, iin=iins(), after=words)
def test_every_iin_is_found(before: str, iin: str, after: str) -> None:
    found = find_identifiers(f"{before} {iin} {after}")
    assert [f.kind for f in found] == ["iin"]


@given(before=words, phone=phones(), after=words)
def test_every_phone_number_is_found(before: str, phone: str, after: str) -> None:
    found = find_identifiers(f"{before} {phone} {after}")
    assert [f.kind for f in found] == ["phone"]


@given(
    user=st.from_regex(r"[a-z][a-z0-9._]{0,10}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(kz|ru|com)", fullmatch=True),
    before=words,
)
def test_every_email_is_found(user: str, domain: str, before: str) -> None:
    found = find_identifiers(f"{before} {user}@{domain}")
    assert [f.kind for f in found] == ["email"]


@given(text=words)
def test_plain_words_are_never_flagged(text: str) -> None:
    assert find_identifiers(text) == []


def test_numbers_that_are_not_identifiers() -> None:
    for text in [
        "born 1956, moved in 1989",
        "tests 1949-1989",
        "we are 5 people, income 120000 tenge",
        "years 1949 1965 1966 1990",
        "a 13-digit number 1234567890123 is not an IIN",
    ]:
        assert find_identifiers(text) == [], text


def test_full_width_digits_are_normalised() -> None:
    assert [f.kind for f in find_identifiers("ИИН ８５０１０１３００１２３")] == ["iin"]


def test_receipt_codes() -> None:
    codes = {new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert re.fullmatch(rf"[{RECEIPT_ALPHABET}]{{4}}-[{RECEIPT_ALPHABET}]{{4}}", code)
    assert not set(RECEIPT_ALPHABET) & set("0O1IL2Z5S8B")


@given(code=st.text(alphabet=RECEIPT_ALPHABET, min_size=8, max_size=8))
def test_typed_receipt_codes_normalise(code: str) -> None:
    canonical = f"{code[:4]}-{code[4:]}"
    assert normalize_receipt_code(code.lower()) == canonical
    assert normalize_receipt_code(f" {code[:4]} {code[4:]} ") == canonical
