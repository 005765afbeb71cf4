"""A plain description of an instrument's questions, so analysis never imports the app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Codes every instrument shares (DOMAIN.md §4): "don't know" and "prefer not to answer".
DONT_KNOW = "dnk"
PREFER_NOT_TO_ANSWER = "pnta"
SPECIAL_CODES = (DONT_KNOW, PREFER_NOT_TO_ANSWER)


@dataclass(frozen=True)
class ChoiceDescription:
    """One answer code and its labels per language."""

    code: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QuestionDescription:
    """What analysis needs to know of a question.

    measure: 'categorical' (one code), 'multiple' (set of codes: one boolean column per code),
    'numeric', 'date', 'text' (free text: never exported or published), 'none' (notes).
    """

    name: str
    measure: str
    labels: Mapping[str, str] = field(default_factory=dict)
    choices: tuple[ChoiceDescription, ...] = ()
    repeat: str | None = None
    section: str | None = None
