"""De-identification's vectorised steps give what the code they replaced gave (the old code is
kept here as the reference): months of dates, and the tables' order by random record key."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.datasets import deidentify


def _month_reference(series: pd.Series) -> pd.Series:
    values = series
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    months = values.to_numpy().astype("datetime64[M]")
    missing = np.isnat(months)
    text = np.datetime_as_string(months, unit="M")
    categories, codes = np.unique(text[~missing], return_inverse=True)
    all_codes = np.full(len(months), -1, dtype=np.int32)
    all_codes[~missing] = codes
    return pd.Series(
        pd.Categorical.from_codes(all_codes, categories=categories.tolist()),
        index=series.index,
        name=series.name,
    )


@settings(max_examples=100, deadline=None)
@given(
    days=st.lists(st.one_of(st.none(), st.integers(-800_000, 3_000_000)), max_size=30),
    zone=st.booleans(),
)
def test_months_are_the_months_of_each_date(days, zone) -> None:
    # Years -200 to 10,200: texts with a sign and five digits sort differently from months.
    stamps = pd.to_datetime(
        [None if d is None else np.datetime64(d, "D") for d in days], utc=zone
    ).as_unit("s")
    series = pd.Series(stamps, name="when", index=range(5, 5 + len(days)))
    pd.testing.assert_series_equal(deidentify._month(series), _month_reference(series))


def _with_record_key_reference(frame, keys, by, shuffle):
    record = keys.reindex(frame["_submission_id"].to_numpy()).to_numpy()
    out = frame.drop(columns=["_submission_id"])
    out.insert(0, deidentify.RECORD_KEY, record)
    out["_shuffle"] = shuffle
    out = out.sort_values([*by, "_shuffle"], na_position="last")
    return out.drop(columns=["_shuffle"]).reset_index(drop=True)


@settings(max_examples=100, deadline=None)
@given(
    households=st.integers(1, 12),
    rows=st.lists(st.tuples(st.integers(0, 14), st.one_of(st.none(), st.integers(1, 4)))),
    seed=st.integers(0, 2**32),
)
def test_tables_are_ordered_by_record_key_as_sorting_ordered_them(households, rows, seed) -> None:
    respondents = pd.DataFrame({"_submission_id": np.arange(10, 10 + households) * 3})
    ids = [None if h >= households else int(respondents["_submission_id"][h]) for h, _ in rows]
    members = pd.DataFrame(
        {
            "_submission_id": pd.array(ids, dtype="Int64"),
            "_index": pd.array([i for _, i in rows], dtype="Int64"),
            "x": range(len(rows)),
        }
    )
    with mock.patch.object(deidentify.secrets, "randbits", return_value=seed):
        keys = deidentify._record_keys(respondents)
    for frame, by in (
        (respondents, [deidentify.RECORD_KEY]),
        (members, [deidentify.RECORD_KEY, "_index"]),
    ):
        shuffle = np.random.default_rng(seed + 1).permutation(len(frame))
        with mock.patch.object(deidentify.secrets, "randbits", return_value=seed + 1):
            got = deidentify._with_record_key(frame, keys, by)
        pd.testing.assert_frame_equal(got, _with_record_key_reference(frame, keys, by, shuffle))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-5, 5), st.sampled_from([0.5, -0.0, 2.0**60])),
            st.one_of(st.none(), st.integers(0, 3)),
        ),
        max_size=30,
    ),
    seed=st.integers(0, 2**32),
    nullable=st.booleans(),
)
def test_sort_order_is_the_order_of_sorting_the_frame(rows, seed, nullable) -> None:
    first = pd.Series([r for r, _ in rows], dtype="float64")
    whole = first.dropna()
    if nullable and (whole == whole.round()).all() and (whole.abs() < 2**40).all():
        first = first.astype("Int64")
    frame = pd.DataFrame({"a": first, "b": pd.array([i for _, i in rows], dtype="Int64")})
    shuffle = np.random.default_rng(seed).permutation(len(frame))
    want = (
        frame.assign(_shuffle=shuffle)
        .sort_values(["a", "b", "_shuffle"], na_position="last")
        .index.to_numpy()
    )
    np.testing.assert_array_equal(deidentify._sort_order(frame, ["a", "b"], shuffle), want)
