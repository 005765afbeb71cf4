"""Text that a regex() constraint accepts, and whether a text question asks for a phone number.

A constraint such as regex(., '^[0-9]{3}-[0-9]{4}$') is JavaScript-flavoured; the server runs it
on RE2 after expressions.re2_pattern() translates it. Strings are drawn from that translation
(in Python's syntax) by rstr's Xeger, which reverses a regular expression, with open repetitions
('*', '+', '{2,}') capped so that answers stay short. Every draw is checked with the server's own
expressions.regex_matches() and kept only when the web form would store it unchanged; a pattern
whose draws keep failing (a construct rstr reads differently) yields None, never a wrong answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from random import Random
from typing import Any

from rstr import Rstr

from survey.instruments import expressions
from survey.instruments.registry import MAX_TEXT_LENGTH, clean_text
from survey.instruments.spec import Question

# Repetitions an open repetition may draw beyond its minimum: '+' gives 1 to 4 copies.
REPEAT_CAP = 3
_TRIES = 24
# RE2-only syntax of the translation: \x{hhhh} code points and \z (end of text). An escaped
# backslash is matched first so that '\\x{2}' (a backslash, then 'x' twice) stays as it is.
_RE2_ONLY = re.compile(r"\\\\|\\x\{([0-9a-fA-F]+)\}|\\z")
# Words of a name or label that ask for a phone number (English, Russian, Kazakh).
_PHONE_WORDS = re.compile(
    r"phone|mobile|whatsapp|телефон|мобильн|ұялы|\btel\b|\bcell\b|\bmsisdn\b", re.IGNORECASE
)
_PHONE_CHARACTERS = frozenset("0123456789+-.() ")
PHONE_DIGITS = range(7, 16)  # E.164 numbers have at most 15 digits; local ones at least 7


class _CappedXeger(Rstr):
    """rstr's Xeger with open repetitions capped at `cap` beyond their minimum."""

    def __init__(self, rng: Random, cap: int) -> None:
        super().__init__(rng)
        self._cap = cap

    def _handle_repeat(self, start_range: int, end_range: int, value: Any) -> str:
        return super()._handle_repeat(start_range, min(end_range, start_range + self._cap), value)


def _python_syntax(re2: str) -> str:
    """The translated pattern in the syntax of Python's re (which rstr parses)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return f"\\U{int(match.group(1), 16):08x}"
        return "\\Z" if match.group() == "\\z" else match.group()

    return _RE2_ONLY.sub(replace, re2)


def constraint_patterns(question: Question) -> tuple[str, ...]:
    """The patterns a text answer must match: regex(., 'p') as the constraint or one of its
    'and' terms ('.' may be written ${name}, the question itself)."""
    if question.type != "text" or not question.constraint:
        return ()
    try:
        node = expressions.parse(question.constraint)
    except expressions.ExpressionError:
        return ()
    found: list[str] = []

    def walk(node: expressions.Node) -> None:
        if isinstance(node, expressions.BinOp) and node.op == "and":
            walk(node.left)
            walk(node.right)
        elif (
            isinstance(node, expressions.Call)
            and node.name == "regex"
            and len(node.args) == 2
            and isinstance(node.args[1], expressions.Str)
            and (
                isinstance(node.args[0], expressions.Current)
                or node.args[0] == expressions.Ref(question.name)
            )
        ):
            found.append(node.args[1].value)

    walk(node)
    return tuple(found)


def text_matching(
    patterns: Sequence[str], rng: Random, *, cap: int = REPEAT_CAP, tries: int = _TRIES
) -> str | None:
    """A text that matches every pattern as the server checks it and that the web form stores
    as typed (trimmed, NFC, not empty, not too long); None when no draw gives one."""
    if not patterns:
        return None
    try:
        sources = [_python_syntax(expressions.re2_pattern(p)) for p in patterns]
    except ValueError:
        return None  # refused at import anyway: no answer can match it
    xeger = _CappedXeger(rng, cap)
    for attempt in range(tries):
        # Each pattern in turn is the source; the draw must match the others too.
        try:
            text = xeger.xeger(sources[attempt % len(sources)])
        except (re.error, KeyError, IndexError, ValueError, OverflowError, RecursionError):
            return None  # a construct rstr cannot reverse
        if (
            text
            and len(text) <= MAX_TEXT_LENGTH
            and clean_text(text) == text
            and all(expressions.regex_matches(text, p) for p in patterns)
        ):
            return text
    return None


def asks_for_phone_number(question: Question) -> bool:
    """Whether a text question seems to ask for a phone number: its name or a label says so,
    or the shortest answer its regex() constraint accepts is 7 to 15 digits, with nothing but
    the spaces, dots, dashes, brackets and plus of phone numbers around them."""
    if question.type != "text":
        return False
    words = [question.name.replace("_", " "), *question.labels.values()]
    if any(_PHONE_WORDS.search(text) for text in words):
        return True
    for pattern in constraint_patterns(question):
        # Seeded by the pattern: the same form gets the same verdict every time.
        shortest = text_matching((pattern,), Random(pattern), cap=0)  # noqa: S311
        if (
            shortest is not None
            and set(shortest) <= _PHONE_CHARACTERS
            and sum(c.isdigit() for c in shortest) in PHONE_DIGITS
        ):
            return True
    return False
