"""Disclosure control: age bands, generalisation, k-anonymity, local suppression, formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.anonymization import (
    FORMULA_PREFIXES,
    age_band,
    generalise,
    k_anonymity,
    neutralise_formula,
    neutralise_frame,
    suppress_at_risk,
    top_code,
)

# -- age bands --------------------------------------------------------------------------------


def test_age_band_boundaries() -> None:
    ages = pd.Series([17, 18, 39, 39.9, 40, 59, 60, 74, 75, 110, None, "45", "x"], name="age")
    bands = age_band(ages)
    shown = [None if pd.isna(b) else b for b in bands.tolist()]
    assert shown == [
        None,
        "18_39",
        "18_39",
        "18_39",
        "40_59",
        "40_59",
        "60_74",
        "60_74",
        "75_plus",
        "75_plus",
        None,
        "40_59",
        None,
    ]
    assert list(bands.cat.categories) == ["18_39", "40_59", "60_74", "75_plus"]
    assert bands.name == "age"


def test_age_band_custom_bands_keep_the_index() -> None:
    ages = pd.Series([3, 17, 18, 80], index=[10, 11, 12, 13])
    bands = age_band(ages, ((0, 17), (18, None)))
    assert bands.to_dict() == {10: "0_17", 11: "0_17", 12: "18_plus", 13: "18_plus"}


# -- generalisation ---------------------------------------------------------------------------


def test_generalise_drops_text_maps_settlement_and_bands_age() -> None:
    frame = pd.DataFrame(
        {
            "age": [25, 64, 80],
            "settlement": ["semey", "kurchatov", "semey"],
            "district": pd.Categorical(["semey_city", None, None], categories=["semey_city"]),
            "message": ["private words", None, "more"],
            "sex": ["female", "male", "female"],
        }
    )
    original = frame.copy()
    out = generalise(
        frame,
        settlement_to_district={"semey": "semey_city", "kurchatov": "kurchatov_city"},
        drop_columns=["message"],
        age_column="age",
    )
    assert list(out.columns) == ["age_band", "district", "sex"]
    assert out["district"].tolist() == ["semey_city", "kurchatov_city", "semey_city"]
    assert out["age_band"].tolist() == ["18_39", "60_74", "75_plus"]
    pd.testing.assert_frame_equal(frame, original)  # the input is not changed


def test_generalise_adds_district_and_fills_an_existing_band() -> None:
    frame = pd.DataFrame(
        {
            "age": [30, 50],
            "age_band": pd.Categorical(["18_39", None]),
            "settlement": ["a", "b"],
        }
    )
    out = generalise(frame, settlement_to_district={"a": "d1"})
    assert out["age_band"].tolist() == ["18_39", "40_59"]
    assert out["district"].tolist()[0] == "d1"
    assert pd.isna(out["district"].tolist()[1])
    assert "age" not in out and "settlement" not in out


def test_top_code() -> None:
    assert top_code(pd.Series([1, 8, 12, None]), 8).tolist()[:3] == [1, 8, 8]


# -- k-anonymity ------------------------------------------------------------------------------


def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": ["a"] * 6 + ["b"] * 3 + ["c"],
            "sex": ["f", "f", "f", "f", "f", "m", "f", "f", "m", "f"],
            "answer": range(10),
        }
    )


def test_k_anonymity_finds_small_classes() -> None:
    frame = small_frame()
    report = k_anonymity(frame, ["district", "sex"], k=3)
    assert report.group_sizes.tolist() == [5, 5, 5, 5, 5, 1, 2, 2, 1, 1]
    assert report.at_risk_mask.tolist() == [False] * 5 + [True] * 5
    assert report.n_at_risk == 5
    assert report.n_classes == 5 and report.n_classes_at_risk == 4
    assert k_anonymity(frame, ["district", "sex"], k=1).n_at_risk == 0
    assert k_anonymity(frame, [], k=3).n_at_risk == 0  # one class of ten


def test_k_anonymity_treats_blank_as_its_own_value() -> None:
    frame = pd.DataFrame({"district": ["a", "a", None, None], "sex": ["f", "f", "f", "f"]})
    report = k_anonymity(frame, ["district", "sex"], k=2)
    assert report.n_at_risk == 0
    assert report.group_sizes.tolist() == [2, 2, 2, 2]


def test_k_anonymity_rejects_unknown_columns_and_bad_k() -> None:
    with pytest.raises(KeyError):
        k_anonymity(small_frame(), ["zone"])
    with pytest.raises(ValueError, match="k must"):
        k_anonymity(small_frame(), ["sex"], k=0)


def test_suppression_blanks_until_every_class_is_large_enough() -> None:
    frame = small_frame()
    qis = ["district", "sex"]
    report = k_anonymity(frame, qis, k=3)
    result = suppress_at_risk(frame, report, qis)
    after = k_anonymity(result.frame, qis, k=3)
    assert after.n_at_risk == 0
    assert result.report is not None and result.report.n_at_risk == 0
    # Safe records are untouched; non-quasi-identifiers are never changed.
    pd.testing.assert_frame_equal(result.frame.iloc[:5], frame.iloc[:5])
    assert result.frame["answer"].tolist() == frame.loc[result.frame.index, "answer"].tolist()
    assert result.n_records_suppressed == 5
    assert result.n_values_blanked == sum(result.blanked_by_column.values())
    assert frame["district"].notna().all()  # the input is not changed


def test_suppression_follows_the_order_and_blanks_linked_columns() -> None:
    frame = small_frame().assign(source=list("abcdefghij"))
    qis = ["district", "sex"]
    report = k_anonymity(frame, qis, k=3)
    result = suppress_at_risk(
        frame, report, qis, order=["sex", "district"], linked={"sex": ["source"]}
    )
    assert result.blanked_by_column["sex"] == 5
    blanked_sex = result.frame["sex"].isna()
    assert result.frame.loc[blanked_sex, "source"].isna().all()
    assert result.frame.loc[~blanked_sex, "source"].notna().all()


def test_suppression_drops_records_that_stay_unsafe() -> None:
    frame = pd.DataFrame({"district": ["a", "a", "a", "b"], "sex": ["f", "f", "f", "m"]})
    qis = ["district", "sex"]
    result = suppress_at_risk(frame, k_anonymity(frame, qis, k=3), qis)
    # Only one record at risk: blanking cannot hide it among 3, so it is dropped.
    assert result.n_records_dropped == 1
    assert result.dropped_index.tolist() == [3]
    assert len(result.frame) == 3


def test_suppression_only_blanks_the_columns_it_is_allowed() -> None:
    frame = small_frame()
    qis = ["district", "sex"]
    result = suppress_at_risk(frame, k_anonymity(frame, qis, k=3), qis, order=["sex"])
    assert result.frame["district"].notna().all()
    assert k_anonymity(result.frame, qis, k=3).n_at_risk == 0


def test_suppression_handles_categoricals_numbers_and_flags() -> None:
    frame = pd.DataFrame(
        {
            "district": pd.Categorical(["a", "a", "a", "b", "b"]),
            "size": [1.0, 1.0, 1.0, 7.0, 9.0],
            "flag": np.array([True, True, True, False, True]),
            "count": np.array([1, 1, 1, 2, 3]),
        }
    )
    qis = ["district", "size", "flag", "count"]
    result = suppress_at_risk(frame, k_anonymity(frame, qis, k=2), qis)
    assert k_anonymity(result.frame, qis, k=2).n_at_risk == 0
    assert result.frame["district"].dtype == "category"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.sampled_from(["f", "m"]),
            st.integers(min_value=1, max_value=4),
        ),
        min_size=0,
        max_size=40,
    ),
    st.integers(min_value=2, max_value=5),
)
def test_suppression_always_reaches_k(rows: list[tuple], k: int) -> None:
    frame = pd.DataFrame(rows, columns=["district", "sex", "size"]).assign(answer=range(len(rows)))
    qis = ["district", "sex", "size"]
    result = suppress_at_risk(frame, k_anonymity(frame, qis, k=k), qis)
    assert k_anonymity(result.frame, qis, k=k).n_at_risk == 0
    assert set(result.frame.index) <= set(frame.index)
    assert result.frame["answer"].tolist() == frame.loc[result.frame.index, "answer"].tolist()
    assert result.n_records_dropped + len(result.frame) == len(frame)


# -- formulas ---------------------------------------------------------------------------------


@given(st.text())
def test_no_neutralised_cell_starts_like_a_formula(text: str) -> None:
    out = neutralise_formula(text)
    assert not out.startswith(FORMULA_PREFIXES)
    assert out.endswith(text)
    assert out in {text, "'" + text}


@given(st.text())
def test_neutralising_twice_changes_nothing_more(text: str) -> None:
    once = neutralise_formula(text)
    assert neutralise_formula(once) == once


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.none(), st.booleans()))
def test_non_strings_are_untouched(value: object) -> None:
    assert neutralise_formula(value) is value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("safe = fine", "safe = fine"),
        ("", ""),
    ],
)
def test_neutralise_examples(text: str, expected: str) -> None:
    assert neutralise_formula(text) == expected


def test_neutralise_frame_covers_text_categories_and_headers() -> None:
    frame = pd.DataFrame(
        {
            "=header": ["=1+1", None],
            "labels": pd.Categorical(["-x", "y"]),
            "number": [-1.0, 2.0],
        }
    )
    out = neutralise_frame(frame)
    assert list(out.columns) == ["'=header", "labels", "number"]
    assert out["'=header"].tolist()[0] == "'=1+1"
    assert list(out["labels"].cat.categories) == ["'-x", "y"]
    assert out["number"].tolist() == [-1.0, 2.0]  # numbers are not text
