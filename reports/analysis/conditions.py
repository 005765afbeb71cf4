"""A small, safe condition language kept as plain data (JSON-able dicts), with a text form.

Data form (one operator per leaf)::

    {"column": "unmet_need", "in": ["yes"]}           also "not_in"
    {"column": "age", ">=": 60}                        also "<", "<=", ">", "==", "!="
    {"column": "age", "is_missing": True}              no answer at all
    {"column": "age", "answered": True}                an answer other than dnk/pnta
    {"any_of_columns": ["wg_seeing", "wg_hearing"], "in": ["a_lot", "cannot"]}
    {"all": [...]}, {"any": [...]}, {"not": {...}}

Text form, for one cell of an XLSForm sheet::

    unmet_need in (yes) and (age >= 60 or generation in (g1, g2))
    not wg_disability in (yes)
    any(wg_seeing, wg_hearing) in (a_lot, cannot)
    age is missing        consent is answered        sex not in (male)

Evaluation is vectorised and never uses eval. A missing answer makes every leaf False except
`is_missing`, so `x != "a"` and `x not in (a)` are False for a missing x while `not x in (a)`
is True. A select_multiple question can be named by itself when the data hold only its
`<question>/<code>` boolean columns: `in` then means "chose any of these codes".

One module past 600 lines because it is one small language: its validation, its vectorised
evaluation and its text form (tokenizer, parser, renderer) follow the same grammar, and a change
to the grammar touches all three together.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reports.analysis.errors import AnalysisError
from reports.instrument import DONT_KNOW, PREFER_NOT_TO_ANSWER, SPECIAL_CODES  # noqa: F401

COMPARISONS: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
LIST_OPERATORS = ("in", "not_in")
FLAG_OPERATORS = ("is_missing", "answered")
OPERATORS = (*COMPARISONS, *LIST_OPERATORS, *FLAG_OPERATORS)
COMBINATORS = ("all", "any", "not")

Condition = Mapping[str, Any]
Scalar = str | int | float | bool


# --- validation -----------------------------------------------------------------------------


def validate_condition(condition: Any) -> None:
    """Raise AnalysisError unless condition is a well-formed condition dict."""
    if not isinstance(condition, Mapping):
        raise AnalysisError(f"A condition must be a mapping, not {type(condition).__name__}.")
    combinator = [key for key in COMBINATORS if key in condition]
    if combinator:
        key = combinator[0]
        if len(condition) != 1:
            raise AnalysisError(f"A '{key}' condition must have no other keys.")
        if key == "not":
            validate_condition(condition["not"])
            return
        children = condition[key]
        if isinstance(children, str | bytes) or not isinstance(children, Sequence):
            raise AnalysisError(f"'{key}' needs a list of conditions.")
        if not children:
            raise AnalysisError(f"'{key}' needs at least one condition.")
        for child in children:
            validate_condition(child)
        return
    _validate_leaf(condition)


def _validate_leaf(condition: Condition) -> None:
    """Check a comparison: one target, exactly one operator and a value that suits it."""
    if ("column" in condition) == ("any_of_columns" in condition):
        raise AnalysisError("A condition needs either 'column' or 'any_of_columns'.")
    if "column" in condition:
        if not isinstance(condition["column"], str) or not condition["column"]:
            raise AnalysisError("'column' must be a non-empty column name.")
    else:
        names = condition["any_of_columns"]
        if isinstance(names, str) or not isinstance(names, Sequence) or not names:
            raise AnalysisError("'any_of_columns' needs a non-empty list of column names.")
        if not all(isinstance(name, str) and name for name in names):
            raise AnalysisError("'any_of_columns' must list column names.")
    operators = [key for key in condition if key not in ("column", "any_of_columns")]
    unknown = [key for key in operators if key not in OPERATORS]
    if unknown:
        raise AnalysisError(f"Unknown condition operator '{unknown[0]}'.")
    if len(operators) != 1:
        raise AnalysisError(f"A condition needs exactly one operator (found {len(operators)}).")
    op = operators[0]
    value = condition[op]
    if op in FLAG_OPERATORS:
        if value is not True:
            raise AnalysisError(f"'{op}' takes the value true.")
    elif op in LIST_OPERATORS:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
            raise AnalysisError(f"'{op}' needs a non-empty list of values.")
        for item in value:
            _validate_scalar(item, op)
    else:
        _validate_scalar(value, op)
        if op not in ("==", "!=") and (isinstance(value, bool | str)):
            raise AnalysisError(f"'{op}' compares with a number (got {value!r}).")


def _validate_scalar(value: Any, op: str) -> None:
    """Values are strings, booleans or finite numbers."""
    if isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        try:
            if math.isfinite(float(value)):
                return
        except OverflowError:
            pass
    raise AnalysisError(f"'{op}' needs text, true/false or a finite number (got {value!r}).")


def condition_columns(condition: Condition) -> set[str]:
    """Every column name a condition reads."""
    validate_condition(condition)
    return set(_columns(condition))


def _columns(condition: Condition) -> Iterator[str]:
    """Yield column names depth first (condition already validated)."""
    if "not" in condition:
        yield from _columns(condition["not"])
    elif "all" in condition or "any" in condition:
        for child in condition.get("all", condition.get("any", ())):
            yield from _columns(child)
    elif "column" in condition:
        yield condition["column"]
    else:
        yield from condition["any_of_columns"]


# --- evaluation -----------------------------------------------------------------------------


def evaluate_condition(df: pd.DataFrame, condition: Condition) -> pd.Series:
    """A boolean Series, aligned with df, telling for each row whether the condition holds."""
    validate_condition(condition)
    return pd.Series(_evaluate(df, condition), index=df.index, dtype=bool)


def _evaluate(df: pd.DataFrame, condition: Condition) -> np.ndarray:
    """Evaluate recursively to a numpy bool array."""
    if "not" in condition:
        return ~_evaluate(df, condition["not"])
    if "all" in condition:
        result = np.ones(len(df), dtype=bool)
        for child in condition["all"]:
            result &= _evaluate(df, child)
        return result
    if "any" in condition:
        result = np.zeros(len(df), dtype=bool)
        for child in condition["any"]:
            result |= _evaluate(df, child)
        return result
    op = next(key for key in condition if key in OPERATORS)
    names = [condition["column"]] if "column" in condition else condition["any_of_columns"]
    result = np.zeros(len(df), dtype=bool)
    for name in names:
        result |= _evaluate_leaf(df, name, op, condition[op])
    return result


def evaluate_known(df: pd.DataFrame, condition: Condition) -> tuple[np.ndarray, np.ndarray]:
    """(holds, known): the condition in three-valued (Kleene) logic over unanswered items.

    A leaf on an item that was not answered (missing, dnk or pnta) is unknown, unless the leaf
    asks about the non-answer itself (`is missing`, `is answered`, or a list naming dnk/pnta).
    `and` is false as soon as one part is known false, `or` true as soon as one is known
    true; otherwise an unknown part makes the whole unknown. `holds` is False where unknown.
    """
    validate_condition(condition)
    holds, known = _evaluate_known(df, condition)
    return holds & known, known


def _evaluate_known(df: pd.DataFrame, condition: Condition) -> tuple[np.ndarray, np.ndarray]:
    """Recursive (holds, known) with holds meaningful only where known."""
    if "not" in condition:
        holds, known = _evaluate_known(df, condition["not"])
        return ~holds & known, known
    if "all" in condition or "any" in condition:
        every = "all" in condition
        parts = [_evaluate_known(df, child) for child in condition["all" if every else "any"]]
        all_known = np.logical_and.reduce([known for _, known in parts])
        if every:
            holds = np.logical_and.reduce([holds & known for holds, known in parts])
            settled = np.logical_or.reduce([~holds & known for holds, known in parts])
            return holds & all_known, all_known | settled
        holds = np.logical_or.reduce([holds & known for holds, known in parts])
        return holds, all_known | holds
    op = next(key for key in condition if key in OPERATORS)
    names = [condition["column"]] if "column" in condition else condition["any_of_columns"]
    value = condition[op]
    observed = op in FLAG_OPERATORS or (
        op in LIST_OPERATORS and any(str(item) in SPECIAL_CODES for item in value)
    )
    parts = []
    for name in names:
        holds = _evaluate_leaf(df, name, op, value)
        if observed:
            known = np.ones(len(df), dtype=bool)
        else:
            known = _evaluate_leaf(df, name, "answered", True)
        parts.append((holds & known, known))
    holds = np.logical_or.reduce([holds for holds, _ in parts])
    return holds, np.logical_and.reduce([known for _, known in parts]) | holds


def multiple_columns(df: pd.DataFrame, question: str) -> dict[str, str]:
    """The `<question>/<code>` boolean columns of a select_multiple question, by code."""
    prefix = f"{question}/"
    return {
        str(name)[len(prefix) :]: str(name)
        for name in df.columns
        if isinstance(name, str) and name.startswith(prefix)
    }


def has_column(df: pd.DataFrame, name: str) -> bool:
    """Whether a condition can read name: a column or a select_multiple question's columns."""
    return name in df.columns or bool(multiple_columns(df, name))


# Leaves (and multiple-choice questions) already read in this `shared_leaves()` block, one per
# thread or task, newest last.
_SHARED: ContextVar[OrderedDict[tuple, tuple[pd.DataFrame, Any]] | None] = ContextVar(
    "birge_shared_leaves", default=None
)
# Most repeats come within a few indicators (a question's answered / dnk / pnta masks, then
# its numerator); a bound keeps the memory at 1M rows to SHARED_LEAVES megabytes.
SHARED_LEAVES = 32


@contextmanager
def shared_leaves() -> Iterator[None]:
    """Within the block, a leaf (frame, column, operator, value) is evaluated once, not once per
    indicator reading it; the frames must not change inside the block (the plan never changes
    them). Nested blocks share the outer one's leaves."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set(OrderedDict())
    try:
        yield
    finally:
        _SHARED.reset(token)


def _evaluate_leaf(df: pd.DataFrame, name: str, op: str, value: Any) -> np.ndarray:
    """One column, one operator (read-only and shared with other callers in shared_leaves)."""
    memo = _SHARED.get()
    if memo is None:
        return _leaf(df, name, op, value)
    # repr tells 1, 1.0, True and "1" apart (they may not select the same rows)
    key = (id(df), name, op, repr(value))
    found = memo.get(key)
    if found is not None and found[0] is df:  # the frame is held, so its id is not reused
        memo.move_to_end(key)
        return found[1]
    result = _leaf(df, name, op, value)
    result.setflags(write=False)  # shared: a caller changing it in place would fail loudly
    memo[key] = (df, result)
    if len(memo) > SHARED_LEAVES:
        memo.popitem(last=False)
    return result


def _leaf(df: pd.DataFrame, name: str, op: str, value: Any) -> np.ndarray:
    """One column, one operator, evaluated."""
    if name not in df.columns:
        if multiple_columns(df, name):
            return _evaluate_multiple(df, name, op, value)
        raise AnalysisError(f"Column '{name}' is not in the data.")
    series = df[name]
    if isinstance(series, pd.DataFrame):
        raise AnalysisError(f"Column '{name}' appears more than once in the data.")
    missing = missing_mask(series)
    if op == "is_missing":
        return missing
    if op == "answered":
        return ~missing & ~_matches(series, list(SPECIAL_CODES))
    if op in LIST_OPERATORS:
        found = _matches(series, list(value))
        return (found if op == "in" else ~found) & ~missing
    if op in ("==", "!="):
        found = _matches(series, [value])
        return (found if op == "==" else ~found) & ~missing
    numbers = as_numbers(series)
    with np.errstate(invalid="ignore"):
        return np.asarray(COMPARISONS[op](numbers, float(value)), dtype=bool)


def _evaluate_multiple(df: pd.DataFrame, question: str, op: str, value: Any) -> np.ndarray:
    """A select_multiple question read through its `<question>/<code>` columns.

    A row is unanswered when all its code columns are missing (NA); columns that cannot hold NA
    (plain bool) fall back to "nothing chosen". Choosing only dnk/pnta is not an answer.
    """
    chosen, known, only_special = _multiple_answers(df, question)
    if op == "is_missing":
        return ~known
    if op == "answered":
        return known & ~only_special
    if op in LIST_OPERATORS or op in ("==", "!="):
        codes = [str(item) for item in (value if op in LIST_OPERATORS else [value])]
        hit = np.zeros(len(df), dtype=bool)
        for code in codes:
            if code in chosen:
                hit |= chosen[code]
        return hit if op in ("in", "==") else known & ~hit
    raise AnalysisError(f"'{op}' cannot be used with the multiple-choice question '{question}'.")


def _multiple_answers(
    df: pd.DataFrame, question: str
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A select_multiple question's chosen masks by code, whether it was answered at all, and
    whether only dnk/pnta were chosen: read once per question in a shared_leaves block."""
    memo = _SHARED.get()
    key = ("multiple", id(df), question)
    found = memo.get(key) if memo is not None else None
    if found is not None and found[0] is df:
        memo.move_to_end(key)
        return found[1]
    columns = multiple_columns(df, question)
    chosen = {code: chosen_mask(df[column]) for code, column in columns.items()}
    any_choice = np.logical_or.reduce(list(chosen.values()))
    if all(df[column].dtype == bool for column in columns.values()):
        known = any_choice
    else:
        known = np.logical_or.reduce(
            [df[column].notna().to_numpy(dtype=bool) for column in columns.values()]
        )
    real = [mask for code, mask in chosen.items() if code not in SPECIAL_CODES]
    any_real = np.logical_or.reduce(real) if real else np.zeros(len(df), dtype=bool)
    only_special = any_choice & ~any_real
    answers = (chosen, known, only_special)
    if memo is not None:
        for mask in (*chosen.values(), known, only_special):
            mask.setflags(write=False)
        memo[key] = (df, answers)
        if len(memo) > SHARED_LEAVES:
            memo.popitem(last=False)
    return answers


def missing_mask(series: pd.Series) -> np.ndarray:
    """True where there is no answer: NaN/None/NA, or an empty string."""
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.cat.categories
        if categories.dtype == object or pd.api.types.is_string_dtype(categories.dtype):
            empty = np.asarray(categories == "", dtype=bool)
            if empty.any():
                missing |= np.isin(series.cat.codes.to_numpy(), np.flatnonzero(empty))
    elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        missing |= series.eq("").fillna(False).to_numpy(dtype=bool)
    return missing


def chosen_mask(series: pd.Series) -> np.ndarray:
    """True where a select_multiple code column says chosen (True, 1, "1" or "true")."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return (
            series.fillna(False).to_numpy(dtype=bool)
            if series.hasnans
            else series.to_numpy(dtype=bool)
        )
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan) == 1.0
    return series.astype(object).isin([True, 1, "1", "true", "True", "yes"]).to_numpy(dtype=bool)


def as_numbers(series: pd.Series) -> np.ndarray:
    """Column values as floats; codes that are not numbers (e.g. dnk) become NaN."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = pd.to_numeric(pd.Series(series.cat.categories), errors="coerce")
        lookup = np.append(categories.to_numpy(dtype=float, na_value=np.nan), np.nan)
        codes = series.cat.codes.to_numpy()
        return lookup[np.where(codes < 0, len(lookup) - 1, codes)]
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(series.astype(object), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )


def _matches(series: pd.Series, values: list[Any]) -> np.ndarray:
    """Whether each value of series equals one of values, comparing numbers as numbers."""
    texts = [item for item in values if isinstance(item, str)]
    flags = [item for item in values if isinstance(item, bool)]
    numbers = [
        float(item)
        for item in values
        if isinstance(item, int | float) and not isinstance(item, bool)
    ]
    result = np.zeros(len(series), dtype=bool)
    if pd.api.types.is_bool_dtype(series.dtype):
        wanted = flags + [
            text.lower() == "true" for text in texts if text.lower() in ("true", "false")
        ]
        wanted += [bool(number) for number in numbers if number in (0.0, 1.0)]
        for flag in set(wanted):
            truth = chosen_mask(series)
            result |= truth if flag else (~truth & ~series.isna().to_numpy(dtype=bool))
        return result
    if pd.api.types.is_numeric_dtype(series.dtype):
        # Numeric answers (PHQ items, ages) may be listed as numbers or as numeric codes
        for text in texts:
            try:
                numbers.append(float(text))
            except ValueError:
                continue
        if numbers:
            result |= np.isin(series.to_numpy(dtype=float, na_value=np.nan), numbers)
        return result
    if texts and isinstance(series.dtype, pd.CategoricalDtype):
        # Categorical.isin's own two steps (the texts' positions among the categories, then the
        # codes) without pandas' dispatch, which costs twice the work on 100,000 rows
        positions = series.cat.categories.get_indexer_for(texts)
        result |= np.isin(series.cat.codes.to_numpy(), positions[positions >= 0])
    elif texts:
        result |= series.isin(texts).to_numpy(dtype=bool)
    if numbers:
        result |= np.isin(as_numbers(series), numbers)
    if flags:
        result |= series.astype(object).isin(flags).to_numpy(dtype=bool)
    return result


# --- text form ------------------------------------------------------------------------------

KEYWORDS = frozenset(
    {"and", "or", "not", "in", "not_in", "is", "missing", "answered", "any", "true", "false"}
)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op><=|>=|==|!=|<|>|=)
    |(?P<punct>[(),])
    |(?P<word>[^\s()<>=!,"']+)
    """,
    re.VERBOSE | re.DOTALL,
)
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "op", "punct", "word", "end"
    text: str
    position: int  # 1-based character position, for error messages

    def is_keyword(self, *words: str) -> bool:
        """Whether this is a bare word equal (ignoring case) to one of words."""
        return self.kind == "word" and self.text.lower() in words


def _tokenize(text: str) -> list[_Token]:
    """Split condition text into tokens, refusing unknown characters with their position."""
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            if char in "\"'":
                raise AnalysisError(f"Unclosed quote at position {position + 1}.")
            raise AnalysisError(f"Unexpected character '{char}' at position {position + 1}.")
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup or "", match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    """Recursive descent over: or_expr := and_expr ('or' and_expr)* and so on down to leaves."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, expected: str) -> AnalysisError:
        token = self.current
        found = "the end of the text" if token.kind == "end" else f"'{token.text}'"
        return AnalysisError(f"Expected {expected} at position {token.position}, found {found}.")

    def expect_punct(self, char: str) -> None:
        if self.current.kind != "punct" or self.current.text != char:
            raise self.fail(f"'{char}'")
        self.advance()

    def parse(self) -> dict[str, Any]:
        if self.current.kind == "end":
            raise AnalysisError("The condition is empty.")
        result = self.or_expr()
        if self.current.kind != "end":
            raise self.fail("'and', 'or' or the end")
        return result

    def or_expr(self) -> dict[str, Any]:
        parts = [self.and_expr()]
        while self.current.is_keyword("or"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else {"any": parts}

    def and_expr(self) -> dict[str, Any]:
        parts = [self.unary()]
        while self.current.is_keyword("and"):
            self.advance()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else {"all": parts}

    def unary(self) -> dict[str, Any]:
        if self.current.is_keyword("not"):
            self.advance()
            return {"not": self.unary()}
        if self.current.kind == "punct" and self.current.text == "(":
            self.advance()
            inner = self.or_expr()
            self.expect_punct(")")
            return inner
        return self.leaf()

    def name(self) -> str:
        token = self.current
        if token.kind == "string":
            self.advance()
            return _unquote(token)
        if token.kind == "word" and token.text.lower() not in KEYWORDS:
            self.advance()
            return token.text
        raise self.fail("a column name")

    def leaf(self) -> dict[str, Any]:
        following = self.tokens[min(self.index + 1, len(self.tokens) - 1)]
        if self.current.is_keyword("any") and following.kind == "punct" and following.text == "(":
            self.advance()
            self.advance()
            names = [self.name()]
            while self.current.kind == "punct" and self.current.text == ",":
                self.advance()
                names.append(self.name())
            self.expect_punct(")")
            target: dict[str, Any] = {"any_of_columns": names}
        else:
            target = {"column": self.name()}
        return {**target, **self.predicate()}

    def predicate(self) -> dict[str, Any]:
        token = self.current
        if token.kind == "op":
            self.advance()
            op = "==" if token.text == "=" else token.text
            value = self.value()
            if op not in ("==", "!=") and isinstance(value, bool | str):
                raise AnalysisError(f"'{op}' at position {token.position} needs a number.")
            return {op: value}
        if token.is_keyword("in"):
            self.advance()
            return {"in": self.values()}
        if token.is_keyword("not_in"):
            self.advance()
            return {"not_in": self.values()}
        if token.is_keyword("not"):
            self.advance()
            if not self.current.is_keyword("in"):
                raise self.fail("'in' after 'not'")
            self.advance()
            return {"not_in": self.values()}
        if token.is_keyword("is"):
            self.advance()
            if self.current.is_keyword("missing"):
                self.advance()
                return {"is_missing": True}
            if self.current.is_keyword("answered"):
                self.advance()
                return {"answered": True}
            raise self.fail("'missing' or 'answered' after 'is'")
        raise self.fail("an operator (in, not in, ==, !=, <, <=, >, >=, is)")

    def values(self) -> list[Scalar]:
        self.expect_punct("(")
        items = [self.value()]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            items.append(self.value())
        self.expect_punct(")")
        return items

    def value(self) -> Scalar:
        token = self.current
        if token.kind == "string":
            self.advance()
            return _unquote(token)
        if token.kind != "word":
            raise self.fail("a value")
        self.advance()
        if token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        if _NUMBER.fullmatch(token.text):
            is_integer = not any(char in token.text for char in ".eE")
            number = int(token.text) if is_integer else float(token.text)
            if isinstance(number, float) and not math.isfinite(number):
                raise AnalysisError(f"Number too large at position {token.position}.")
            return number
        return token.text


def _unquote(token: _Token) -> str:
    """The text inside quotes: JSON escapes in double quotes, \\' and \\\\ in single quotes."""
    if token.text.startswith('"'):
        try:
            return str(json.loads(token.text))
        except json.JSONDecodeError as error:
            raise AnalysisError(f"Bad escape in the text at position {token.position}.") from error
    return re.sub(r"\\(.)", r"\1", token.text[1:-1], flags=re.DOTALL)


def parse_condition_text(text: str) -> dict[str, Any]:
    """Parse the one-line text form into the condition dict (AnalysisError with a position)."""
    if not isinstance(text, str):
        raise AnalysisError("A condition text must be a string.")
    return _Parser(text).parse()


def render_condition(condition: Condition) -> str:
    """The text form of a condition; parse_condition_text gives the same dict back.

    A one-item 'all'/'any' is written as its item, so it comes back without the wrapper.
    """
    validate_condition(condition)
    return _render(condition)


def _render(condition: Condition) -> str:
    """Render recursively, parenthesising every nested all/any so the tree is kept."""
    if "not" in condition:
        return f"not {_operand(condition['not'])}"
    for key, joiner in (("all", " and "), ("any", " or ")):
        if key in condition:
            return joiner.join(_operand(child) for child in condition[key])
    op = next(key for key in condition if key in OPERATORS)
    if "column" in condition:
        target = _render_name(condition["column"])
    else:
        target = f"any({', '.join(_render_name(name) for name in condition['any_of_columns'])})"
    value = condition[op]
    if op == "is_missing":
        return f"{target} is missing"
    if op == "answered":
        return f"{target} is answered"
    if op in LIST_OPERATORS:
        word = "in" if op == "in" else "not in"
        return f"{target} {word} ({', '.join(_render_value(item) for item in value)})"
    return f"{target} {op} {_render_value(value)}"


def _operand(condition: Condition) -> str:
    """A child of and/or/not, in parentheses when it is itself an and/or."""
    text = _render(condition)
    if ("all" in condition or "any" in condition) and len(
        condition.get("all", condition.get("any", ()))
    ) > 1:
        return f"({text})"
    return text


def _render_name(name: str) -> str:
    """A column name, bare when that parses back unchanged, else in double quotes."""
    if _BARE.fullmatch(name) and name.lower() not in KEYWORDS:
        return name
    return json.dumps(name, ensure_ascii=False)


def _render_value(value: Scalar) -> str:
    """A value: true/false, a number, a bare code, or quoted text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if _BARE.fullmatch(value) and value.lower() not in KEYWORDS:
        return value
    return json.dumps(value, ensure_ascii=False)
