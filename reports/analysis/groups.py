"""Disaggregation: turn grouping columns into integer group codes once, then sum with bincount.

Every estimator works on "blocks": the overall block (one group, labelled "") followed by one
block per grouping column. Each block gives every row a group number (-1 when the grouping
answer is missing), so one np.bincount per statistic replaces a Python loop over groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reports.analysis.errors import AnalysisError


@dataclass(frozen=True)
class GroupBlock:
    """One disaggregation: the grouping column ("" overall), row codes and group labels."""

    variable: str
    codes: NDArray[np.intp]
    labels: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of groups, including groups with no rows (unused categories)."""
        return len(self.labels)

    @cached_property
    def _shifted(self) -> NDArray[np.intp]:
        """Codes shifted by one, so the "no group" code -1 lands in bin 0 (then dropped)."""
        return self.codes + 1

    @cached_property
    def _whole(self) -> bool:
        """Whether every row is in the one group (the overall block): sums need no bincount."""
        return self.size == 1 and not np.any(self.codes)

    def sum(
        self, weights: NDArray[np.float64] | NDArray[np.bool_] | None = None
    ) -> NDArray[np.float64]:
        """Per-group sums of weights (row counts when None); rows without a group are skipped."""
        values = None if weights is None else np.asarray(weights)
        if values is not None and values.dtype != bool:
            values = values.astype(float, copy=False)
        elif self._whole:
            # Counting rows gives the very numbers summing ones would (exact below 2**53)
            counted = len(self.codes) if values is None else np.count_nonzero(values)
            return np.array([float(counted)])
        # Boolean weights go to bincount as they are: it reads them as 0.0 and 1.0 itself
        return np.bincount(self._shifted, weights=values, minlength=self.size + 1)[1:].astype(float)

    def count_masks(self, masks: Sequence[NDArray[np.bool_]]) -> list[NDArray[np.float64]]:
        """Per-group row counts of a few boolean masks (e.g. don't know, prefer not, missing).

        One unweighted bincount of the masks' combination per row instead of a weighted one per
        mask: the same counts, overlapping masks included, in about a third of the time.
        """
        if not masks:
            return []
        if self._whole:
            return [np.array([float(np.count_nonzero(mask))]) for mask in masks]
        if len(masks) > 4:
            return [self.sum(mask) for mask in masks]
        combination = np.zeros(len(self.codes), dtype=np.intp)
        for bit, mask in enumerate(masks):
            combination += np.asarray(mask, dtype=bool).astype(np.intp) << bit
        width = 1 << len(masks)
        cells = self._shifted * width + combination
        table = np.bincount(cells, minlength=(self.size + 1) * width).reshape(-1, width)[1:]
        combinations = np.arange(width)
        return [
            table[:, (combinations >> bit) & 1 == 1].sum(axis=1).astype(float)
            for bit in range(len(masks))
        ]


def normalise_by(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """Grouping columns as a tuple: None → (), "sex" → ("sex",)."""
    if by is None:
        return ()
    if isinstance(by, str):
        return (by,)
    names = tuple(by)
    if not all(isinstance(name, str) for name in names):
        raise AnalysisError("Disaggregations must be column names.")
    return names


def code_label(value: object) -> str:
    """A group or category value as text: 3.0 → "3", True → "True"."""
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return str(int(value))
    return str(value)


def group_codes(series: pd.Series) -> tuple[NDArray[np.intp], tuple[str, ...]]:
    """Row codes and labels: categories in their order (all of them), other values sorted."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.intp)
        return codes, tuple(code_label(value) for value in series.cat.categories)
    try:
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
    except TypeError:  # mixed types cannot be sorted: keep the order of first appearance
        codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    labels = tuple(code_label(value) for value in uniques)
    if len(set(labels)) != len(labels):
        # 1 and "1" would print alike; merge them so a label names one group
        merged = {label: index for index, label in reversed(list(enumerate(labels)))}
        order = sorted(set(labels), key=lambda label: merged[label])
        position = {label: index for index, label in enumerate(order)}
        remap = np.array([position[label] for label in labels] + [-1], dtype=np.intp)
        return remap[np.where(codes < 0, len(labels), codes)], tuple(order)
    return codes.astype(np.intp), labels


def answer_codes(series: pd.Series) -> tuple[NDArray[np.intp], tuple[str, ...]]:
    """Like group_codes, with empty-text answers coded -1 (missing) as well as NaN."""
    codes, labels = group_codes(series)
    if "" in labels:
        codes = np.where(codes == labels.index(""), -1, codes)
    return codes, labels


def label_mask(codes: NDArray[np.intp], labels: Sequence[str], wanted: str) -> NDArray[np.bool_]:
    """Rows whose answer label is wanted (e.g. "dnk"), from answer codes."""
    return codes == labels.index(wanted) if wanted in labels else np.zeros(len(codes), bool)


def group_blocks(df: pd.DataFrame, by: str | Sequence[str] | None) -> list[GroupBlock]:
    """The overall block followed by one block per grouping column."""
    blocks = [GroupBlock("", np.zeros(len(df), dtype=np.intp), ("",))]
    for name in normalise_by(by):
        if name not in df.columns:
            raise AnalysisError(f"Disaggregation column '{name}' is not in the data.")
        codes, labels = group_codes(df[name])
        blocks.append(GroupBlock(name, codes, labels))
    return blocks
