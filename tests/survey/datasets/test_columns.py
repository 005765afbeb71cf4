"""Values stay what they are: codes are never read as numbers (issue 9, part 9)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from survey.datasets.columns import _CalculateBuilder, _NumberBuilder


def built(values: list) -> object:
    builder = _CalculateBuilder()
    builder.add(values)
    return builder.finish()


def test_codes_with_underscores_stay_codes() -> None:
    # float("40_59") == 4059.0: an age band exported as a number.
    column = built(["40_59", "18_39", None, "60_74"])
    assert isinstance(column, pd.Categorical)
    assert set(column.categories) == {"40_59", "18_39", "60_74"}
    assert list(column.astype(object)[:2]) == ["40_59", "18_39"]


def test_infinity_and_nan_words_are_not_numbers() -> None:
    assert isinstance(built(["inf", "nan"]), pd.Categorical)
    assert isinstance(built([" 1", "2"]), pd.Categorical)


def test_numbers_stay_numbers() -> None:
    column = built([1, 2.5, "3", None])
    assert list(column[:3]) == [1.0, 2.5, 3.0]


@given(st.from_regex(r"\A[0-9]{1,3}_[0-9]{1,3}\Z"))
def test_no_underscored_code_becomes_a_number(code: str) -> None:
    assert isinstance(built([code]), pd.Categorical)
    builder = _NumberBuilder()
    builder.add([code])
    assert pd.isna(builder.finish()[0])
