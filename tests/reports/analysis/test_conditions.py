"""The condition language: evaluation, validation, the text form and its round trip."""

from __future__ import annotations

import contextlib
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.analysis import conditions as conditions_module
from reports.analysis.conditions import (
    COMPARISONS,
    condition_columns,
    evaluate_condition,
    evaluate_known,
    parse_condition_text,
    render_condition,
    shared_leaves,
    validate_condition,
)
from reports.analysis.errors import AnalysisError


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unmet": ["yes", "no", "dnk", None, "yes", ""],
            "age": [65.0, 30.0, math.nan, 80.0, 59.0, 18.0],
            "generation": pd.Categorical(["g1", "g2", "g3", None, "g1", "none"]),
            "adequacy": ["1", "2", "5", "dnk", None, "4"],
            "wg_seeing": ["no", "a_lot", "some", None, "no", "no"],
            "wg_hearing": ["no", "no", "cannot", "no", None, "no"],
            "benefits/pension": [True, False, False, False, True, False],
            "benefits/none": [False, True, False, False, False, False],
            "benefits/dnk": [False, False, True, False, False, False],
            "phq": [0.0, 3.0, 2.0, math.nan, 1.0, 3.0],
        }
    )


def rows(df: pd.DataFrame, condition: dict) -> list[int]:
    result = evaluate_condition(df, condition)
    assert result.dtype == bool and result.index.equals(df.index)
    return [int(i) for i in np.flatnonzero(result.to_numpy())]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"column": "unmet", "in": ["yes"]}, [0, 4]),
        ({"column": "unmet", "not_in": ["yes"]}, [1, 2]),  # missing and "" are never matched
        ({"column": "unmet", "==": "no"}, [1]),
        ({"column": "unmet", "!=": "no"}, [0, 2, 4]),
        ({"column": "unmet", "is_missing": True}, [3, 5]),
        ({"column": "unmet", "answered": True}, [0, 1, 4]),
        ({"column": "age", ">=": 60}, [0, 3]),
        ({"column": "age", "<": 30}, [5]),
        ({"column": "age", "<=": 30}, [1, 5]),
        ({"column": "age", ">": 59}, [0, 3]),
        ({"column": "age", "==": 30}, [1]),
        ({"column": "age", "!=": 30}, [0, 3, 4, 5]),
        ({"column": "age", "is_missing": True}, [2]),
        ({"column": "age", "in": [30, "18"]}, [1, 5]),
        ({"column": "generation", "in": ["g1", "g2"]}, [0, 1, 4]),
        ({"column": "generation", "is_missing": True}, [3]),
        ({"column": "adequacy", "<=": 2}, [0, 1]),  # numeric codes stored as text; dnk is no number
        ({"column": "adequacy", "in": [4, 5]}, [2, 5]),
        ({"column": "phq", "in": [2, 3]}, [1, 2, 5]),
        ({"any_of_columns": ["wg_seeing", "wg_hearing"], "in": ["a_lot", "cannot"]}, [1, 2]),
        ({"column": "benefits", "in": ["pension"]}, [0, 4]),
        ({"column": "benefits", "not_in": ["pension"]}, [1, 2]),
        ({"column": "benefits", "is_missing": True}, [3, 5]),
        ({"column": "benefits", "answered": True}, [0, 1, 4]),
        ({"column": "benefits/pension", "==": True}, [0, 4]),
        ({"not": {"column": "unmet", "in": ["yes"]}}, [1, 2, 3, 5]),
        ({"all": [{"column": "unmet", "in": ["yes"]}, {"column": "age", ">=": 60}]}, [0]),
        ({"any": [{"column": "unmet", "in": ["no"]}, {"column": "age", ">=": 80}]}, [1, 3]),
    ],
)
def test_evaluate(people: pd.DataFrame, condition: dict, expected: list[int]) -> None:
    assert rows(people, condition) == expected


SHARED_CASES = [
    {"column": "unmet", "answered": True},
    {"column": "unmet", "in": ["dnk"]},
    {"column": "unmet", "in": ["yes"]},
    {"column": "age", "in": [30, "18"]},
    {"column": "age", "in": ["30", 18]},
    {"column": "age", "==": 30},
    {"column": "age", "==": 30.0},
    {"column": "benefits/pension", "==": True},
    {"column": "benefits/pension", "==": 1},
    {"column": "benefits", "answered": True},
    {"column": "benefits", "in": ["pension"]},
    {"all": [{"column": "unmet", "in": ["yes"]}, {"column": "age", ">=": 60}]},
    {"not": {"column": "unmet", "answered": True}},
]


def test_shared_leaves_evaluate_each_leaf_once_with_the_same_results(
    people: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = [(rows(people, c), *map(list, evaluate_known(people, c))) for c in SHARED_CASES]
    other = people.assign(unmet=["no", "yes", "yes", "dnk", None, "no"], age=people["age"] + 1)
    other_alone = [rows(other, c) for c in SHARED_CASES]
    evaluated: list[tuple[int, str, str, str]] = []
    leaf = conditions_module._leaf

    def counted(df: pd.DataFrame, name: str, op: str, value: object) -> np.ndarray:
        evaluated.append((id(df), name, op, repr(value)))
        return leaf(df, name, op, value)

    monkeypatch.setattr(conditions_module, "_leaf", counted)
    with shared_leaves():
        for _ in range(2):  # again: every leaf comes from the first pass
            shared = [
                (rows(people, c), *map(list, evaluate_known(people, c))) for c in SHARED_CASES
            ]
            assert shared == alone
            # Another frame with the same columns is not answered from the first one's leaves
            assert [rows(other, c) for c in SHARED_CASES] == other_alone
        first_pass = len(evaluated)
        with shared_leaves():  # nested: the outer leaves serve
            assert [rows(people, c) for c in SHARED_CASES] == [found for found, *_ in alone]
        assert len(evaluated) == first_pass
        held = conditions_module._evaluate_leaf(people, "unmet", "in", ["yes"])
        with pytest.raises(ValueError, match="read-only"):
            held[0] = not held[0]  # shared with other callers: never changed in place
    # Each leaf once per frame; 30 and 30.0, True and 1 are leaves of their own all the same
    assert len(evaluated) == len(set(evaluated))
    assert {("age", "==", "30"), ("age", "==", "30.0")} <= {key[1:] for key in evaluated}
    assert conditions_module._SHARED.get() is None  # nothing is kept after the block
    evaluated.clear()
    rows(people, SHARED_CASES[0])
    rows(people, SHARED_CASES[0])
    assert len(evaluated) == 2  # outside a block, every call evaluates


def test_evaluate_keeps_the_index_and_does_not_mutate(people: pd.DataFrame) -> None:
    indexed = people.set_index(pd.Index([10, 11, 12, 13, 14, 15]))
    before = indexed.copy()
    result = evaluate_condition(indexed, {"column": "age", ">=": 60})
    assert list(result.index) == [10, 11, 12, 13, 14, 15]
    pd.testing.assert_frame_equal(indexed, before)


def test_evaluate_on_an_empty_frame() -> None:
    empty = pd.DataFrame({"age": pd.Series([], dtype=float)})
    assert evaluate_condition(empty, {"column": "age", ">": 1}).empty


def test_unknown_column_is_named(people: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="'nope'"):
        evaluate_condition(people, {"column": "nope", "in": ["x"]})


@pytest.mark.parametrize(
    "condition",
    [
        {"column": "a", ">=": 1, "<": 5},
        {"column": "a", "like": "x"},
        {"column": "a"},
        {"column": "a", "in": []},
        {"column": "a", "in": "yes"},
        {"column": "a", ">=": "old"},
        {"column": "a", ">=": math.inf},
        {"column": "a", "is_missing": False},
        {"column": "", "in": ["x"]},
        {"any_of_columns": [], "in": ["x"]},
        {"column": "a", "any_of_columns": ["b"], "in": ["x"]},
        {"all": []},
        {"all": {"column": "a", "in": ["x"]}},
        {"not": {"column": "a", "in": ["x"]}, "column": "b"},
        ["column", "a"],
    ],
)
def test_invalid_conditions_are_refused(condition: object) -> None:
    with pytest.raises(AnalysisError):
        validate_condition(condition)


def test_condition_columns() -> None:
    condition = parse_condition_text(
        "unmet_need in (yes) and (age >= 60 or not any(wg_seeing, wg_hearing) in (a_lot))"
    )
    assert condition_columns(condition) == {"unmet_need", "age", "wg_seeing", "wg_hearing"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "unmet_need in (yes) and (age >= 60 or generation in (g1, g2))",
            {
                "all": [
                    {"column": "unmet_need", "in": ["yes"]},
                    {
                        "any": [
                            {"column": "age", ">=": 60},
                            {"column": "generation", "in": ["g1", "g2"]},
                        ]
                    },
                ]
            },
        ),
        ("not wg_disability in (yes)", {"not": {"column": "wg_disability", "in": ["yes"]}}),
        (
            "any(wg_seeing, wg_hearing) in (a_lot, cannot)",
            {"any_of_columns": ["wg_seeing", "wg_hearing"], "in": ["a_lot", "cannot"]},
        ),
        ("sex not in (male)", {"column": "sex", "not_in": ["male"]}),
        ("sex NOT_IN (male)", {"column": "sex", "not_in": ["male"]}),
        ("age is missing", {"column": "age", "is_missing": True}),
        ("age is answered", {"column": "age", "answered": True}),
        ("age=60", {"column": "age", "==": 60}),
        ("score <= -1.5", {"column": "score", "<=": -1.5}),
        ("band in ('18_39', \"40 59\")", {"column": "band", "in": ["18_39", "40 59"]}),
        ("band in (18_39)", {"column": "band", "in": ["18_39"]}),
        ('"odd name" == true', {"column": "odd name", "==": True}),
        ("benefits/pension == true", {"column": "benefits/pension", "==": True}),
        (
            "a in (x) or b in (y) and c in (z)",
            {
                "any": [
                    {"column": "a", "in": ["x"]},
                    {"all": [{"column": "b", "in": ["y"]}, {"column": "c", "in": ["z"]}]},
                ]
            },
        ),
    ],
)
def test_parse_examples(text: str, expected: dict) -> None:
    parsed = parse_condition_text(text)
    assert parsed == expected
    json.dumps(parsed)  # plain data, storable as JSON


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("age >=", "position 7"),
        ("unmet in (yes", "Expected ')' at position 14"),
        ("unmet in yes", "Expected '(' at position 10"),
        ("age >= old", "needs a number"),
        ("unmet in (yes) maybe", "position 16"),
        ("unmet is gone", "'missing' or 'answered'"),
        ("unmet not (yes)", "'in' after 'not'"),
        ("unmet in ('yes)", "Unclosed quote at position 11"),
        ("unmet ! yes", "Unexpected character '!' at position 7"),
        ("and in (x)", "column name at position 1"),
        ("(a in (x)", "position 10"),
    ],
)
def test_parse_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(AnalysisError, match=re.escape(message)):
        parse_condition_text(text)


def test_render_example() -> None:
    condition = {
        "not": {"all": [{"column": "a", "in": ["x", "and", "1"]}, {"column": "b c", ">": 2.5}]}
    }
    assert render_condition(condition) == 'not (a in (x, "and", "1") and "b c" > 2.5)'


# --- property: parse(render(c)) == c ----------------------------------------------------------

names = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}(/[a-z0-9_]{1,5})?", fullmatch=True),
    st.text(min_size=1, max_size=8),
)
scalars = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["yes", "a_lot", "g1", "dnk", "and", "not", "true", "1", "-2.5", "18_39"]),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
numbers = st.one_of(st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def leaves(draw: st.DrawFn) -> dict:
    target: dict = (
        {"column": draw(names)}
        if draw(st.booleans())
        else {"any_of_columns": draw(st.lists(names, min_size=1, max_size=3))}
    )
    op = draw(st.sampled_from([*COMPARISONS, "in", "not_in", "is_missing", "answered"]))
    if op in ("in", "not_in"):
        value: object = draw(st.lists(scalars, min_size=1, max_size=4))
    elif op in ("is_missing", "answered"):
        value = True
    elif op in ("==", "!="):
        value = draw(scalars)
    else:
        value = draw(numbers)
    return {**target, op: value}


conditions = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda item: {"not": item}, children),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(conditions)
def test_parse_render_round_trip(condition: dict) -> None:
    text = render_condition(condition)
    assert "\n" not in text
    assert parse_condition_text(text) == condition


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_parser_fails_only_with_analysis_error(text: str) -> None:
    with contextlib.suppress(AnalysisError):
        validate_condition(parse_condition_text(text))


def test_three_valued_evaluation_of_unanswered_items() -> None:
    from reports.analysis.conditions import evaluate_known

    df = pd.DataFrame(
        {
            "a": ["yes", "yes", "no", None, "dnk", "pnta"],
            "b": ["dnk", "no", "dnk", "yes", "yes", None],
        }
    )
    both = {"all": [{"column": "a", "in": ["yes"]}, {"column": "b", "in": ["yes"]}]}
    holds, known = evaluate_known(df, both)
    assert known.tolist() == [False, True, True, False, False, False]
    assert holds.tolist() == [False] * 6
    either = {"any": [{"column": "a", "in": ["yes"]}, {"column": "b", "in": ["yes"]}]}
    holds, known = evaluate_known(df, either)
    assert holds.tolist() == [True, True, False, True, True, False]
    assert known.tolist() == [True, True, False, True, True, False]
    negated = {"not": {"column": "a", "in": ["yes"]}}
    assert evaluate_known(df, negated)[1].tolist() == [True, True, True, False, False, False]
    # Asking about the non-answer itself is always settled
    for leaf in ({"column": "a", "is_missing": True}, {"column": "a", "in": ["dnk"]}):
        assert evaluate_known(df, leaf)[1].all()


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from(["a", "b", "c", "dnk", "", None]), max_size=30),
    wanted=st.lists(st.sampled_from(["a", "b", "zz", "dnk", "1"]), min_size=1, max_size=3),
    op=st.sampled_from(["in", "not_in", "answered"]),
)
def test_a_categorical_column_matches_as_its_text_does(
    values: list[str | None], wanted: list[str], op: str
) -> None:
    # Categorical columns are matched on their codes; unused categories and missing answers
    # must change nothing
    categorical = pd.DataFrame(
        {"q": pd.Categorical(values, categories=["zz", "c", "b", "a", "dnk", ""])}
    )
    text = pd.DataFrame({"q": pd.Series(values, dtype=object)})
    condition = {"column": "q", op: True if op == "answered" else wanted}
    assert rows(categorical, condition) == rows(text, condition)


def test_a_multiple_choice_question_is_read_once_in_shared_leaves(
    people: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        {"column": "benefits", "answered": True},
        {"column": "benefits", "in": ["pension"]},
        {"column": "benefits", "not_in": ["none"]},
        {"column": "benefits", "is_missing": True},
    ]
    alone = [rows(people, case) for case in cases]
    read: list[str] = []
    chosen = conditions_module.chosen_mask

    def counted(series: pd.Series) -> np.ndarray:
        read.append(str(series.name))
        return chosen(series)

    monkeypatch.setattr(conditions_module, "chosen_mask", counted)
    with shared_leaves():
        assert [rows(people, case) for case in cases] == alone
    assert sorted(read) == ["benefits/dnk", "benefits/none", "benefits/pension"]
