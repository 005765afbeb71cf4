"""Group sums: several masks counted in one pass give the counts of one pass per mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.analysis.groups import GroupBlock
from reports.analysis.protection import population_table


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(min_value=0, max_value=300),
    groups=st.integers(min_value=1, max_value=6),
    masks=st.integers(min_value=0, max_value=6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_count_masks_equals_one_sum_per_mask(rows: int, groups: int, masks: int, seed: int):
    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, groups, rows).astype(np.intp)  # -1: no group
    block = GroupBlock("v", codes, tuple(str(i) for i in range(groups)))
    # Overlapping masks on purpose: a row may be in several
    drawn = [rng.random(rows) < rng.random() for _ in range(masks)]
    found = block.count_masks(drawn)
    assert len(found) == masks
    for mask, counts in zip(drawn, found, strict=True):
        np.testing.assert_array_equal(counts, block.sum(mask))


def test_population_of_a_categorical_column_counts_as_its_text_does():
    values = ["b", "a", "b", "c", "b", "missing"]
    categorical = pd.DataFrame({"v": pd.Categorical(values, categories=["c", "b", "a", "missing"])})
    text = pd.DataFrame({"v": pd.array(values, dtype="string")})
    by_codes = population_table(categorical, ["v"], "respondent")
    by_text = population_table(text, ["v"], "respondent")
    assert list(by_codes["group"]) == ["", "c", "b", "a", "missing"]  # the categories' order
    counted = dict(zip(by_codes["group"], by_codes["respondents"], strict=True))
    assert counted == dict(zip(by_text["group"], by_text["respondents"], strict=True))
    assert counted == {"": 6, "a": 1, "b": 3, "c": 1, "missing": 1}
    # Categories that print alike (1 and "1") are one group, as their text is
    mixed = pd.DataFrame({"v": pd.Categorical([1, "1", 2], categories=[1, "1", 2])})
    table = population_table(mixed, ["v"], "respondent")
    assert dict(zip(table["group"], table["respondents"], strict=True)) == {"": 3, "1": 2, "2": 1}


def _summed_as_before(block: GroupBlock, weights: np.ndarray | None) -> np.ndarray:
    """GroupBlock.sum as it was: one weighted bincount of the shifted codes, weights as floats."""
    values = None if weights is None else np.asarray(weights, dtype=float)
    return np.bincount(block.codes + 1, weights=values, minlength=block.size + 1)[1:].astype(float)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(min_value=0, max_value=300),
    groups=st.integers(min_value=1, max_value=5),
    shape=st.sampled_from(["overall", "one group with gaps", "groups"]),
    kind=st.sampled_from(["rows", "mask", "weights", "integers"]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_sums_are_the_numbers_of_one_weighted_bincount(
    rows: int, groups: int, shape: str, kind: str, seed: int
):
    # Counting rows of the overall block and passing masks to bincount as they are must give
    # the very floats the weighted bincount gave (the suppression compares them exactly).
    rng = np.random.default_rng(seed)
    if shape == "overall":
        block = GroupBlock("", np.zeros(rows, dtype=np.intp), ("",))
    elif shape == "one group with gaps":
        block = GroupBlock("v", rng.integers(-1, 1, rows).astype(np.intp), ("a",))
    else:
        codes = rng.integers(-1, groups, rows).astype(np.intp)
        block = GroupBlock("v", codes, tuple(str(i) for i in range(groups)))
    weights = {
        "rows": None,
        "mask": rng.random(rows) < rng.random(),
        "weights": rng.gamma(2.0, 1.7, rows),
        "integers": rng.integers(0, 3, rows),
    }[kind]
    found = block.sum(weights)
    assert found.dtype == np.float64
    np.testing.assert_array_equal(found, _summed_as_before(block, weights))
    if kind == "mask":
        masks = [weights, ~weights, weights & (rng.random(rows) < 0.5)]
        for mask, counts in zip(masks, block.count_masks(masks), strict=True):
            np.testing.assert_array_equal(counts, _summed_as_before(block, mask))
