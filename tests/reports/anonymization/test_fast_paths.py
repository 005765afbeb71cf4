"""The engine's vectorised steps give what the row-by-row code they replaced gave: each old
implementation is kept here as the reference and compared on frames of every dtype the
datasets carry (categories, floats with -0.0, integers, nullable integers and booleans, text,
dates), blanks and dropped rows included."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.anonymization.engine import _loss
from reports.anonymization.result import ColumnLoss
from reports.anonymization.suppression import class_ids


def _loss_reference(
    table: str, before: pd.DataFrame, after: pd.DataFrame, columns: list[str]
) -> list[ColumnLoss]:
    """engine._loss before it read texts from categories and distinct values (except that a
    column absent after anonymisation raised: `where(False)` needs a mask in pandas 3)."""
    out = []
    after = after.reindex(before.index)
    for column in columns:
        if column not in before.columns:
            continue
        old = before[column].astype("object")
        new = (
            after[column].astype("object")
            if column in after.columns
            else old.where(np.zeros(len(old), dtype=bool))
        )
        had = old.notna().to_numpy()
        has = new.notna().to_numpy()
        differs = old.astype(str).to_numpy() != new.astype(str).to_numpy()
        out.append(
            ColumnLoss(
                table=table,
                column=column,
                values=int(had.sum()),
                recoded=int((had & has & differs).sum()),
                blanked=int((had & ~has).sum()),
            )
        )
    return out


CODES = ["a", "b", "c", "a_other", "3", "3.0"]
NUMBERS = [0.0, -0.0, 1.0, 2.5, 3.0, 1e20, np.nan]


def _column(kind: str, picks: list[int], other: bool) -> pd.Series:
    """A column of the given kind; `other` gives the recoded side of the same kind."""
    if kind == "category":
        names = CODES[3:] if other else CODES[:4]
        values = [None if p % 5 == 4 else names[p % len(names)] for p in picks]
        categories = list(dict.fromkeys([*names, *(v for v in values if v)]))
        return pd.Series(pd.Categorical(values, categories=categories))
    if kind == "float":
        return pd.Series([NUMBERS[(p + other) % len(NUMBERS)] for p in picks], dtype="float64")
    if kind == "int":
        return pd.Series([p % 4 + (3 if other else 0) for p in picks], dtype="int64")
    if kind == "Int64":
        return pd.Series([None if p % 3 == 0 else p % 4 + other for p in picks], dtype="Int64")
    if kind == "boolean":
        return pd.Series(
            [None if p % 4 == 3 else bool((p + other) % 2) for p in picks], dtype="boolean"
        )
    if kind == "bool":
        return pd.Series([bool((p + other) % 2) for p in picks], dtype=bool)
    if kind == "text":
        return pd.Series(
            [None if p % 3 == 0 else CODES[(p + other) % 6] for p in picks], dtype="string"
        )
    if kind == "mixed":  # an object column holding numbers and texts
        return pd.Series([[3, 3.0, "3", None][(p + other) % 4] for p in picks], dtype=object)
    if kind == "date":
        days = [None if p % 4 == 0 else f"2025-0{p % 3 + 1}-0{(p + other) % 9 + 1}" for p in picks]
        return pd.Series(pd.to_datetime(days))
    raise AssertionError(kind)


KINDS = ["category", "float", "int", "Int64", "boolean", "bool", "text", "mixed", "date"]


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(st.integers(0, 40), min_size=1, max_size=30),
    kinds=st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(KINDS)), min_size=1),
    blanks=st.lists(st.booleans(), max_size=30),
    dropped=st.lists(st.booleans(), max_size=30),
)
def test_information_loss_counts_as_the_row_by_row_code(picks, kinds, blanks, dropped) -> None:
    before = pd.DataFrame({f"c{i}": _column(k, picks, False) for i, (k, _) in enumerate(kinds)})
    after = pd.DataFrame({f"c{i}": _column(k, picks, True) for i, (_, k) in enumerate(kinds)})
    for i, column in enumerate(after.columns):
        if i % 2 == 0:  # some columns keep their values, where not blanked
            after[column] = before[column]
        mask = np.resize(np.array(blanks or [False], dtype=bool), len(after))
        after[column] = after[column].mask(mask)
    keep = ~np.resize(np.array(dropped or [False], dtype=bool), len(after))
    after = after[keep].drop(columns=[c for c in after.columns[2::3]])
    columns = [*before.columns, "absent"]
    assert _loss("t", before, after, columns) == _loss_reference("t", before, after, columns)


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(st.integers(0, 40), min_size=0, max_size=40),
    kinds=st.lists(st.sampled_from(KINDS), min_size=0, max_size=5),
)
def test_classes_are_numbered_as_pandas_groupby_numbers_them(picks, kinds) -> None:
    frame = pd.DataFrame(
        {f"c{i}": _column(kind, picks[i:] + picks[:i], bool(i % 2)) for i, kind in enumerate(kinds)}
    )
    if kinds:  # categories none of the rows use, and objects with None and NaN both
        frame["unused"] = pd.Categorical(frame["c0"].isna(), categories=[False, True, "x"])
        frame["nan"] = pd.Series([[None, np.nan, "v"][p % 3] for p in picks], dtype=object)
    columns = list(frame.columns)
    want = (
        frame.groupby(columns, dropna=False, observed=True, sort=False).ngroup().to_numpy()
        if columns and len(frame)
        else np.zeros(len(frame), dtype=np.int64)
    )
    np.testing.assert_array_equal(class_ids(frame, columns), want)


def test_class_ids_survive_keys_too_wide_for_one_integer() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({f"c{i}": rng.random(300).round(2) for i in range(12)})
    frame.iloc[::7] = frame.iloc[0]  # some rows alike
    columns = list(frame.columns)
    want = frame.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    np.testing.assert_array_equal(class_ids(frame, columns), want)


def _mapped_reference(series: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """engine._apply_one's mapping before categories were mapped once each."""
    values = series.astype("object")
    mapped = values.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
    categories = list(dict.fromkeys(mapping.get(c, c) for c in series.cat.categories))
    return pd.Series(pd.Categorical(mapped, categories=categories), index=series.index)


@settings(max_examples=100, deadline=None)
@given(
    picks=st.lists(st.integers(0, 6), max_size=40),
    mapping=st.dictionaries(st.sampled_from(list("abcdef")), st.sampled_from(list("abxy"))),
    ordered=st.booleans(),
)
def test_a_mapping_recodes_categories_as_it_recoded_each_row(picks, mapping, ordered) -> None:
    from reports.anonymization.engine import _apply_one
    from reports.anonymization.rules import Recoding

    values = [None if p == 6 else "abcdef"[p] for p in picks]
    series = pd.Series(
        pd.Categorical(values, categories=list("fedcba"), ordered=ordered), index=picks[::-1]
    )
    frame = pd.DataFrame({"c": series, "other": range(len(series))}, index=series.index)
    recoding = Recoding(column="c", when="always", mapping=mapping)
    got = _apply_one(frame, recoding)["c"]
    pd.testing.assert_series_equal(got, _mapped_reference(series, mapping), check_names=False)


def _risk_reference(frame, qis, k, weights, sampling_fraction):
    """risk.measure_risk before classes were counted once and r_k computed per class."""
    from reports.anonymization.risk import RiskMeasures, individual_risk
    from reports.anonymization.suppression import k_anonymity

    n = len(frame)
    if weights is None:
        w = np.full(n, 1.0 / sampling_fraction)
    else:
        w = np.asarray(weights, dtype=np.float64)
        w = np.where(np.isfinite(w) & (w > 0), w, 1.0 / (sampling_fraction or 1.0))
    report = k_anonymity(frame, list(qis), k)
    sizes = report.group_sizes.to_numpy(dtype=np.float64)
    ids = (
        frame.groupby(list(qis), dropna=False, observed=True, sort=False).ngroup().to_numpy()
        if qis
        else np.zeros(n, dtype=np.int64)
    )
    population = np.bincount(ids, weights=w)[ids]
    risk = individual_risk(sizes, population)
    total = float(risk.sum())
    return RiskMeasures(
        records=n,
        k=k,
        sample_uniques=int((sizes == 1).sum()),
        records_below_k=report.n_at_risk,
        expected_reidentifications=total,
        global_risk=total / n,
        max_individual_risk=float(risk.max()),
        records_above_threshold=int((risk > 0.2).sum()),
    )


@settings(max_examples=100, deadline=None)
@given(
    picks=st.lists(st.integers(0, 40), min_size=1, max_size=60),
    kinds=st.lists(st.sampled_from(KINDS), max_size=3),
    weighted=st.booleans(),
    fraction=st.sampled_from([0.01, 0.3, 1.0]),
    k=st.integers(1, 5),
)
def test_risk_measures_are_the_same_numbers(picks, kinds, weighted, fraction, k) -> None:
    from reports.anonymization.risk import measure_risk

    frame = pd.DataFrame(
        {f"c{i}": _column(kind, picks, bool(i % 2)) for i, kind in enumerate(kinds)},
        index=range(len(picks)),
    )
    weights = np.array([[1.5, 20.0, np.nan, -1.0, 3.0][p % 5] for p in picks]) if weighted else None
    qis = list(frame.columns)
    got = measure_risk(frame, qis, k=k, weights=weights, sampling_fraction=fraction)
    assert got == _risk_reference(frame, qis, k, weights, fraction)
